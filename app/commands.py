"""The headless sub-commands of ``neurodeck`` / ``python run.py``: workers, the job queue, batch
curation, training, evaluation and password files.

Each takes the arguments after its name and returns an exit code (or None). Heavy engines are
imported inside the command that needs them, so ``--help`` and the server start stay fast.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from app.settings import Settings

__all__ = ["SUBCOMMANDS", "SubCommand"]


def build_worker_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurodeck worker", description="Run job workers on a workspace.")
    parser.add_argument("--workspace", type=Path, help="the shared workspace folder")
    parser.add_argument("--workers", type=int, default=1, help="worker threads in this process")
    parser.add_argument(
        "--root", type=Path, action="append", default=[], help="folders files may be read from"
    )
    parser.add_argument("--allow-private-urls", action="store_true")
    parser.add_argument(
        "--trust-pickles",
        action="store_true",
        help="let jobs open analyzer files that only unpickling can read",
    )
    return parser


def build_queue_parser() -> argparse.ArgumentParser:
    parser = build_worker_parser()
    parser.prog, parser.description = (
        "neurodeck queue",
        "Enqueue every product job the NWB files of a source need.",
    )
    parser.add_argument("--source", required=True, help="URL, folder, file of URLs, or a 6-digit dandiset id")
    return parser


def _job_settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    updates: dict = {
        "allow_private_urls": settings.allow_private_urls or args.allow_private_urls,
        "trust_pickles": settings.trust_pickles or args.trust_pickles,
    }
    if args.workspace:
        updates["workspace"] = args.workspace.expanduser()
    if args.root:
        updates["roots"] = tuple(p.expanduser() for p in args.root)
    return replace(settings, **updates)


def run_worker(argv: list[str]) -> None:
    """``run.py worker``: claim and run jobs from the workspace until stopped (SIGTERM/Ctrl-C)."""
    import logging

    from app.context import keep_workspace_private
    from engines.jobs import all_job_kinds, run_worker_process

    args = build_worker_parser().parse_args(argv)
    settings = _job_settings(args)
    keep_workspace_private(settings.workspace)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )  # whatever an import configured
    run_worker_process(settings.workspace, all_job_kinds(settings.job_environment()), n_workers=args.workers)


def run_queue(argv: list[str]) -> int:
    """``run.py queue``: open every NWB file of a source and enqueue the jobs it needs (done ones skipped)."""
    from app.context import keep_workspace_private
    from engines.errors import NeurodeckError
    from engines.jobs import JobStore, all_job_kinds
    from engines.nwb.index_store import IndexStore
    from engines.nwb.nwbfile import open_nwb
    from engines.nwb.product_jobs import expand_sources, plan_product_jobs

    args = build_queue_parser().parse_args(argv)
    settings = _job_settings(args)
    keep_workspace_private(settings.workspace)
    policy = settings.source_policy()
    store, kinds, index_store = (
        JobStore(settings.workspace),
        all_job_kinds(settings.job_environment()),
        IndexStore(settings.workspace),
    )
    try:
        sources = expand_sources(args.source, policy)
    except NeurodeckError as exc:
        print(f"cannot list {args.source}: {exc}", file=sys.stderr)
        return 1
    queued = skipped = failed = 0
    for source in sources:
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
    """``curate --analyzer DIR --out DIR [--judge metrics|vlm] [--preset NAME] [--workers N]``:
    headless batch curation on a cluster node, the same engine calls the Curation page makes."""
    from engines.curation.batch import main as curate_main

    return curate_main(argv)


def run_train(argv: list[str]) -> int:
    """``train --config FILE [--resume RUN_DIR]`` or ``--data NWB ... --steps N --out RUN_DIR``; also
    under ``torchrun --nproc_per_node=N run.py train ...`` (rank 0 logs and checkpoints)."""
    from engines.training.cli import main_train

    return main_train(argv)


def run_evaluate(argv: list[str]) -> int:
    """``evaluate RUN_DIR``: held-out decoding R² per modality, co-bps, ridge and CEBRA baselines."""
    from engines.training.cli import main_evaluate

    return main_evaluate(argv)


def run_passwd(argv: list[str]) -> int:
    """``passwd USER [--workspace DIR | --password-file FILE]``: add or change a user for ``--auth
    password`` (the password is asked for, never taken from the command line; the file keeps only
    its scrypt hash)."""
    from app.auth import add_password

    parser = argparse.ArgumentParser(prog="neurodeck passwd", description="Add a user for --auth password.")
    parser.add_argument("user")
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--password-file", type=Path)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    workspace = args.workspace.expanduser() if args.workspace else settings.workspace
    path = args.password_file or settings.password_file or workspace / "auth" / "passwords"
    password = getpass.getpass(f"Password for {args.user}: ")
    if not password or password != getpass.getpass("Again: "):
        print("The passwords were empty or did not match; nothing changed.", file=sys.stderr)
        return 1
    add_password(path, args.user, password)
    print(f"{args.user} can sign in (password file {path}); start the server with --auth password.")
    return 0


@dataclass(frozen=True)
class SubCommand:
    """A sub-command: what ``--help`` says of it in one line, and the function that runs it."""

    summary: str
    run: Callable[[list[str]], int | None]


SUBCOMMANDS: dict[str, SubCommand] = {
    "worker": SubCommand("run job workers on a workspace (any machine that sees it)", run_worker),
    "queue": SubCommand("enqueue the product jobs every NWB file of a source needs", run_queue),
    "curate": SubCommand("headless batch curation of a SpikeInterface analyzer", run_curate),
    "train": SubCommand("train the multimodal model (also under torchrun)", run_train),
    "evaluate": SubCommand("held-out decoding R², co-bps and baselines for a run", run_evaluate),
    "passwd": SubCommand("add or change a user for --auth password", run_passwd),
}
"""``neurodeck <name> ...``, in the order ``--help`` lists them."""
