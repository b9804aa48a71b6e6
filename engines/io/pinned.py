"""Connections that go to the very address the source policy checked, and reads with a deadline.

``allowed_addresses`` resolves a host once and checks every address; the sockets made here
connect to those addresses and no others, so a DNS answer that changes between the check and
the connection (rebinding) cannot reach a private address. Every HTTP request of the server
for a user goes through here: ``http.client`` connections for range reads
(``PinnedHTTPConnection``), and ``requests`` sessions (``pinned_session``: probes, pointers,
DANDI, S3/GCS clients), whose redirects each open a new, checked connection.

A per-operation socket timeout does not bound a read (a server can send a byte a second
forever), so an armed socket is shut down by one watchdog thread once its deadline passes:
whatever read is blocked on it returns at once.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import os
import socket
import ssl
import threading
import time
from functools import lru_cache
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection as _U3HTTPConnection
from urllib3.connection import HTTPSConnection as _U3HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from engines.io.errors import SourceError
from engines.io.policy import SourcePolicy, allowed_addresses

__all__ = [
    "open_socket",
    "arm",
    "disarm",
    "PinnedHTTPConnection",
    "PinnedHTTPSConnection",
    "PolicyRefusal",
    "pinned_session",
    "mount_pinned",
    "tls_context",
]


def open_socket(
    host: str,
    port: int,
    timeout: Any,
    policy: SourcePolicy,
    source_address: tuple[str, int] | None = None,
    socket_options: Any = None,
) -> socket.socket:
    """A TCP connection to one of the addresses ``allowed_addresses`` checked for ``host`` (one resolution).

    Raises ``SourceNotAllowed``/``SourceNotFound`` for refused or unknown hosts, ``OSError`` when no
    checked address accepts the connection.
    """
    failure: OSError | None = None
    for family, sockaddr in allowed_addresses(host, port, policy):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if isinstance(timeout, (int, float)):
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            failure = exc
    raise failure or OSError(f"No address of '{host}' accepts connections.")


class _Watchdog:
    """One thread that shuts down sockets whose deadline passed (a blocked read then returns)."""

    def __init__(self) -> None:
        self._tokens = itertools.count()
        self.reset()

    def reset(self) -> None:
        """Start empty, with a new lock: after a fork the parent's lock may be held by a thread that is not
        here."""
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[int, socket.socket, float]] = {}
        self._heap: list[tuple[float, int, int]] = []
        self._pid = -1

    def arm(self, sock: socket.socket, deadline: float) -> None:
        with self._cond:
            if self._pid != os.getpid():  # first use in this process (a forked child starts with none)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="read-deadlines", daemon=True).start()
            token = next(self._tokens)
            self._armed[id(sock)] = (token, sock, deadline)
            if len(self._heap) > 4 * len(self._armed) + 1024:  # mostly disarmed entries: keep the live ones
                self._heap = [(when, tok, key) for key, (tok, _, when) in self._armed.items()]
                heapq.heapify(self._heap)
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (deadline, token, id(sock)))
            if earliest is None or deadline < earliest:  # wake the thread only when it must wake sooner
                self._cond.notify()

    def disarm(self, sock: socket.socket) -> None:
        with self._cond:
            self._armed.pop(id(sock), None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    _, token, key = heapq.heappop(self._heap)
                    entry = self._armed.get(key)
                    if entry is not None and entry[0] == token:
                        del self._armed[key]
                        try:
                            entry[1].shutdown(socket.SHUT_RDWR)
                        except OSError:  # already closed
                            pass
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


_watchdog = _Watchdog()
os.register_at_fork(after_in_child=_watchdog.reset)


def arm(sock: socket.socket, deadline: float) -> None:
    """Shut ``sock`` down at ``deadline`` (``time.monotonic``) unless disarmed or re-armed before."""
    _watchdog.arm(sock, deadline)


def disarm(sock: socket.socket) -> None:
    _watchdog.disarm(sock)


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every connection (building one loads the CA store: milliseconds)."""
    return ssl.create_default_context()


