"""Open any state text a user can paste: URL, fragment, JSON, or a JSON pointer fetched server-side.

Pointers (``#!s3://bucket/key``, ``#!gs://bucket/key``, ``#!https://host/state.json``) are
fetched with anonymous access by default, so public buckets need no credentials at all
(an unsigned boto3 client, an anonymous google-cloud-storage client); the server's own
credentials are used only when the operator turns ``use_cloud_credentials`` on. Every fetch has
a time limit and a size cap, and every request (http(s) pointers, S3 and GCS clients, each
redirect hop) goes through the NWB engine's pinned connections: the address is checked
and the connection made to that very address (``engines.nwb.safe_http``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests

from engines.ngstate._fetch import FetchErrors, fetch_bytes
from engines.ngstate.errors import PointerError, PointerNotAllowed, PointerTooLarge, StateParseError
from engines.ngstate.state import NgState
from engines.ngstate.urls import parse_url, pointer_of
from engines.nwb.errors import NwbOpenError, SourceNotAllowed
from engines.nwb.safe_http import PolicyRefusal, mount_pinned, pinned_session
from engines.nwb.sources import SourcePolicy

__all__ = ["PointerOptions", "load_state", "fetch_pointer"]

_ERRORS = FetchErrors(failed=PointerError, too_large=PointerTooLarge, not_allowed=PointerNotAllowed)


@dataclass(frozen=True)
class PointerOptions:
    """How pointer states are fetched: a size cap, and whether the server's cloud credentials sign requests."""

    max_bytes: int = 10 * 1024 * 1024
    use_cloud_credentials: bool = False
    """False (default): anonymous reads, which is all a public bucket needs. True: the AWS / Google
    credentials found in the server's environment sign the request (private buckets)."""


def load_state(text: str, policy: SourcePolicy, options: PointerOptions | None = None) -> NgState:
    """The state behind any pasted text; a pointer costs one fetch (time-limited, size-capped).

    Raises ``StateParseError`` for text that is no state, ``PointerError`` (and subclasses) when
    a pointer cannot be fetched.
    """
    pointer = pointer_of(text)
    if pointer is None:
        return parse_url(text)
    body = fetch_pointer(pointer, policy, options or PointerOptions())
    try:
        return NgState.from_json(body)
    except StateParseError as exc:
        raise StateParseError(f"{pointer} does not hold a Neuroglancer state: {exc}") from exc


def fetch_pointer(url: str, policy: SourcePolicy, options: PointerOptions) -> bytes:
    """The bytes at a pointer URL (s3://, gs://, http(s)://), at most ``options.max_bytes``."""
    scheme = urlparse(url).scheme.lower()
    if scheme in ("http", "https"):
        return fetch_bytes(url, policy, options.max_bytes, _ERRORS) or b""
    bucket, key = _bucket_and_key(url)
    if scheme == "s3":
        return _fetch_s3(bucket, key, policy, options)
    return _fetch_gs(bucket, key, policy, options)


