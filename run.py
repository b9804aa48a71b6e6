"""Entry point: serve Neurodeck with ``pn.serve`` (works the same in a frozen build).

    python run.py --port 5006 --address 127.0.0.1 --no-show --workspace DIR \
        --allow-websocket-origin HOST[:PORT] --allow-private-urls --num-threads N
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from app.settings import Settings


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
    return parser


def settings_from_args(argv: list[str] | None = None) -> Settings:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    updates: dict = {}
    for name in ("port", "address", "workspace", "num_threads", "default_source"):
        value = getattr(args, name)
        if value is not None:
            updates[name] = value.expanduser() if isinstance(value, Path) else value
    if args.root:
        updates["roots"] = tuple(p.expanduser() for p in args.root)
    if args.allow_private_urls:
        updates["allow_private_urls"] = True
    if args.no_show:
        updates["show"] = False
    if args.allow_websocket_origin:
        updates["websocket_origins"] = tuple(args.allow_websocket_origin)
    return replace(settings, **updates)


def main(argv: list[str] | None = None) -> None:
    settings = settings_from_args(argv)
    from app.main import serve

    serve(settings)


if __name__ == "__main__":
    main(sys.argv[1:])
