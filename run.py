"""Entry point: serve Neurodeck with ``pn.serve`` (works the same in a frozen build).

    python run.py --port 5006 --address 127.0.0.1 --no-show --workspace DIR \
        --allow-websocket-origin HOST[:PORT] --allow-private-urls --num-threads N --num-procs N \
        [--workers N | --dask tcp://scheduler:8786]
    python run.py worker --workspace DIR        # a job worker (every engine's kinds) on any machine that sees DIR
    python run.py queue --source URL|FOLDER|FILE_OF_URLS|DANDISET_ID --workspace DIR
    python run.py curate --analyzer DIR --out DIR [--judge metrics|vlm] [--preset NAME] [--workers N]
    python run.py train --config FILE [--resume RUN_DIR] | --data NWB --steps N --out RUN_DIR
    python run.py evaluate RUN_DIR
    python run.py --prefix /neurodeck --use-xheaders   # behind a reverse proxy, under a path
    python run.py passwd USER                       # add a user for --auth password
"""

from __future__ import annotations

import argparse
import getpass
import json
import multiprocessing
import sys
from dataclasses import replace
from pathlib import Path

from app.auth import AUTH_MODES
from app.settings import LIMITS, Settings, normalize_prefix


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurodeck", description="Serve the Neurodeck workbenches.", allow_abbrev=False
    )  # --jupyter-token must not pass as --jupyter-token-file
    parser.add_argument("--port", type=int, help="port to listen on (default 5006)")
    parser.add_argument("--address", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--no-show", action="store_true", help="do not open a browser")
    parser.add_argument(
        "--workspace", type=Path, help="folder for caches, indexes and stores (default ~/.neurodeck)"
    )
    parser.add_argument(
        "--root",
        type=Path,
        action="append",
        default=[],
        help="folder whose files may be opened by path (repeatable; default: workspace and cwd)",
    )
    parser.add_argument(
        "--allow-websocket-origin",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="origin allowed to connect, e.g. the site embedding the app (repeatable)",
    )
    parser.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="let server-side fetches reach private and loopback addresses",
    )
    parser.add_argument("--num-threads", type=int, help="threads that run page callbacks (default 4)")
    parser.add_argument(
        "--num-procs",
        type=int,
        help="server processes sharing the port and the workspace (default 1; 0: one per CPU)",
    )
    parser.add_argument(
        "--max-viewers", type=int, help="Neuroglancer viewers open at once per server process (default 200)"
    )
    parser.add_argument(
        "--default-source", help="file or URL the NWB page opens first (default: bundled demo)"
    )
    parser.add_argument("--workers", type=int, help="in-process job workers (default 2)")
    parser.add_argument("--dask", metavar="ADDRESS", help="submit jobs to this Dask scheduler instead")
    parser.add_argument("--prefix", help="serve under this path behind a reverse proxy, e.g. /neurodeck")
    parser.add_argument(
        "--use-xheaders",
        action="store_true",
        help="trust the reverse proxy's X-Forwarded-* headers (client address, scheme)",
    )
    parser.add_argument(
        "--auth",
        choices=AUTH_MODES,
        help="sign-in: token (default; a random token in the workspace, printed at start), password "
        "(a hashed password file: run.py passwd USER), oauth (Panel's providers), or none "
        "(no sign-in: one local user only)",
    )
    parser.add_argument(
        "--password-file", type=Path, help="users and hashed passwords (default <workspace>/auth/passwords)"
    )
    parser.add_argument(
        "--oauth-provider", help="OAuth provider as panel serve names it: github, google, generic, ..."
    )
    parser.add_argument("--oauth-key", help="OAuth client id")
    parser.add_argument(
        "--oauth-secret", help="OAuth client secret (PANEL_OAUTH_SECRET keeps it out of `ps`)"
    )
    parser.add_argument("--oauth-extra-params", help="JSON of extra provider settings (e.g. the OIDC URLs)")
    parser.add_argument(
        "--cookie-secret", help="secret that signs the sign-in cookie (default: kept in the workspace)"
    )
    parser.add_argument(
        "--admin",
        action="append",
        default=[],
        metavar="USER",
        help="a user who may stop or cancel anyone's runs and jobs (repeatable)",
    )
    parser.add_argument(
        "--code-users",
        action="append",
        default=[],
        metavar="USER",
        help="a user allowed to run approved assistant code (repeatable; admins named by --admin may)",
    )
    parser.add_argument(
        "--no-code", action="store_true", help="turn approved assistant code off for everyone"
    )
    parser.add_argument(
        "--kernel-env",
        action="append",
        default=[],
        metavar="NAME",
        help="an environment variable the code kernel may inherit (it starts with secrets scrubbed)",
    )
    parser.add_argument("--jupyter-url", help="run approved code on this Jupyter server")
    parser.add_argument(
        "--jupyter-token-file",
        type=Path,
        help="file holding the Jupyter server's token (or NEURODECK_JUPYTER_TOKEN; never on the command line)",
    )
    parser.add_argument(
        "--trust-pickles",
        action="store_true",
        help="open analyzers whose files can only be read by unpickling (runs code from those files)",
    )
    parser.add_argument(
        "--viewer-credentials",
        action="store_true",
        help="let the Neuroglancer viewer use the server's data-source credentials for browsers",
    )
    defaults = Settings()
    for name in LIMITS:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=type(getattr(defaults, name)),
            metavar="N",
            help=f"limit (default {getattr(defaults, name)}; see the README's Security model)",
        )
    return parser


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


def settings_from_args(argv: list[str] | None = None) -> Settings:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    updates: dict = {}
    for name in (
        "port",
        "address",
        "workspace",
        "num_threads",
        "num_procs",
        "max_viewers",
        "default_source",
        "workers",
        "auth",
        "password_file",
        "oauth_provider",
        "oauth_key",
        "oauth_secret",
        "cookie_secret",
        *LIMITS,
    ):
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
    if args.oauth_extra_params:
        updates["oauth_extra_params"] = json.loads(args.oauth_extra_params)
    for flag, name in (("admin", "admins"), ("code_users", "code_users"), ("kernel_env", "kernel_env_allow")):
        if getattr(args, flag):
            updates[name] = (*getattr(settings, name), *getattr(args, flag))
    if args.no_code:
        updates["allow_code"] = False
    if args.jupyter_url:
        updates["jupyter_url"] = args.jupyter_url
    if args.jupyter_token_file:
        updates["jupyter_token"] = args.jupyter_token_file.expanduser().read_text().strip()
    if args.trust_pickles:
        updates["trust_pickles"] = True
    if args.viewer_credentials:
        updates["viewer_credentials"] = True
    if args.allow_websocket_origin:
        updates["websocket_origins"] = tuple(args.allow_websocket_origin)
    return replace(settings, **updates)


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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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


def run_passwd(argv: list[str]) -> int:
    """``run.py passwd USER [--workspace DIR | --password-file FILE]``: add or change a user for ``--auth password``
    (the password is asked for, never taken from the command line; the file keeps only its scrypt hash)."""
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


SUBCOMMANDS = {
    "passwd": run_passwd,
    "worker": run_worker,
    "queue": run_queue,
    "curate": run_curate,
    "train": run_train,
    "evaluate": run_evaluate,
}
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
