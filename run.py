"""Entry point: serve Neurodeck with ``pn.serve`` (works the same in a frozen build).

    python run.py --port 5006 --address 127.0.0.1 --no-show --workspace DIR \
        --allow-websocket-origin HOST[:PORT] --allow-private-urls --num-threads N \
        [--workers N | --dask tcp://scheduler:8786]
    python run.py worker --workspace DIR        # a job worker (every engine's kinds) on any machine that sees DIR
    python run.py queue --source URL|FOLDER|FILE_OF_URLS|DANDISET_ID --workspace DIR
    python run.py curate --analyzer DIR --out DIR [--judge metrics|vlm] [--preset NAME] [--workers N]
    python run.py train --config FILE [--resume RUN_DIR] | --data NWB --steps N --out RUN_DIR
    python run.py evaluate RUN_DIR
    python run.py --prefix /neurodeck --use-xheaders   # behind a reverse proxy, under a path
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from dataclasses import replace
from pathlib import Path

from app.settings import Settings, normalize_prefix


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurodeck", description="Serve the Neurodeck workbenches.")
    parser.add_argument("--port", type=int, help="port to listen on (default 5006)")
    parser.add_argument("--address", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--no-show", action="store_true", help="do not open a browser")
    parser.add_argument("--workspace", type=Path, help="folder for caches, indexes and stores (default ~/.neurodeck)")
    parser.add_argument("--root", type=Path, action="append", default=[],
                        help="folder whose files may be opened by path (repeatable; default: workspace and cwd)")
    parser.add_argument("--allow-websocket-origin", action="append", default=[], metavar="HOST[:PORT]",
                        help="origin allowed to connect, e.g. the site embedding the app (repeatable)")
    parser.add_argument("--allow-private-urls", action="store_true",
                        help="let server-side fetches reach private and loopback addresses")
    parser.add_argument("--num-threads", type=int, help="threads that run page callbacks (default 4)")
    parser.add_argument("--default-source", help="file or URL the NWB page opens first (default: bundled demo)")
    parser.add_argument("--workers", type=int, help="in-process job workers (default 2)")
    parser.add_argument("--dask", metavar="ADDRESS", help="submit jobs to this Dask scheduler instead")
    parser.add_argument("--prefix", help="serve under this path behind a reverse proxy, e.g. /neurodeck")
    parser.add_argument("--use-xheaders", action="store_true",
                        help="trust the reverse proxy's X-Forwarded-* headers (client address, scheme)")
    parser.add_argument("--allow-code", action="store_true",
                        help="let the NWB assistant run approved code even when the server is reachable by others")
    parser.add_argument("--jupyter-url", help="run approved code on this Jupyter server (with --jupyter-token)")
    parser.add_argument("--jupyter-token", help="token of the Jupyter server")
    return parser


def build_worker_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurodeck worker", description="Run job workers on a workspace.")
    parser.add_argument("--workspace", type=Path, help="the shared workspace folder")
    parser.add_argument("--workers", type=int, default=1, help="worker threads in this process")
    parser.add_argument("--root", type=Path, action="append", default=[], help="folders files may be read from")
    parser.add_argument("--allow-private-urls", action="store_true")
    return parser


def build_queue_parser() -> argparse.ArgumentParser:
    parser = build_worker_parser()
    parser.prog, parser.description = "neurodeck queue", "Enqueue every product job the NWB files of a source need."
    parser.add_argument("--source", required=True, help="URL, folder, file of URLs, or a 6-digit dandiset id")
    return parser


def settings_from_args(argv: list[str] | None = None) -> Settings:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    updates: dict = {}
    for name in ("port", "address", "workspace", "num_threads", "default_source", "workers"):
        value = getattr(args, name)
        if value is not None:
            updates[name] = value.expanduser() if isinstance(value, Path) else value
    if args.root:
        updates["roots"] = tuple(p.expanduser() for p in args.root)
    if args.allow_private_urls:
        updates["allow_private_urls"] = True
    if args.dask:
        updates["dask_address"] = args.dask
    if args.no_show:
        updates["show"] = False
    if args.prefix is not None:
        updates["prefix"] = normalize_prefix(args.prefix)
    if args.use_xheaders:
        updates["use_xheaders"] = True
    if args.allow_code:
        updates["allow_code"] = True
    if args.jupyter_url:
        updates["jupyter_url"], updates["jupyter_token"] = args.jupyter_url, args.jupyter_token
    if args.allow_websocket_origin:
        updates["websocket_origins"] = tuple(args.allow_websocket_origin)
    return replace(settings, **updates)


def _job_settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    updates: dict = {"allow_private_urls": settings.allow_private_urls or args.allow_private_urls}
    if args.workspace:
        updates["workspace"] = args.workspace.expanduser()
    if args.root:
        updates["roots"] = tuple(p.expanduser() for p in args.root)
    return replace(settings, **updates)


def run_worker(argv: list[str]) -> None:
    """``run.py worker``: claim and run jobs from the workspace until stopped (SIGTERM/Ctrl-C)."""
    import logging

    from engines.jobs import all_job_kinds, run_worker_process

    args = build_worker_parser().parse_args(argv)
    settings = _job_settings(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_worker_process(settings.workspace, all_job_kinds(settings.job_environment()), n_workers=args.workers)


def run_queue(argv: list[str]) -> int:
    """``run.py queue``: open every NWB file of a source and enqueue the jobs it needs (done ones skipped)."""
    from engines.errors import NeurodeckError
    from engines.jobs import JobStore, all_job_kinds
    from engines.nwb.index_store import IndexStore
    from engines.nwb.nwbfile import open_nwb
    from engines.nwb.product_jobs import expand_sources, plan_product_jobs

    args = build_queue_parser().parse_args(argv)
    settings = _job_settings(args)
    policy = settings.source_policy()
    store, kinds, index_store = JobStore(settings.workspace), all_job_kinds(settings.job_environment()), IndexStore(settings.workspace)
    queued = skipped = failed = 0
    for source in expand_sources(args.source, policy):
        try:
            nwb = open_nwb(source, policy, index_store)
        except NeurodeckError as exc:
            print(f"skipped {source}: {exc}", file=sys.stderr)
            failed += 1
            continue
        for kind, inputs in plan_product_jobs(nwb):
            version = kinds.get(kind).code_version
            if store.is_done(kind, inputs, version):
                skipped += 1
                continue
            store.submit(kind, inputs, version)
            queued += 1
        nwb.close()
    print(f"{queued} job(s) queued, {skipped} already done, {failed} source(s) could not be opened")
    return 1 if failed and not queued else 0


def run_curate(argv: list[str]) -> int:
    """``run.py curate --analyzer DIR --out DIR [--judge metrics|vlm] [--preset NAME] [--workers N]``: headless
    batch curation on a cluster node, the same engine calls the Curation page makes."""
    from engines.curation.batch import main as curate_main

    return curate_main(argv)


def run_train(argv: list[str]) -> int:
    """``run.py train --config FILE [--resume RUN_DIR]`` or ``--data NWB ... --steps N --out RUN_DIR``; also under
    ``torchrun --nproc_per_node=N run.py train ...`` (rank 0 logs and checkpoints)."""
    from engines.training.cli import main_train

    return main_train(argv)


def run_evaluate(argv: list[str]) -> int:
    """``run.py evaluate RUN_DIR``: held-out decoding R² per modality, co-bps, and the ridge and CEBRA baselines."""
    from engines.training.cli import main_evaluate

    return main_evaluate(argv)


SUBCOMMANDS = {"worker": run_worker, "queue": run_queue, "curate": run_curate, "train": run_train,
               "evaluate": run_evaluate}
"""``run.py <name> ...``: each takes the remaining arguments and returns an exit code (or None)."""


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:
        raise SystemExit(SUBCOMMANDS[argv[0]](argv[1:]) or 0)
    settings = settings_from_args(argv)
    from app.main import serve

    serve(settings)


if __name__ == "__main__":
    multiprocessing.freeze_support()  # child processes of a frozen build (cancellable jobs) start here
    main()
