"""Every HTTP request for a user: only public addresses, connected to the address that was checked,
at most the bytes asked for, and over within the request timeout.

Servers are real (127.0.0.1). Names that must resolve to other addresses are answered by a
patched ``socket.getaddrinfo``: no DNS server can run here, and the code under test resolves
through it like any program would.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import tracemalloc

import pytest

from engines.dandi.archive import DandiArchive
from engines.io.errors import SourceNotAllowed, SourceUnreachable
from engines.io.range_transport import RequestStats, get_range, probe_http
from engines.ngstate.errors import PointerError
from engines.ngstate.pointers import PointerOptions, fetch_pointer
from tests.support.bad_http_server import BadHttpServer

NOT_PUBLIC = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "192.0.0.8",
    "192.0.0.170",
    "0.0.0.0",
    "224.0.0.251",
    "240.0.0.1",
    "::1",
    "fe80::1",
    "fd00::1",
    "::ffff:127.0.0.1",
    "::ffff:100.64.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::1",
    "64:ff9b::7f00:1",
    "::7f00:1",
]


@pytest.fixture
def strict(policy):
    """What a served app runs with: private addresses off, a short timeout."""
    return dataclasses.replace(policy, allow_private_urls=False, request_timeout_s=1.0)


class FakeDns:
    """Answers names under ``.test`` with the addresses given (in turn, the last one repeated); counts
    lookups."""

    def __init__(self, monkeypatch, *answers: str) -> None:
        self.answers = list(answers)
        self.lookups = 0
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if not str(host).endswith(".test"):
                return real(host, port, *args, **kwargs)
            address = self.answers[min(self.lookups, len(self.answers) - 1)]
            self.lookups += 1
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (
                (address, int(port or 80), 0, 0) if family == socket.AF_INET6 else (address, int(port or 80))
            )
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_every_non_public_address_class_is_refused(address, strict, monkeypatch):
    FakeDns(monkeypatch, address)
    with pytest.raises(SourceNotAllowed, match="private address.*--allow-private-urls"):
        probe_http("http://evil.test/file.nwb", strict, RequestStats())
    with pytest.raises(SourceNotAllowed, match="private address"):
        get_range("http://evil.test/file.nwb", strict, RequestStats(), 0, 10)


def test_rebinding_cannot_reach_loopback(strict, range_server, monkeypatch):
    """The name is public when checked and loopback afterwards: every connection goes to the checked
    address."""
    dns = FakeDns(
        monkeypatch, "192.88.99.1", "127.0.0.1"
    )  # a public address, unreachable from the test machine
    range_server.log.clear()
    url = f"http://rebind.test:{range_server.url.rsplit(':', 1)[1].split('/')[0]}/pynwb-types/test_Units.nwb"
    for read in (
        lambda: probe_http(url, strict, RequestStats()),
        lambda: get_range(url, strict, RequestStats(), 0, 10),
    ):
        dns.lookups = 0
        with pytest.raises(SourceUnreachable):
            read()
        assert dns.lookups == 1
    dns.lookups = 0
    with pytest.raises(PointerError):
        fetch_pointer(url, strict, PointerOptions())
    assert dns.lookups == 1
    dns.lookups = 0
    archive = DandiArchive(dataclasses.replace(strict, dandi_api_url=url.rsplit("/", 2)[0] + "/api"))
    with pytest.raises(SourceUnreachable, match="DANDI API"):
        archive.search()
    assert dns.lookups == 1
    endpoint = url.rsplit("/", 2)[0]
    dns.lookups = 0
    with pytest.raises(PointerError):
        fetch_pointer(
            "s3://bucket/state.json", dataclasses.replace(strict, s3_endpoint_url=endpoint), PointerOptions()
        )
    assert dns.lookups == 1
    with pytest.raises(
        PointerError
    ):  # google's client retries on a new connection: resolved (and refused) anew
        fetch_pointer(
            "gs://bucket/state.json", dataclasses.replace(strict, gs_endpoint_url=endpoint), PointerOptions()
        )
    assert range_server.log.count == 0


def _peak_bytes(read) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    error = None
    try:
        read()
    except Exception as exc:  # the read may fail; what matters is how much it took in
        error = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, error


@pytest.mark.parametrize("mode", ["oversend_declared", "oversend_unbounded"])
def test_a_range_read_takes_no_more_than_it_asked_for(mode, policy):
    with BadHttpServer(mode, oversend_bytes=48 << 20) as server:
        peak, error = _peak_bytes(lambda: get_range(server.url(), policy, RequestStats(), 0, 10))
        assert peak < 4 << 20
        assert isinstance(error, SourceUnreachable) and "more than the 10 bytes asked for" in str(error)
        peak, error = _peak_bytes(lambda: probe_http(server.url(), policy, RequestStats(), length=1024))
        assert peak < 4 << 20


def _finishes_within(seconds: float, read) -> BaseException | None:
    """Run ``read`` in a thread; the error it ended with, or fail if it is still reading after ``seconds``."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            read()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"the read was still going after {seconds} s"
    return outcome[0]


def test_a_dripping_server_is_cut_off_at_the_request_timeout(strict, policy):
    drip_policy = dataclasses.replace(policy, request_timeout_s=1.0)
    with BadHttpServer("drip", drip_s=0.1) as server:
        for read in (
            lambda: get_range(server.url(), drip_policy, RequestStats(), 0, 10),
            lambda: probe_http(server.url(), drip_policy, RequestStats()),
        ):
            started = time.monotonic()
            error = _finishes_within(6, read)
            assert isinstance(error, SourceUnreachable), error
            assert "1 s" in str(error) and ("timed out" in str(error) or "did not answer" in str(error))
            assert time.monotonic() - started < 3
        started = time.monotonic()
        error = _finishes_within(
            6, lambda: fetch_pointer(server.url("state.json"), drip_policy, PointerOptions())
        )
        assert isinstance(error, PointerError) and time.monotonic() - started < 3
