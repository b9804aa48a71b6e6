"""The ``neurodeck`` command line: serve the workbenches, or run one of the sub-commands.

``python run.py [FLAGS]`` and, after ``pip install``, ``neurodeck [FLAGS]`` serve the app;
``neurodeck <sub-command> ...`` runs a headless task (the list is in ``--help`` and in
``app/commands.py``). The parser lives in ``app/`` so that the installed script and ``run.py``
(the PyInstaller entry point) are the same code.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from app.auth import AUTH_MODES
from app.commands import SUBCOMMANDS
from app.settings import LIMITS, Settings, normalize_prefix

__all__ = ["build_parser", "settings_from_args", "main"]


def _sub_command_list() -> str:
    width = max(map(len, SUBCOMMANDS))
    rows = [f"  {name:<{width}}  {command.summary}" for name, command in SUBCOMMANDS.items()]
    return "sub-commands (neurodeck <name> --help for their flags):\n" + "\n".join(rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurodeck",
        description="Serve the Neurodeck workbenches.",
        epilog=_sub_command_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )  # --jupyter-token must not pass as --jupyter-token-file
    _add_serving_flags(parser.add_argument_group("serving"))
    _add_permission_flags(parser.add_argument_group("sign-in and permissions"))
    _add_limit_flags(parser.add_argument_group("limits (see the README's Security model)"))
    return parser


def _add_serving_flags(parser: argparse._ArgumentGroup) -> None:
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
        "--session-lifetime",
        type=float,
        metavar="SECONDS",
        dest="session_lifetime_s",
        help="how long a closed tab's session is kept before its memory is released (default 15)",
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


def _add_permission_flags(parser: argparse._ArgumentGroup) -> None:
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
    _add_code_flags(parser)
    _add_unitrefine_flags(parser)


def _add_code_flags(parser: argparse._ArgumentGroup) -> None:
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
        help=(
            "file holding the Jupyter server's token (or NEURODECK_JUPYTER_TOKEN; never on the command line)"
        ),
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


def _add_unitrefine_flags(parser: argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--unitrefine-models",
        type=Path,
        metavar="DIR",
        help="folder of UnitRefine model folders (under a --root or the workspace) the curation page offers",
    )
    parser.add_argument(
        "--unitrefine-trust-type",
        action="append",
        default=[],
        metavar="NAME",
        help="a type UnitRefine models may hold beyond the built-in list (loading it can run code; "
        "repeatable)",
    )


def _add_limit_flags(parser: argparse._ArgumentGroup) -> None:
    defaults = Settings()
    for name in LIMITS:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=type(getattr(defaults, name)),
            metavar="N",
            help=f"default {getattr(defaults, name)}",
        )


def settings_from_args(argv: list[str] | None = None) -> Settings:
    """The server's settings: the environment's, then the flags in ``argv`` over them."""
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
        "session_lifetime_s",
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
    updates.update(_unitrefine_updates(args, settings))
    if args.allow_websocket_origin:
        updates["websocket_origins"] = tuple(args.allow_websocket_origin)
    return replace(settings, **updates)


def _unitrefine_updates(args: argparse.Namespace, settings: Settings) -> dict:
    """The UnitRefine models folder and extra trusted types the flags set (added to the environment's)."""
    updates: dict = {}
    if args.unitrefine_models:
        updates["unitrefine_models"] = args.unitrefine_models.expanduser()
    if args.unitrefine_trust_type:
        updates["unitrefine_trusted_types"] = (
            *settings.unitrefine_trusted_types,
            *args.unitrefine_trust_type,
        )
    return updates


def main(argv: list[str] | None = None) -> None:
    """Run the sub-command ``argv`` names, or serve the app with the settings its flags give."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:
        raise SystemExit(SUBCOMMANDS[argv[0]].run(argv[1:]) or 0)
    settings = settings_from_args(argv)
    from app.main import serve

    serve(settings)
