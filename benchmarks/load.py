"""Load benchmark: N simulated users on one server, each clicking through every workbench at once.

Run ``python benchmarks/load.py`` (``--users 20 --ramp 2,5,10,20,30,40``; ``--quick`` for a short smoke run;
about 12 minutes in full). It serves the app from ``run.py`` (token sign-in, a fresh workspace with one
finished training run) and drives users over Bokeh's websocket protocol (``benchmarks/_load_client.py``: what
a browser tab sends and receives, without a browser; the visit and what each click waits for are in
``benchmarks/_load_visit.py``):

    NWB tree + raster + trace zoom · Neuroglancer chat command · curation accept/next · training list

**A click's latency** is the time from writing the click's message to the websocket until the
server's patch that completes what the person waits for (e.g. a plot with the data read for the zoomed window)
has been read. Users think 1-5 s between clicks (``--think-s``; the pause of Locust's examples, ``between(1,
5)``) and arrive within 3 s of each other. Page loads (``GET`` + document + first content) are reported apart.

**Phases**, one server: a warm-up visit (builds the demo analyzer, about 30 s, the NWB index,
the Neuroglancer demo volume) and a burst of 5 concurrent visits without pauses (so bounded thread pools reach
their size), release, then the *baseline* of resources; the same visit by **one user alone** (the competing
approach here: the server unloaded, in the same run); then the **ramp** of concurrent users (each step waits
for the previous sessions to be released) until p95 passes 2 s, at least up to ``--users``.

- ``p50_ms``/``p95_ms``/``clicks``/``errors``: at ``--users`` users. An error is a click with no
  answer within ``--timeout-s``, a page showing an error, a lost connection or a failed load.
- ``rss_mb_per_session``: slope of the server's resident memory with every user's session open
  against the number of users, over the ramp's steps (one step: its growth over the users).
- ``leaked_threads``: the server's threads after every session of the run is closed and released,
  minus the baseline. The server starts its shared pools in full (``app/started_pools.py``), so any
  thread here outlived its session; a per-session leak grows step after step with the sessions (each
  ramp step's ``threads_at_start`` is read after the previous step's release).
- ``max_users_p95_under_2s``: the largest ramp step with p95 <= 2 s and no errors.

Floors on the 2-core development machine: 20 users, p95 <= 1.5 s, 0 errors, 0 leaked threads, with the server
as the README advises a lab to run it, one process per core (the default ``--num-procs``; ``--num-procs 1``
measures a single process, which Python runs on one core at a time). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tornado.httpclient import AsyncHTTPClient  # noqa: E402

from benchmarks._load_server import Server, Snapshot, start  # noqa: E402
from benchmarks._load_visit import Outcome, Visit, gather_visits  # noqa: E402

FLOORS = {"users": 20, "p95_ms": 1500, "errors": 0, "leaked_threads": 0}
P95_LIMIT_S = 2.0


@dataclass
class Step:
    """One round of ``users`` concurrent visits."""

    users: int
    outcomes: list[Outcome]
    wall_s: float
    rss_before_mb: float
    rss_open_mb: float
    server_cpu_s: float
    client_cpu_s: float
    threads_at_start: int = 0

    @property
    def latencies(self) -> list[float]:
        return [seconds for o in self.outcomes for _page, _click, seconds in o.clicks]

    @property
    def errors(self) -> list[tuple[str, str, str]]:
        return [error for o in self.outcomes for error in o.errors]

    def percentile_ms(self, q: float, values: list[float] | None = None) -> float | None:
        values = self.latencies if values is None else values
        return round(float(np.percentile(values, q)) * 1000, 1) if values else None

    def opens_ms(self, q: float) -> float | None:
        return self.percentile_ms(q, [s for o in self.outcomes for s in o.opens])

    def summary(self) -> dict:
        return {
            "users": self.users,
            "clicks": len(self.latencies),
            "p50_ms": self.percentile_ms(50),
            "p95_ms": self.percentile_ms(95),
            "max_ms": self.percentile_ms(100),
            "errors": len(self.errors),
            "open_p95_ms": self.opens_ms(95),
            "rss_open_mb": round(self.rss_open_mb, 1),
            "threads_at_start": self.threads_at_start,
            "server_cpu_s_per_visit": round(self.server_cpu_s / max(1, len(self.outcomes)), 2),
            "mb_sent_per_visit": round(
                sum(o.received_bytes for o in self.outcomes) / 2**20 / max(1, len(self.outcomes)), 2
            ),
            "server_cores_busy": round(self.server_cpu_s / self.wall_s, 2),
            "client_cores_busy": round(self.client_cpu_s / self.wall_s, 2),
        }

    def by_click(self) -> dict[tuple[str, str], list[float]]:
        found: dict[tuple[str, str], list[float]] = defaultdict(list)
        for outcome in self.outcomes:
            for page, click, seconds in outcome.clicks:
                found[(page, click)].append(seconds)
        return found


async def run_step(server: Server, users: int, args: argparse.Namespace, first_user: int = 0) -> Step:
    """``users`` visits at once; every tab stays open until all are done (so memory is read with all open)."""
    before = server.snapshot()
    client_cpu, started = time.process_time(), time.perf_counter()
    visits = [
        Visit(server.url, server.headers, first_user + i, args.timeout_s, args.think_s, args.seed)
        for i in range(users)
    ]
    outcomes = await gather_visits(visits, args.arrive_s)
    wall = time.perf_counter() - started
    open_ = server.snapshot()
    await asyncio.gather(*(visit.tab.close() for visit in visits))
    return Step(
        users,
        outcomes,
        wall,
        before.rss_mb,
        open_.rss_mb,
        open_.cpu_s - before.cpu_s,
        time.process_time() - client_cpu,
        before.threads,
    )


async def alone(server: Server, repeats: int, args: argparse.Namespace) -> Step:
    """The same visit by one user at a time (nobody else on the server), ``repeats`` times."""
    steps = [await run_step(server, 1, args, first_user=100 + i) for i in range(repeats)]
    return Step(
        1,
        [o for s in steps for o in s.outcomes],
        sum(s.wall_s for s in steps),
        steps[0].rss_before_mb,
        max(s.rss_open_mb for s in steps),
        sum(s.server_cpu_s for s in steps),
        sum(s.client_cpu_s for s in steps),
    )


def per_session_mb(steps: list[Step]) -> float | None:
    """Slope of the memory with every session open against the number of sessions (least squares)."""
    if not steps:
        return None
    if len({s.users for s in steps}) < 2:
        step = steps[0]
        return round((step.rss_open_mb - step.rss_before_mb) / step.users, 2)
    users = np.array([s.users for s in steps], dtype=float)
    rss = np.array([s.rss_open_mb for s in steps])
    return round(float(np.polyfit(users, rss, 1)[0]), 2)


def max_users_under(steps: list[Step], limit_s: float) -> int:
    """The largest step whose p95 is within ``limit_s`` and that had no errors (0: none)."""
    good = [
        s.users for s in steps if s.latencies and not s.errors and np.percentile(s.latencies, 95) <= limit_s
    ]
    return max(good, default=0)


def ramp_steps(ramp: list[int], users: int) -> list[int]:
    return sorted(set(ramp) | {users})


def _print_clicks(title: str, load: Step, base: Step) -> None:
    print(f"{title}: click (page/click): median and p95 ms under load | alone")
    alone_clicks = base.by_click()
    for key, values in sorted(load.by_click().items()):
        mine = alone_clicks.get(key, [])
        print(
            f"  {key[0]:>12}/{key[1]:<8} {np.median(values) * 1000:7.0f} "
            f"{np.percentile(values, 95) * 1000:7.0f} | "
            + (f"{np.median(mine) * 1000:6.0f} {np.percentile(mine, 95) * 1000:6.0f}" if mine else "  -")
        )


def _print_errors(step: Step, limit: int = 8) -> None:
    counted: dict[str, int] = defaultdict(int)
    for page, click, why in step.errors:
        counted[f"{page}/{click}: {why[:160]}"] += 1
    for text, count in sorted(counted.items(), key=lambda kv: -kv[1])[:limit]:
        print(f"    {count} x {text}")


async def benchmark(args: argparse.Namespace) -> dict:
    AsyncHTTPClient.configure(None, max_clients=1000)  # the default 10 would queue the users' page loads here
    print("serving a fresh workspace (and making a tiny training run to list)…", flush=True)
    server = start(*(["--num-procs", str(args.num_procs)] if args.num_procs > 1 else []))
    try:
        return await _measure(server, args)
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()


async def _measure(server: Server, args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    warm = await run_step(server, 1, argparse.Namespace(**{**vars(args), "timeout_s": 600}), first_user=900)
    print(
        f"warm-up visit: {len(warm.latencies)} clicks, {len(warm.errors)} errors, "
        f"{time.perf_counter() - started:.0f} s (builds the demo analyzer)",
        flush=True,
    )
    _print_errors(warm)
    burst = await run_step(
        server, args.burst, argparse.Namespace(**{**vars(args), "think_s": (0.0, 0.0)}), first_user=950
    )
    print(f"warm-up burst of {args.burst} users: {len(burst.errors)} errors", flush=True)
    _print_errors(burst)
    baseline: Snapshot = await server.released(None, args.release_s)
    print(
        f"baseline: {baseline.threads} threads, {baseline.rss_mb:.0f} MB, {baseline.children} child "
        "processes",
        flush=True,
    )

    base = await alone(server, args.alone_visits, args)
    print(
        f"one user alone, {args.alone_visits} visits: p50 {base.percentile_ms(50)} ms, p95 "
        f"{base.percentile_ms(95)} ms, "
        f"{len(base.errors)} errors",
        flush=True,
    )
    _print_errors(base)

    steps: list[Step] = []
    for users in ramp_steps(args.ramp, args.users):
        await server.released(baseline.threads, args.release_s)
        step = await run_step(server, users, args)
        steps.append(step)
        print(
            f"{users:3d} users: " + ", ".join(f"{k} {v}" for k, v in step.summary().items() if k != "users"),
            flush=True,
        )
        _print_errors(step)
        p95 = step.percentile_ms(95)
        if users >= args.users and (p95 is None or p95 > P95_LIMIT_S * 1000):
            break
    main = next(s for s in steps if s.users == args.users)
    _print_clicks(f"{main.users} users", main, base)

    after = await server.released(baseline.threads, args.release_s)
    leaked = max(0, after.threads - baseline.threads)
    print(
        f"after release: {after.threads} threads (baseline {baseline.threads}), {after.rss_mb:.0f} MB, "
        f"{after.children} child processes (baseline {baseline.children})"
    )
    problems = server.log_problems()
    if problems:
        print(f"server log: {len(problems)} error lines, e.g.:", *problems[:5], sep="\n  ")
    summary = main.summary()
    p95_alone = base.percentile_ms(95)
    result = {
        "users": main.users,
        "clicks": summary["clicks"],
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
        "errors": summary["errors"],
        "rss_mb_per_session": per_session_mb(steps),
        "leaked_threads": leaked,
        "max_users_p95_under_2s": max_users_under(steps, P95_LIMIT_S),
        "alone_p50_ms": base.percentile_ms(50),
        "alone_p95_ms": p95_alone,
        "p95_vs_alone": round(summary["p95_ms"] / p95_alone, 2) if summary["p95_ms"] and p95_alone else None,
        "open_p95_ms": summary["open_p95_ms"],
        "alone_open_p95_ms": base.opens_ms(95),
        "server_threads_before": baseline.threads,
        "server_threads_after": after.threads,
        "server_children_before": baseline.children,
        "server_children_after": after.children,
        "server_log_errors": len(problems),
        "think_s": list(args.think_s),
        "num_procs": args.num_procs,
        "ramp": [s.summary() for s in steps],
    }
    result["floors_met"] = (
        main.users >= FLOORS["users"]
        and result["p95_ms"] is not None
        and result["p95_ms"] <= FLOORS["p95_ms"]
        and result["errors"] <= FLOORS["errors"]
        and leaked <= FLOORS["leaked_threads"]
    )
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--users", type=int, default=20, help="concurrent users of the reported step (default 20)"
    )
    parser.add_argument(
        "--ramp",
        default="2,5,10,20,30,40",
        help="steps of concurrent users, until p95 passes 2 s (default 2,5,10,20,30,40)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run: 2 users, no ramp, one alone visit"
    )
    parser.add_argument(
        "--think-s",
        type=float,
        nargs=2,
        default=(1.0, 5.0),
        metavar=("MIN", "MAX"),
        help="pause before each click, uniform between MIN and MAX seconds (default 1 5)",
    )
    parser.add_argument(
        "--timeout-s", type=float, default=30, help="a click unanswered this long is an error"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--num-procs",
        type=int,
        default=os.cpu_count() or 1,
        help="server processes (run.py --num-procs; default one per core, as the README advises)",
    )
    args = parser.parse_args(argv)
    args.ramp = [int(n) for n in args.ramp.split(",") if n.strip()]
    args.arrive_s, args.burst, args.alone_visits, args.release_s = 3.0, 5, 2, 90.0
    if args.quick:
        args.users, args.ramp, args.burst, args.alone_visits, args.release_s = (
            min(args.users, 2),
            [],
            2,
            1,
            45.0,
        )
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(benchmark(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
