"""Tell what kind of place a user's text points at, and refuse places the server must not touch.

A served app is reachable by others, so a URL that resolves to a private or loopback
address, or a path outside the configured roots, is refused before any byte is read.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlparse

from engines.nwb.errors import NwbOpenError, SourceNotAllowed, SourceNotFound

__all__ = ["SourcePolicy", "Source", "parse_source", "check_url_allowed", "resolve_local_path"]

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
    """Classify a path or URL typed by a user; raise ``NwbOpenError`` for anything else."""
    text = (text or "").strip()
    if not text:
        raise NwbOpenError("Enter a file path or a URL (https://, s3://, gs:// or dandi://).")
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
        raise NwbOpenError(
            f"Unsupported URL scheme '{scheme}://'. Use a local path, https://, s3://, gs:// or dandi://."
        )
    return Source("local", text)


def bucket_and_key(url: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` or ``gs://bucket/key``."""
    parsed = urlparse(url)
    key = parsed.path.lstrip("/")
    if not parsed.netloc or not key:
        raise NwbOpenError(f"'{url}' needs a bucket and an object key, like {parsed.scheme}://bucket/path/file.nwb.")
    return parsed.netloc, key


def public_object_url(base: str, bucket: str, key: str) -> str:
    """Path-style HTTPS address of an object in an S3/GCS-compatible store."""
    return f"{base.rstrip('/')}/{bucket}/{quote(key)}"


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified
    )


def check_url_allowed(url: str, policy: SourcePolicy) -> None:
    """Refuse http(s) URLs whose host resolves to a non-public address, unless the operator allows it.

    Costs one DNS lookup. Every redirect hop is checked again by the caller.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise NwbOpenError(f"'{url}' is not an http(s) URL with a host name.")
    if policy.allow_private_urls:
        return
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise SourceNotFound(f"Cannot resolve host '{parsed.hostname}': {exc.strerror}. Check the URL.") from exc
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if not _is_public_ip(ip):
            raise SourceNotAllowed(
                f"'{parsed.hostname}' resolves to the private address {ip}; this server does not fetch "
                "private or loopback addresses. The operator can allow them with --allow-private-urls."
            )


def resolve_local_path(text: str, policy: SourcePolicy) -> Path:
    """Return the real path of a local file if it lies under an allowed root."""
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = Path.cwd() / path
    real = path.resolve()
    roots = [root.resolve() for root in policy.allowed_roots]
    if not any(real == root or root in real.parents for root in roots):
        allowed = ", ".join(str(root) for root in roots) or "(none configured)"
        raise SourceNotAllowed(
            f"'{text}' is outside the folders this server may read ({allowed}). "
            "Move the file there or start the server with --root pointing at its folder."
        )
    if not real.exists():
        raise SourceNotFound(f"No file at '{text}'.")
    if not real.is_file():
        raise SourceNotFound(f"'{text}' is a folder, not a file.")
    return real
