"""Requests to an operator-configured service: loopback as configured, no redirects, a cap, a deadline."""

from __future__ import annotations

import time

import pytest

from engines.io.errors import ResponseTooLarge, SourceTimeout, SourceUnreachable
from engines.io.operator_service import OperatorService
from tests.engines.ngstate.servers import TrickServer


@pytest.fixture
def trick():
    with TrickServer() as server:
        yield server


def test_a_loopback_service_is_reached_and_its_redirects_are_not_followed(trick):
    service = OperatorService(trick.url, {"Authorization": "token t"}, timeout_s=2.0)
    reply = service.request("GET", "to-file")
    assert reply.status == 302  # handed back to the caller, never followed to file:///etc/passwd
    assert service.request("GET", "chunked/10").json() == {"pad": "x" * 10}
    service.close()


def test_answers_over_the_cap_and_stalled_services_fail_clearly(trick):
    with pytest.raises(ResponseTooLarge, match="more than 1,000 bytes"):
        OperatorService(trick.url, {}, timeout_s=2.0, max_bytes=1000).request("GET", "chunked/5000")
    started = time.monotonic()
    with pytest.raises(SourceTimeout, match="did not answer within 0.5 s"):
        OperatorService(trick.url, {}, timeout_s=0.5).request("GET", "drip")
    assert time.monotonic() - started < 3.0


def test_only_http_addresses_are_accepted():
    with pytest.raises(SourceUnreachable, match="not an http"):
        OperatorService("file:///etc", {}, timeout_s=1.0)
