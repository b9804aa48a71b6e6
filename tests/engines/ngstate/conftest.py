"""Fixtures of the Neuroglancer-state tests: the demo volume (built once), HTTP servers, a moto S3 server."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.io.policy import SourcePolicy
from engines.ngstate import DemoVolume, ensure_demo_volume
from tests.support.range_server import RangeServer


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> DemoVolume:
    """The offline demo volume, written once per test run into its own workspace."""
    return ensure_demo_volume(tmp_path_factory.mktemp("demo_workspace"))


@pytest.fixture(scope="session")
def demo_server(demo: DemoVolume):
    """The demo folder over HTTP on 127.0.0.1 (as the app serves it)."""
    with RangeServer(demo.folder) as server:
        yield server


@pytest.fixture
def strict_policy(workspace: Path) -> SourcePolicy:
    """The default a public server runs with: private and loopback addresses refused."""
    return SourcePolicy(workspace=workspace, allowed_roots=(workspace,), request_timeout_s=3.0)


@pytest.fixture(scope="session")
def moto_s3():
    """A real S3-compatible server (moto's server mode) on 127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
