"""Headless training and evaluation: what ``python run.py train`` / ``python run.py evaluate`` call.

    train --config FILE [--out RUN_DIR]               a new run from a YAML/JSON config
    train --data NWB_PATH_OR_URL [--data ...] --steps N --out RUN_DIR [--model-size small]
    train --resume RUN_DIR [--checkpoint step_00000200.pt]   continue (or start) a run folder
    evaluate RUN_DIR [--checkpoint STEP] [--cebra-iterations N] [--no-baselines] [--quiet]

The same entry point runs under ``torchrun --nproc_per_node=N`` (then ``--out`` or
``--resume`` is required so every rank finds the same folder); rank 0 prepares the data,
logs and checkpoints. ``python -m engines.training.cli train|evaluate ...`` works too.

``evaluate`` draws a progress bar on stderr (redrawn in place on a terminal, a line per change
otherwise) and prints the result as JSON on stdout, so ``> result.json`` still captures just
the result.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import TextIO

from engines.errors import NeurodeckError
from engines.io.policy import SourcePolicy
from engines.training.config import (
    MODALITIES,
    MODEL_SIZES,
    TrainingConfig,
    build_config,
    load_config,
    parse_config,
)
from engines.training.errors import ConfigError, RunNotFound
from engines.training.runs import RunFolder, RunRegistry, write_json_atomic

__all__ = [
    "main_train",
    "main_evaluate",
    "main",
    "build_train_parser",
    "build_evaluate_parser",
    "ProgressBar",
]

DEFAULT_WORKSPACE = Path("~/.neurodeck")


def build_train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurodeck train", description="Train the multimodal model headlessly."
    )
    parser.add_argument("--config", type=Path, help="YAML or JSON training config")
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="NWB_PATH_OR_URL",
        help="NWB file to convert and train on (repeatable); used when no --config is given",
    )
    parser.add_argument("--steps", type=int, help="training steps (with --data; overrides the config's)")
    parser.add_argument(
        "--out", type=Path, help="run folder to create (default: a new folder in the workspace)"
    )
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run folder")
    parser.add_argument(
        "--checkpoint", help="with --resume: the checkpoint file name or step (default newest)"
    )
    parser.add_argument("--model-size", choices=list(MODEL_SIZES), default="small")
    parser.add_argument("--modalities", help=f"comma-separated subset of {','.join(MODALITIES)}")
    parser.add_argument("--bin-s", type=float, default=0.02, help="bin width in seconds for NWB conversion")
    parser.add_argument(
        "--workspace", type=Path, default=DEFAULT_WORKSPACE, help="caches and the default run folder"
    )
    parser.add_argument(
        "--root", type=Path, action="append", default=[], help="folder local files may be read from"
    )
    parser.add_argument(
        "--allow-private-urls", action="store_true", help="let URLs reach private/loopback hosts"
    )
    return parser


def build_evaluate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurodeck evaluate", description="Score a run on its held-out data."
    )
    parser.add_argument("run_dir", type=Path, help="the run folder")
    parser.add_argument("--checkpoint", type=int, help="checkpoint step (default newest)")
    parser.add_argument(
        "--cebra-iterations",
        type=int,
        help="CEBRA training steps (default: scaled to the data so the fit takes about 20 s); 0 skips CEBRA",
    )
    parser.add_argument("--no-baselines", action="store_true", help="skip the ridge and CEBRA baselines")
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    return parser


class ProgressBar:
    """A text progress bar for ``progress(fraction, message)`` callbacks: redrawn in place on a terminal;
    elsewhere (a log, a pipe) a new line only when the message (its numbers aside) or the 5% mark
    changes, so a log stays short."""

    WIDTH = 30

    def __init__(self, stream: TextIO, title: str) -> None:
        self.stream, self.title = stream, title
        self.started = time.perf_counter()
        self.live = stream.isatty()
        self._last: tuple[int, str] | None = None

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(1.0, max(0.0, fraction))
        key = (int(fraction * 20), re.sub(r"\d+", "#", message))  # "iteration 5 of 90" is one kind
        if key == self._last and not self.live:
            return
        self._last = key
        filled = round(fraction * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        line = f"{self.title} [{bar}] {fraction:4.0%} {time.perf_counter() - self.started:5.1f}s {message}"
        self.stream.write(f"\r{line[:120]:<120}" if self.live else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()


def _policy(args: argparse.Namespace, extra_roots: list[Path]) -> SourcePolicy:
    workspace = args.workspace.expanduser().resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    roots = {Path.cwd().resolve(), workspace, *(r.expanduser().resolve() for r in args.root), *extra_roots}
    return SourcePolicy(
        workspace=workspace, allowed_roots=tuple(sorted(roots)), allow_private_urls=args.allow_private_urls
    )


def _config_from_args(args: argparse.Namespace) -> TrainingConfig:
    if args.config is not None:
        config = load_config(args.config)
        if args.steps is not None:
            config = parse_config(
                {**config.to_dict(), "training": {**config.to_dict()["training"], "steps": args.steps}}
            )
        return config
    if not args.data:
        raise ConfigError(
            "Give --config FILE, or --data NWB_PATH_OR_URL with --steps N, or --resume RUN_DIR."
        )
    modalities = args.modalities.split(",") if args.modalities else None
    return build_config(
        [{"kind": "nwb", "path": str(d)} for d in args.data],
        modalities=modalities,
        model_size=args.model_size,
        steps=args.steps or 1000,
        data={"bin_s": args.bin_s},
    )


def _local_parents(args: argparse.Namespace, config: TrainingConfig | None) -> list[Path]:
    paths = [Path(d) for d in args.data if "://" not in d]
    if args.config is not None:
        paths.append(args.config)
    if config is not None:
        paths += [Path(s.path) for s in config.data.sources if hasattr(s, "path") and "://" not in s.path]
    return [p.expanduser().resolve().parent for p in paths]


def _folder(args: argparse.Namespace, config: TrainingConfig | None, dist) -> RunFolder:
    if args.resume is not None:
        folder = RunFolder(args.resume.expanduser().resolve())
        if not folder.exists():
            raise RunNotFound(f"{args.resume} is not a run folder (no config.json). Check the path.")
        return folder
    if args.out is None and dist.active:
        raise ConfigError("Under torchrun, give --out RUN_DIR so every process uses the same run folder.")
    if args.out is None:
        return RunRegistry(args.workspace.expanduser()).new_run(config.name if config else None)
    folder = RunFolder(args.out.expanduser().resolve())
    if folder.exists() and dist.is_main:
        raise ConfigError(f"{args.out} already holds a run; use --resume {args.out} to continue it.")
    return folder


def _checkpoint(folder: RunFolder, name: str | None) -> Path | None:
    checkpoints = folder.checkpoints()
    if name is None:
        return checkpoints[-1].path if checkpoints else None
    for c in checkpoints:
        if name in (c.path.name, str(c.step)):
            return c.path
    raise RunNotFound(
        f"Run {folder.run_id} has no checkpoint {name!r}; it has "
        f"{', '.join(c.path.name for c in checkpoints) or 'none'}."
    )


def main_train(argv: list[str] | None = None) -> int:
    """Train (or continue) one run; prints the final status as JSON. Exit code 0 unless the run failed."""
    from engines.training.data.sources import load_run_data, prepare_run_data
    from engines.training.data.windows import WindowDataset
    from engines.training.trainer.distributed import init_distributed, shutdown_distributed
    from engines.training.trainer.loop import Trainer

    args = build_train_parser().parse_args(argv)
    dist = None
    try:
        config = (
            None
            if args.resume is not None and args.config is None and not args.data
            else _config_from_args(args)
        )
        dist = init_distributed(config.training.device if config else "auto")
        folder = _folder(args, config, dist)
        if dist.is_main and config is not None:
            folder.path.mkdir(parents=True, exist_ok=True)
            write_json_atomic(
                folder.config_path, config.to_dict()
            )  # a server listing runs never reads half of it
        dist.barrier()
        config = parse_config(folder.config())
        policy = _policy(args, _local_parents(args, config))
        if dist.is_main and not (folder.data_dir / "manifest.json").exists():
            prepare_run_data(folder, config.data, policy)
        dist.barrier()
        if dist.is_main:
            folder.update_status(launched=time.time())
        dataset = WindowDataset(load_run_data(folder), config.data, config.training.seed)
        resume_from = _checkpoint(folder, args.checkpoint) if args.resume is not None else None
        mode = "torchrun" if dist.active else "cli"
        result = Trainer(config, folder, dataset, resume_from=resume_from, mode=mode, dist=dist).run()
    except NeurodeckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if dist is not None:
            shutdown_distributed(dist)
    if dist.is_main:
        print(json.dumps({"run_dir": str(folder.path), **result}))
    return 1 if result["state"] == "failed" else 0


def main_evaluate(argv: list[str] | None = None) -> int:
    """Evaluate a run folder; prints decoding R^2 per modality, co-bps and the baselines as JSON."""
    from engines.training.evaluation.evaluate import evaluate_run

    args = build_evaluate_parser().parse_args(argv)
    try:
        folder = RunFolder(args.run_dir.expanduser().resolve())
        if not folder.exists():
            raise RunNotFound(f"{args.run_dir} is not a run folder (no config.json). Check the path.")
        bar = None if args.quiet else ProgressBar(sys.stderr, "evaluate")
        try:
            result = evaluate_run(
                folder,
                args.checkpoint,
                cebra_iterations=args.cebra_iterations,
                baselines=not args.no_baselines,
                progress=bar,
            )
        finally:
            if bar is not None:
                bar.close()
    except NeurodeckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"train": main_train, "evaluate": main_evaluate}
    if not argv or argv[0] not in commands:
        print("usage: python -m engines.training.cli {train,evaluate} ...", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
