"""Fixtures shared by every test layer: the real NWB files, a Range-honouring HTTP server, a workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.io.policy import SourcePolicy
from engines.nwb.index_store import IndexStore
from tests.support.range_server import RangeServer

DATA_DIR = Path(__file__).parent / "data" / "nwb"
ALL_NWB_FILES = sorted(DATA_DIR.rglob("*.nwb"))
BROKEN_FOR_PYNWB = {"test_EventWaveform.nwb"}


@pytest.fixture(scope="session")
def nwb_data_dir() -> Path:
    return DATA_DIR


@pytest.fixture(scope="session")
def range_server():
    """The test data folder over HTTP on 127.0.0.1, honouring Range requests."""
    with RangeServer(DATA_DIR) as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def policy(workspace: Path) -> SourcePolicy:
    """Loopback allowed (the test server lives there); local reads limited to the test data and workspace."""
    return SourcePolicy(
        workspace=workspace,
        allowed_roots=(DATA_DIR, workspace),
        allow_private_urls=True,
        request_timeout_s=3.0,
    )


@pytest.fixture
def index_store(workspace: Path) -> IndexStore:
    return IndexStore(workspace)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that drives Chromium must say so (``browser``): the fast lane (``dev/test --fast``)
    deselects by that mark and runs where no Chromium is installed. The bundle build (``package``,
    about four minutes) runs first: collected near the end, it kept one process busy for minutes
    after the others had nothing left to do."""
    items.sort(key=lambda item: item.get_closest_marker("package") is None)  # stable: the rest keep order
    unmarked = [
        item.nodeid
        for item in items
        if "chromium_path" in getattr(item, "fixturenames", ()) and item.get_closest_marker("browser") is None
    ]
    if unmarked:
        raise pytest.UsageError(f"mark these tests @pytest.mark.browser (they start Chromium): {unmarked}")
