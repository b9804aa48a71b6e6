"""``run.py evaluate`` shows its progress and is bounded in time: CEBRA's iterations scale with the data (a
277 KB NWB file of 54,400 bins once took more than a quarter of an hour), and a cancel stops its fit."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engines._progress import Cancelled
from engines.training.cli import main_train
from engines.training.evaluation.baselines import (
    CEBRA_MAX_BINS,
    CEBRA_MAX_ITERATIONS,
    CEBRA_MIN_ITERATIONS,
    cebra_decode,
    cebra_iterations_for,
)

REPO = Path(__file__).resolve().parents[3]
BAR = re.compile(r"^evaluate \[[#.]+\]\s+(\d+)%\s+[\d.]+s (.*)$")


def test_cebra_runs_fewer_iterations_on_more_data_within_bounds():
    sizes = [100, 1_000, 2_400, 10_000, 43_520, 1_000_000]
    counts = [cebra_iterations_for(n) for n in sizes]
    assert counts == sorted(counts, reverse=True)  # more bins: fewer (each costs more)
    assert all(CEBRA_MIN_ITERATIONS <= c <= CEBRA_MAX_ITERATIONS for c in counts)
    assert counts[-1] == counts[-2] == cebra_iterations_for(CEBRA_MAX_BINS)  # it never fits on more


def test_a_cebra_fit_reports_its_iterations_and_stops_when_cancelled():
    pytest.importorskip("cebra")
    rng = np.random.default_rng(0)
    x = [rng.poisson(1.0, (600, 3)).astype(np.float32)]
    y = [rng.normal(size=(600, 2)).astype(np.float32)]
    heard: list[tuple[float, str]] = []

    def hear(fraction: float, message: str) -> None:
        heard.append((fraction, message))

    with pytest.raises(Cancelled, match="CEBRA"):
        cebra_decode(x, y, x, y, iterations=400, progress=hear, cancelled=lambda: bool(heard))
    assert heard == [(0.0, "CEBRA iteration 0 of 400")]  # stopped at its first report, not after 400


@pytest.mark.alone  # a wall-clock limit: measured with nothing else running
def test_evaluating_a_small_nwb_file_shows_progress_and_ends_within_a_minute(tmp_path, nwb_data_dir, capsys):
    pytest.importorskip("cebra")
    source = tmp_path / "data" / "anm369963.nwb"  # 277 KB: 54,400 bins of 20 ms with lick behaviour
    source.parent.mkdir()
    shutil.copy(nwb_data_dir / "anm369963.nwb", source)
    out = tmp_path / "run"
    args = ["--data", str(source), "--steps", "2", "--out", str(out), "--model-size", "tiny"]
    assert main_train([*args, "--workspace", str(tmp_path / "ws")]) == 0
    capsys.readouterr()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "run.py", "evaluate", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < 60, f"run.py evaluate took {elapsed:.0f} s"
    shown = [BAR.match(line) for line in done.stderr.splitlines()]
    percents = [int(m.group(1)) for m in shown if m]
    messages = [m.group(2) for m in shown if m]
    assert percents == sorted(percents) and percents[0] == 0 and percents[-1] == 100  # a bar that only grows
    assert messages[-1] == "evaluation done" and any(m.startswith("CEBRA iteration") for m in messages)
    result = json.loads(done.stdout)  # stdout holds only the result
    note = result["baselines"]["cebra_note"]
    fitted, train_bins = map(int, re.search(r"on (\d+) of (\d+) train bins", note).groups())
    assert fitted == CEBRA_MAX_BINS and f"{cebra_iterations_for(train_bins)} iterations" in note
