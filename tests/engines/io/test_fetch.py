"""``fetch_bytes`` against real HTTP servers on 127.0.0.1: each redirect hop checked, a cap, a deadline."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import time
from urllib.parse import quote

import pytest

from engines.io import policy as source_policy
from engines.io.errors import ResponseTooLarge, SourceError, SourceNotAllowed, SourceNotFound, SourceTimeout
from engines.io.fetch import fetch_bytes, fetch_json
from tests.engines.ngstate.servers import TrickServer
from tests.support.range_server import RangeServer


@pytest.fixture
def trick():
    with TrickServer() as server:
        yield server


def test_a_redirect_to_a_private_host_is_refused_at_that_hop(trick, policy, monkeypatch):
    """Loopback stands in for the public internet here: the first hop is allowed, the second is not."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "metadata.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("169.254.169.254", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(
        source_policy, "is_public_address", lambda ip: ip == ipaddress.ip_address("127.0.0.1")
    )
    strict = dataclasses.replace(policy, allow_private_urls=False)
    target = quote("http://metadata.test/latest/meta-data/", safe="")
    refused = "metadata.test' resolves to the private address 169.254.169.254"
    with pytest.raises(SourceNotAllowed, match=refused):
        fetch_bytes(f"{trick.url}/redirect?to={target}", strict, 1000)


def test_a_redirect_to_another_scheme_is_refused(trick, policy):
    with pytest.raises(SourceError, match="file:///etc/passwd' is not an http"):
        fetch_bytes(f"{trick.url}/to-file", policy, 1000)


def test_redirect_loops_end(trick, policy):
    loop = f"{trick.url}/redirect?to=" + quote(f"{trick.url}/redirect?to=", safe="")
    with pytest.raises(SourceError, match="redirects more than 2 times"):
        fetch_bytes(loop, dataclasses.replace(policy, max_redirects=2), 1000)


def test_answers_over_the_cap_are_cut_off_declared_or_not(trick, policy, tmp_path):
    with pytest.raises(ResponseTooLarge, match="larger than the limit of 10,000 bytes"):
        fetch_bytes(f"{trick.url}/chunked/50000", policy, 10_000)  # no Content-Length: read up to the cap
    (tmp_path / "big.json").write_bytes(b"x" * 5000)
    with RangeServer(tmp_path) as server, pytest.raises(ResponseTooLarge, match="5,000 bytes, over the"):
        fetch_bytes(server.url_for("big.json"), policy, 4999)
    assert fetch_bytes(f"{trick.url}/chunked/100", policy, 10_000).startswith(b'{"pad":"')


def test_a_dripping_server_times_out_at_the_policy_limit(trick, policy):
    started = time.monotonic()
    with pytest.raises(SourceTimeout, match="took too long|did not answer within"):
        fetch_bytes(f"{trick.url}/drip", dataclasses.replace(policy, request_timeout_s=1.0), 1 << 20)
    assert time.monotonic() - started < 3.0


def test_missing_documents_are_none_or_not_found(trick, policy):
    assert fetch_bytes(f"{trick.url}/nothing", policy, 100, missing_ok=True) is None
    with pytest.raises(SourceNotFound, match="HTTP 404"):
        fetch_bytes(f"{trick.url}/nothing", policy, 100)


def test_fetch_json_parses_and_refuses_what_is_not_json(trick, policy, tmp_path):
    (tmp_path / "a.json").write_text('{"a": [1, 2]}')
    (tmp_path / "b.json").write_text("not json")
    with RangeServer(tmp_path) as server:
        assert fetch_json(server.url_for("a.json"), policy, 1000) == {"a": [1, 2]}
        with pytest.raises(SourceError, match="did not answer with JSON"):
            fetch_json(server.url_for("b.json"), policy, 1000)
