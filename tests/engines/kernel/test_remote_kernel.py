"""The same runs on a real Jupyter Server (started here on 127.0.0.1 with a token), over its REST and
WebSocket API."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from engines.kernel import KernelLimits, RemoteKernel, RemoteKernelError

TOKEN = "neurodeck-test-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory):
    pytest.importorskip("jupyter_server")
    root = tmp_path_factory.mktemp("jupyter_root")
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.port_retries=0",
            "--ServerApp.allow_root=True",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/api/status", headers={"Authorization": f"token {TOKEN}"}, timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("The Jupyter server did not start within 60 s (or exited).")
    yield url, root
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def remote(jupyter_server):
    url, _ = jupyter_server
    session = RemoteKernel(url, TOKEN, KernelLimits(time_s=30.0, memory_mb=0, grace_s=3.0))
    yield session
    session.shutdown()


def test_outputs_errors_and_figures_come_back_as_locally(remote, jupyter_server):
    result = remote.run("import os\nprint('hello from', os.path.basename(os.getcwd()))\n6 * 7")
    assert result.status == "ok"
    assert result.stdout == f"hello from {remote.workdir}\n"
    assert result.outputs[-1].data["text/plain"] == "42"
    assert (jupyter_server[1] / remote.workdir).is_dir(), "the kernel works in its own folder on the server"
    plot = remote.run("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()")
    assert len(plot.images) == 1
    failed = remote.run("{}['missing']")
    assert (
        failed.status == "error" and failed.error.ename == "KeyError" and "missing" in failed.traceback_text
    )


def test_time_limit_and_stop_interrupt_through_the_server(remote):
    remote.run("kept = 5")
    timed_out = remote.run("import time\nwhile True:\n    time.sleep(0.05)", time_s=1.0)
    assert timed_out.status == "timeout" and not timed_out.kernel_restarted
    threading.Timer(0.8, remote.stop).start()
    stopped = remote.run("import time\nfor _ in range(600):\n    time.sleep(0.05)")
    assert stopped.status == "stopped"
    assert remote.run("print(kept)").stdout == "5\n"


def test_a_dead_remote_kernel_is_reported_and_replaced(remote):
    result = remote.run("import os\nos._exit(1)")
    assert result.status == "died" and result.kernel_restarted
    assert remote.run("print('back')").stdout == "back\n"


def test_a_wrong_token_is_a_clear_error(jupyter_server):
    url, _ = jupyter_server
    with pytest.raises(RemoteKernelError, match="refused the token"):
        RemoteKernel(url, "wrong-token").run("1")
