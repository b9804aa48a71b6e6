"""Tell what kind of place a user's text points at, and refuse places the server must not touch.

A served app is reachable by others, so a URL that resolves to an address that is not
globally routable, or a path outside the configured roots, is refused before any byte is
read. These checks are the policy for every byte the server fetches or opens for a user:
``resolve_local_path`` / ``is_under_roots`` for files, ``allowed_addresses`` (which
``engines.io.pinned`` connects to, and only to) and ``check_url_allowed`` for URLs.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlparse

from engines.io.errors import SourceError, SourceNotAllowed, SourceNotFound

__all__ = [
    "SourcePolicy",
    "Source",
    "parse_source",
    "check_url_allowed",
    "resolve_local_path",
    "allowed_addresses",
    "is_public_address",
    "url_host_port",
    "is_under_roots",
    "bucket_and_key",
    "public_object_url",
]

SourceKind = Literal["local", "http", "s3", "gs", "dandi"]


@dataclass(frozen=True)
class SourcePolicy:
    """What the server may open, and where it keeps what it learns.

    ``allowed_roots`` limits local paths; ``allow_private_urls`` lets URLs reach loopback
    and private networks (tests and single-user desktops). The endpoints are overridable
    for S3-compatible stores, GCS emulators and DANDI staging.
    """

    workspace: Path
    allowed_roots: tuple[Path, ...] = ()
    allow_private_urls: bool = False
    request_timeout_s: float = 10.0
    s3_endpoint_url: str | None = None
    gs_endpoint_url: str = "https://storage.googleapis.com"
    dandi_api_url: str = "https://api.dandiarchive.org/api"
    max_redirects: int = 10
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def cache_dir(self) -> Path:
        return self.workspace / "cache"


@dataclass(frozen=True)
class Source:
    """A parsed source: its kind and the location in that kind's own terms."""

    kind: SourceKind
    location: str

    @property
    def is_lindi(self) -> bool:
        """LINDI indexes carry a file's whole structure in one JSON document."""
        return self.location.split("?")[0].endswith((".lindi.json", ".lindi.tar", ".lindi"))


def parse_source(text: str) -> Source:
    """Classify a path or URL typed by a user; raise ``SourceError`` for anything else."""
    text = (text or "").strip()
    if not text:
        raise SourceError("Enter a file path or a URL (https://, s3://, gs:// or dandi://).")
    scheme = urlparse(text).scheme.lower()
    if scheme in ("http", "https"):
        return Source("http", text)
    if scheme == "s3":
        return Source("s3", text)
    if scheme == "gs":
        return Source("gs", text)
    if scheme == "dandi":
        return Source("dandi", text)
    if scheme == "file":
        return Source("local", urlparse(text).path)
    if scheme and len(scheme) > 1:
        raise SourceError(
            f"Unsupported URL scheme '{scheme}://'. Use a local path, https://, s3://, gs:// or dandi://."
        )
    return Source("local", text)


