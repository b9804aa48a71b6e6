"""Approved code must not see the server's secrets: API keys, cloud credentials, the Jupyter token.

The local kernel used to inherit the server's whole environment, so ``print(os.environ)`` showed
``OPENAI_API_KEY``, the AWS keys and the Jupyter token to whoever ran code.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engines.kernel import KernelLimits, LocalKernel, RemoteKernel, RemoteKernelError

SECRETS = {
    "OPENAI_API_KEY": "sk-test-openai-secret",
    "AWS_ACCESS_KEY_ID": "AKIATESTACCESSKEY",
    "AWS_SECRET_ACCESS_KEY": "aws-test-secret-value",
    "AWS_SESSION_TOKEN": "aws-test-session-token",
    "GOOGLE_APPLICATION_CREDENTIALS": "/secret/google-credentials.json",
    "JUPYTER_TOKEN": "jupyter-test-token",
    "NEURODECK_JUPYTER_TOKEN": "neurodeck-jupyter-test-token",
    "NEURODECK_COOKIE_SECRET": "neurodeck-cookie-secret",
    "DANDI_API_KEY": "dandi-test-key",
    "DATABASE_PASSWORD": "db-test-password",
    "GITHUB_TOKEN": "ghp-test-token",
}


def test_the_local_kernel_sees_none_of_the_servers_secrets_and_the_allowed_extra(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LAB_DATA_ROOT", "/data/lab")
    kernel = LocalKernel(KernelLimits(time_s=30.0, memory_mb=0, env_allow=("LAB_DATA_ROOT",)))
    try:
        result = kernel.run(
            "import os, json\n"
            "print(json.dumps(sorted(os.environ)))\n"
            "print(json.dumps([open('/proc/self/environ', 'rb').read().decode(errors='replace'), "
            "open('/proc/self/cmdline', 'rb').read().decode(errors='replace')]))"
        )
    finally:
        kernel.shutdown()

    assert result.status == "ok", result.message
    names_line, raw_line = result.stdout.splitlines()[:2]
    names = json.loads(names_line)
    assert not set(SECRETS) & set(names)
    assert "LAB_DATA_ROOT" in names and "PATH" in names and "HOME" in names
    environ, cmdline = json.loads(raw_line)
    for value in SECRETS.values():
        assert value not in environ and value not in cmdline


class _Refuses(BaseHTTPRequestHandler):
    """A Jupyter server that refuses every token, and remembers the paths it was asked for."""

    paths: list[str] = []

    def _refuse(self) -> None:
        self.paths.append(self.path)
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"message": "Forbidden"}')

    do_GET = do_PUT = do_POST = do_DELETE = _refuse

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def refusing_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_jupyter_token_goes_in_a_header_never_into_urls_messages_or_logs(refusing_server, caplog):
    token = "remote-jupyter-secret-token"
    caplog.set_level(logging.DEBUG)
    kernel = RemoteKernel(refusing_server, token, KernelLimits(time_s=5.0, memory_mb=0))

    with pytest.raises(RemoteKernelError) as refused:
        kernel.run("print(1)")

    assert "refused the token" in str(refused.value) and token not in str(refused.value)
    assert _Refuses.paths and not any(token in path for path in _Refuses.paths)
    assert not any(token in record.getMessage() for record in caplog.records)
