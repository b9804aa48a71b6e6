"""The curation tests' shared data: one generated demo (recording, analyzer with known merges) per run."""

from __future__ import annotations

import shutil
import warnings
from itertools import combinations
from pathlib import Path

import pytest

from engines.curation import CurationReview, demo_truth, open_analyzer
from tests.support.shared_analyzers import seed_demo, shared_large_analyzer


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Path:
    """A workspace holding the offline demo (made once per machine: ``tests.support.shared_analyzers``)."""
    workspace = tmp_path_factory.mktemp("demo_workspace")
    warnings.filterwarnings("ignore")
    seed_demo(workspace)
    return workspace


@pytest.fixture(scope="session")
def demo_folder(demo_workspace: Path) -> Path:
    return demo_workspace / "curation" / "demo" / "analyzer"


@pytest.fixture(scope="session")
def demo_analyzer(demo_folder: Path):
    """The demo analyzer, loaded once; tests only read it (copy the folder to change it)."""
    analyzer, _ = open_analyzer(demo_folder)
    return analyzer


@pytest.fixture(scope="session")
def true_pairs(demo_workspace: Path) -> set[frozenset]:
    groups = demo_truth(demo_workspace)["true_groups"]
    return {frozenset(pair) for group in groups for pair in combinations(group, 2)}


@pytest.fixture
def review(workspace: Path, demo_analyzer, demo_folder: Path) -> CurationReview:
    """A review of the demo analyzer whose decisions live in this test's own workspace."""
    return CurationReview(workspace, demo_analyzer, demo_folder)


@pytest.fixture
def analyzer_copy(tmp_path: Path, demo_folder: Path) -> Path:
    """A private copy of the demo analyzer folder and its recording (for tests that change it)."""
    target = tmp_path / "demo_copy"
    shutil.copytree(demo_folder.parent, target)
    return target / "analyzer"


def pairs_of(groups) -> set[frozenset]:
    return {frozenset(pair) for group in groups for pair in combinations(group, 2)}


@pytest.fixture(scope="session")
def large_workspace(tmp_path_factory) -> Path:
    """A workspace holding the 800-unit analyzer's 2,000+ candidate groups, judged (about 10 s), over the
    analyzer every test process shares (``tests.support.large_analyzer``)."""
    from engines.curation.scale import open_large_review

    workspace = tmp_path_factory.mktemp("curation-800")
    warnings.filterwarnings("ignore")
    open_large_review(workspace, shared_large_analyzer())
    return workspace


@pytest.fixture
def large_review(large_workspace: Path) -> CurationReview:
    """The 800-unit review, shared by the tests: they read it and give no verdicts."""
    return CurationReview.open(large_workspace, shared_large_analyzer())