def bucket_and_key(url: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` or ``gs://bucket/key``."""
    parsed = urlparse(url)
    key = parsed.path.lstrip("/")
    if not parsed.netloc or not key:
        raise SourceError(
            f"'{url}' needs a bucket and an object key, like {parsed.scheme}://bucket/path/file.nwb."
        )
    return parsed.netloc, key


def public_object_url(base: str, bucket: str, key: str) -> str:
    """Path-style HTTPS address of an object in an S3/GCS-compatible store."""
    return f"{base.rstrip('/')}/{bucket}/{quote(key)}"


_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "192.0.0.0/24",  # IETF protocol assignments (Python 3.11 calls most of it global)
        "2002::/16",  # 6to4: wraps any IPv4 address, a private one too
        "64:ff9b::/96",  # NAT64: wraps any IPv4 address
        "64:ff9b:1::/48",  # local-use NAT64
        "::/96",  # IPv4-compatible IPv6 (deprecated): wraps any IPv4 address
    )
)


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether the server may connect to ``ip`` when private URLs are off: globally routable only.

    ``is_global`` alone lets through what older Pythons call global (192.0.0.0/24, 6to4,
    NAT64, multicast), and an IPv4 address wrapped in IPv6 must be judged as the IPv4 it is.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in _NOT_GLOBAL if network.version == ip.version):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


Address = tuple[int, tuple[Any, ...]]
"""A socket family and the address to connect to, as ``socket.getaddrinfo`` gives them."""


def allowed_addresses(host: str, port: int, policy: SourcePolicy) -> list[Address]:
    """Resolve ``host`` once and return the addresses the server may connect to, in resolver order.

    Connections are made to exactly these addresses (``engines.io.pinned``), so a DNS
    answer that changes between the check and the connection (rebinding) cannot reach a
    private address. Raises ``SourceNotAllowed`` if any address is not public (unless the
    operator allows private URLs) and ``SourceNotFound`` if the name does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise SourceNotFound(
            f"Cannot reach '{host}': the name does not resolve ({exc.strerror}). Check the URL; "
            "is this machine offline?"
        ) from exc
    addresses: list[Address] = []
    for family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if not policy.allow_private_urls and not is_public_address(ip):
            raise SourceNotAllowed(
                f"'{host}' resolves to the private address {ip}; this server does not fetch "
                "private or loopback addresses. The operator can allow them with --allow-private-urls."
            )
        if (family, sockaddr) not in addresses:
            addresses.append((family, sockaddr))
    return addresses


def url_host_port(url: str) -> tuple[str, int]:
    """The host and port an http(s) URL connects to; ``SourceError`` for anything else. No DNS."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SourceError(f"'{url}' is not an http(s) URL with a host name.")
    try:
        port = parsed.port
    except ValueError as exc:
        raise SourceError(f"'{url}' has an invalid port.") from exc
    return parsed.hostname, port or (443 if parsed.scheme == "https" else 80)


def check_url_allowed(url: str, policy: SourcePolicy) -> None:
    """Refuse http(s) URLs whose host resolves to a non-public address, unless the operator allows it.

    Costs one DNS lookup. An early, clear refusal only: connections check again, and connect
    to the address they checked (``engines.io.pinned``), each redirect hop included.
    """
    host, port = url_host_port(url)
    if not policy.allow_private_urls:
        allowed_addresses(host, port, policy)


def resolve_local_path(text: str, policy: SourcePolicy, shown: str | None = None) -> Path:
    """Return the real path of a local file if it lies under an allowed root.

    Symlinks and ``..`` are resolved before the check. Messages name the path as ``shown``
    (default: ``text``, what the user typed), never the resolved one, so a refusal reveals
    no symlink target and no folder of the server.
    """
    shown = text if shown is None else shown
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = Path.cwd() / path
    real = path.resolve()
    if not is_under_roots(real, policy):
        allowed = ", ".join(str(root) for root in policy.allowed_roots) or "(none configured)"
        raise SourceNotAllowed(
            f"'{shown}' is outside the folders this server may read ({allowed}). "
            "Move the file there or start the server with --root pointing at its folder."
        )
    if not real.exists():
        raise SourceNotFound(f"No file at '{shown}'.")
    if not real.is_file():
        raise SourceNotFound(f"'{shown}' is a folder, not a file.")
    return real


def is_under_roots(real: Path, policy: SourcePolicy) -> bool:
    """Whether a resolved path lies under one of the policy's allowed roots (no I/O beyond resolving the
    roots)."""
    return is_under_folders(real, policy.allowed_roots)


def is_under_folders(real: Path, folders: Iterable[Path]) -> bool:
    """Whether a resolved path is one of ``folders`` or lies under one, symlinks in the folders resolved: the
    one check every "under the server's roots or workspace" rule makes."""
    resolved = [Path(os.path.expanduser(str(folder))).resolve() for folder in folders]
    return any(real == folder or folder in real.parents for folder in resolved)
