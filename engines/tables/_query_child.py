"""Child-process body of ``limits.collect_isolated``: ``python _query_child.py PLAN RESULT``.

Reads a serialized Polars plan, runs it with the streaming engine and writes the rows as Arrow
IPC; a Polars error is written to stderr as one line and exits with status 1. Runs as a plain
script (not ``-m``) so it imports Polars alone, not the server's packages.
"""

import sys

import polars as pl


def main(plan_path: str, result_path: str) -> int:
    try:
        with open(plan_path, "rb") as handle:
            plan = pl.LazyFrame.deserialize(handle)
        plan.collect(engine="streaming").write_ipc(result_path)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
