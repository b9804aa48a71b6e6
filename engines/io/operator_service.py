"""Requests to a service the operator configured (a Jupyter server), never to an address a user typed.

The source policy guards the server against users' URLs; an operator's own service often lives
on loopback or the private network by design (JupyterHub beside the app), so its address is
trusted as the operator wrote it, and only through this named door. What still holds for it:
a time limit per request, no redirects (they would lead somewhere the operator did not name),
no proxy from the environment, and a size cap on answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests
import urllib3

from engines.io.errors import ResponseTooLarge, SourceTimeout, SourceUnreachable
from engines.io.fetch import read_within

__all__ = ["OperatorReply", "OperatorService"]

_MAX_ANSWER_BYTES = 16 << 20
"""A larger answer from an operator's service is refused (a Jupyter REST answer is a few KB)."""


@dataclass(frozen=True)
class OperatorReply:
    """A service's status code and body (read whole, at most the cap)."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON; None for an empty body. ``SourceUnreachable`` when it is not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise SourceUnreachable("The service did not answer with JSON. Check its address.") from exc


class OperatorService:
    """Keep-alive connections to one operator-configured base URL; one per session (not thread-safe)."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        timeout_s: float,
        max_bytes: int = _MAX_ANSWER_BYTES,
    ) -> None:
        if urlparse(base_url).scheme not in ("http", "https"):
            raise SourceUnreachable(f"'{base_url}' is not an http(s) address. Check the settings.")
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout_s
        self._max_bytes = max_bytes
        self._session = requests.Session()
        self._session.trust_env = False  # the operator named this address: no proxy from the environment
        self._session.headers.update(headers)

    def request(self, method: str, route: str, body: Any = None) -> OperatorReply:
        """One request to ``<base_url>/<route>`` with a JSON ``body``; any status comes back as a reply.

        Raises ``SourceTimeout`` past the time limit, ``ResponseTooLarge`` past the size cap and
        ``SourceUnreachable`` when the service does not answer.
        """
        url = f"{self.base_url}/{route.lstrip('/')}"
        deadline = time.monotonic() + self._timeout
        try:
            with self._session.request(
                method, url, json=body, timeout=self._timeout, allow_redirects=False, stream=True
            ) as response:
                return OperatorReply(response.status_code, self._read(response, url, deadline))
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            raise self._too_slow() from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise SourceUnreachable(f"Cannot reach {self.base_url} ({exc.__class__.__name__}).") from exc

    def _read(self, response: requests.Response, url: str, deadline: float) -> bytes:
        return read_within(
            response,
            self._max_bytes,
            deadline,
            lambda: ResponseTooLarge(f"{url} answered more than {self._max_bytes:,} bytes."),
            self._too_slow,
        )

    def _too_slow(self) -> SourceTimeout:
        return SourceTimeout(f"{self.base_url} did not answer within {self._timeout:g} s.")

    def close(self) -> None:
        self._session.close()