class PinnedHTTPConnection(http.client.HTTPConnection):
    """``http.client`` connection to a checked address; ``deadline`` bounds each request on it.

    Set ``deadline`` (``time.monotonic``) before a request: a new socket is armed with it, and
    ``arm_deadline`` re-arms a kept-alive one.
    """

    def __init__(self, host: str, port: int | None, *, policy: SourcePolicy, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._policy = policy
        self.deadline: float | None = None

    def connect(self) -> None:
        sock = open_socket(self.host, self.port, self.timeout, self._policy)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._prepare(sock)

    def _prepare(self, sock: socket.socket) -> socket.socket:
        if self.deadline is not None:
            arm(sock, self.deadline)
        return sock

    def arm_deadline(self, deadline: float) -> None:
        self.deadline = deadline
        if self.sock is not None:
            arm(self.sock, deadline)

    def disarm_deadline(self) -> None:
        self.deadline = None
        if self.sock is not None:
            disarm(self.sock)


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """The same over TLS: the certificate is checked against the host name, the TCP peer is the checked
    address."""

    default_port = http.client.HTTPS_PORT

    def _prepare(self, sock: socket.socket) -> socket.socket:
        wrapped = tls_context().wrap_socket(sock, server_hostname=self.host, do_handshake_on_connect=False)
        if self.deadline is not None:  # a handshake that drips is cut off too
            arm(wrapped, self.deadline)
        wrapped.do_handshake()
        return wrapped


class PolicyRefusal(Exception):
    """A policy refusal carried through urllib3 and requests (which would wrap an ``OSError`` as a connection
    error); ``PinnedSession`` raises ``.error`` itself, a session pinned with ``mount_pinned`` raises this."""

    def __init__(self, error: SourceError) -> None:
        super().__init__(str(error))
        self.error = error


class _PinnedU3Mixin:
    """urllib3 connection whose socket goes to a checked address; each request on it has a deadline."""

    policy: SourcePolicy

    def _new_conn(self) -> socket.socket:
        conn: Any = self  # the urllib3 connection this is mixed into (its attributes are urllib3's)
        try:
            return open_socket(
                conn._dns_host, conn.port, conn.timeout, self.policy, conn.source_address, conn.socket_options
            )
        except SourceError as exc:
            raise PolicyRefusal(exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.") from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        arm(self._sock(), time.monotonic() + self.policy.request_timeout_s)

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self._sock() is not None:
            arm(self._sock(), time.monotonic() + self.policy.request_timeout_s)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def _sock(self) -> Any:
        return getattr(self, "sock", None)


_pool_classes_by_rule: dict[tuple[bool, float], dict[str, type]] = {}


def _pool_classes(policy: SourcePolicy) -> dict[str, type]:
    """urllib3 pool classes whose connections carry ``policy``; made once per (private URLs, timeout),
    the only fields they read, so a session costs no new classes."""
    key = (policy.allow_private_urls, policy.request_timeout_s)
    if key not in _pool_classes_by_rule:
        attrs = {"policy": policy}
        plain = type("PinnedU3HTTPConnection", (_PinnedU3Mixin, _U3HTTPConnection), attrs)
        secure = type("PinnedU3HTTPSConnection", (_PinnedU3Mixin, _U3HTTPSConnection), attrs)
        _pool_classes_by_rule[key] = {
            "http": type("PinnedHTTPPool", (urllib3.HTTPConnectionPool,), {"ConnectionCls": plain}),
            "https": type("PinnedHTTPSPool", (urllib3.HTTPSConnectionPool,), {"ConnectionCls": secure}),
        }
    return _pool_classes_by_rule[key]


class _PinnedAdapter(HTTPAdapter):
    """requests transport whose connections are pinned to checked addresses (see ``_PinnedU3Mixin``)."""

    def __init__(self, policy: SourcePolicy) -> None:
        self._pools = _pool_classes(policy)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools


class PinnedSession(requests.Session):
    """A ``requests`` session that connects only to checked addresses; a refusal raises the policy's own
    error."""

    def __init__(self, policy: SourcePolicy) -> None:
        super().__init__()
        self.trust_env = False  # a proxy from the environment would connect on its own, unchecked
        self.mount("http://", _PinnedAdapter(policy))
        self.mount("https://", _PinnedAdapter(policy))

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            return super().request(*args, **kwargs)
        except PolicyRefusal as exc:
            raise exc.error from exc.error.__cause__


def pinned_session(policy: SourcePolicy) -> PinnedSession:
    """A new ``PinnedSession`` for ``policy`` (sessions are not thread-safe: one per thread or per user)."""
    return PinnedSession(policy)


def mount_pinned(session: requests.Session, policy: SourcePolicy) -> requests.Session:
    """Pin an existing session (e.g. google-auth's ``AuthorizedSession``) the same way; returns it."""
    session.trust_env = False
    session.mount("http://", _PinnedAdapter(policy))
    session.mount("https://", _PinnedAdapter(policy))
    return session