def _bucket_and_key(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    key = parsed.path.lstrip("/")
    if not parsed.netloc or not key:
        raise StateParseError(
            f"'{url}' needs a bucket and an object key, like {parsed.scheme}://bucket/path/state.json."
        )
    return parsed.netloc, key


def _send_pinned(policy: SourcePolicy) -> Callable[..., Any]:
    """A botocore ``before-send`` handler that sends the signed request over a pinned session.

    botocore opens its own connections, unchecked; a response returned by this event is used
    instead of sending (botocore's documented hook for custom transports).
    """
    from botocore.awsrequest import AWSResponse

    session = pinned_session(policy)

    def send(request: Any, **_: Any) -> Any:
        try:
            response = session.request(
                request.method,
                request.url,
                headers=dict(request.headers.items()),
                data=request.body,
                timeout=policy.request_timeout_s,
                allow_redirects=False,
                stream=True,
            )
        except SourceNotAllowed as exc:
            raise PointerNotAllowed(str(exc)) from exc
        except NwbOpenError as exc:
            raise PointerError(str(exc)) from exc
        except requests.RequestException as exc:
            raise PointerError(
                f"Cannot reach the S3 endpoint ({exc.__class__.__name__}). Check the address and try again."
            ) from exc
        return AWSResponse(request.url, response.status_code, response.headers, response.raw)

    return send


def _too_large(url: str, size: int, cap: int) -> PointerTooLarge:
    return PointerTooLarge(f"{url} is {size:,} bytes, over the limit of {cap:,} bytes for a state.")


def _fetch_s3(bucket: str, key: str, policy: SourcePolicy, options: PointerOptions) -> bytes:
    """One ranged GetObject (at most ``max_bytes + 1`` bytes); anonymous unless credentials are enabled."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    url = f"s3://{bucket}/{key}"
    config = Config(
        connect_timeout=policy.request_timeout_s,
        read_timeout=policy.request_timeout_s,
        retries={"max_attempts": 2},
        **({} if options.use_cloud_credentials else {"signature_version": UNSIGNED}),
    )
    client = boto3.session.Session().client("s3", endpoint_url=policy.s3_endpoint_url, config=config)
    client.meta.events.register_first("before-send.s3", _send_pinned(policy))
    try:
        reply = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{options.max_bytes}")
        total = _total_size(reply)
        if total > options.max_bytes:
            raise _too_large(url, total, options.max_bytes)
        return reply["Body"].read(options.max_bytes + 1)
    except ClientError as exc:
        raise _s3_error(url, exc.response, options) from exc
    except BotoCoreError as exc:
        raise PointerError(f"Cannot read {url}: {exc}. Check the address and try again.") from exc


def _total_size(reply: dict[str, Any]) -> int:
    content_range = reply.get("ContentRange") or ""
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    return int(reply.get("ContentLength") or 0)


def _s3_error(url: str, response: dict[str, Any], options: PointerOptions) -> PointerError:
    code = str(response.get("Error", {}).get("Code", ""))
    if code in ("NoSuchKey", "404", "NotFound"):
        return PointerError(f"No object at {url}. Check the bucket and key.")
    if code == "NoSuchBucket":
        return PointerError(f"The bucket of {url} does not exist.")
    if code == "InvalidRange":
        return PointerError(f"{url} is empty: it holds no state.")
    if code in ("AccessDenied", "403", "AllAccessDisabled"):
        hint = (
            "The server's credentials have no access to it."
            if options.use_cloud_credentials
            else "It is not public; the operator can enable the server's cloud credentials for private buckets."
        )
        return PointerError(f"Access to {url} was denied. {hint}")
    return PointerError(f"Reading {url} failed ({code or 'unknown error'}). Try again later.")


def _gs_client(policy: SourcePolicy, options: PointerOptions) -> Any:
    from google.cloud import storage

    client_options = {"api_endpoint": policy.gs_endpoint_url}
    if options.use_cloud_credentials:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, project = google.auth.default()
        http = mount_pinned(AuthorizedSession(credentials), policy)
        return storage.Client(
            project=project, credentials=credentials, client_options=client_options, _http=http
        )
    from google.auth.credentials import AnonymousCredentials

    return storage.Client(
        project="<none>",
        credentials=AnonymousCredentials(),
        client_options=client_options,
        _http=pinned_session(policy),
    )


def _fetch_gs(bucket: str, key: str, policy: SourcePolicy, options: PointerOptions) -> bytes:
    """One ranged media download (at most ``max_bytes + 1`` bytes) with an anonymous client by default."""
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import GoogleAuthError

    url = f"gs://{bucket}/{key}"
    try:
        blob = _gs_client(policy, options).bucket(bucket).blob(key)
        body = blob.download_as_bytes(
            start=0, end=options.max_bytes, timeout=policy.request_timeout_s, checksum=None, retry=None
        )
    except SourceNotAllowed as exc:
        raise PointerNotAllowed(str(exc)) from exc
    except PolicyRefusal as exc:  # through google-auth's session, which does not unwrap it
        raise (PointerNotAllowed if isinstance(exc.error, SourceNotAllowed) else PointerError)(
            str(exc)
        ) from exc
    except NwbOpenError as exc:
        raise PointerError(str(exc)) from exc
    except gexc.NotFound as exc:
        raise PointerError(f"No object at {url}. Check the bucket and key.") from exc
    except (gexc.Forbidden, gexc.Unauthorized) as exc:
        raise PointerError(
            f"Access to {url} was denied: it is not public, or the server's credentials lack access."
        ) from exc
    except (gexc.GoogleAPIError, GoogleAuthError, requests.RequestException) as exc:
        raise PointerError(
            f"Cannot read {url} ({exc.__class__.__name__}). Check the address and try again."
        ) from exc
    if len(body) > options.max_bytes:
        raise PointerTooLarge(f"{url} is larger than the limit of {options.max_bytes:,} bytes for a state.")
    return body
