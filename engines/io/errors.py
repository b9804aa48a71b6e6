"""The few ways a read of a user's source can fail that a caller tells apart.

Each also subclasses the builtin that fits (``PermissionError`` for a refusal,
``FileNotFoundError`` for nothing there, ``ConnectionError`` for no usable answer), so code
that knows nothing of Neurodeck still handles it. Engines that want their own error types
(a pointer's, a volume's) translate with ``raised_as`` instead of catching each kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from engines.errors import NeurodeckError

__all__ = [
    "SourceError",
    "SourceNotAllowed",
    "SourceNotFound",
    "SourceUnreachable",
    "SourceTimeout",
    "ResponseTooLarge",
    "DomainErrors",
    "raised_as",
]


class SourceError(NeurodeckError, OSError):
    """A path or URL could not be read; the message says why and what to do."""


class SourceNotAllowed(SourceError, PermissionError):
    """The server refuses this source (private address, path outside the allowed roots, access denied)."""


class SourceNotFound(SourceError, FileNotFoundError):
    """Nothing exists at this path or URL (404, missing file, a name that does not resolve)."""


class SourceUnreachable(SourceError, ConnectionError):
    """No usable answer: the server failed, refused the request, sent the wrong bytes or redirected in
    circles."""


class SourceTimeout(SourceUnreachable, TimeoutError):
    """The whole answer did not arrive within the policy's time limit (a slow or stalled server)."""


class ResponseTooLarge(SourceError, ValueError):
    """The answer is larger than the caller's size cap; nothing past the cap was read."""


@dataclass(frozen=True)
class DomainErrors:
    """The error types a caller's domain raises instead: for any failure, an oversized answer, a refusal."""

    failed: type[Exception]
    too_large: type[Exception] | None = None
    not_allowed: type[Exception] | None = None


@contextmanager
def raised_as(errors: DomainErrors) -> Iterator[None]:
    """Re-raise a ``SourceError`` from the block as the caller's own type, with the same message."""
    try:
        yield
    except ResponseTooLarge as exc:
        raise (errors.too_large or errors.failed)(str(exc)) from exc
    except SourceNotAllowed as exc:
        raise (errors.not_allowed or errors.failed)(str(exc)) from exc
    except SourceError as exc:
        raise errors.failed(str(exc)) from exc
