"""Read a whole small object from S3 or GCS (``s3://bucket/key``, ``gs://bucket/key``) under the policy.

Anonymous by default, so public buckets need no credentials at all (an unsigned boto3
client, an anonymous google-cloud-storage client); the server's own credentials sign the
request only when the caller asks (the operator's ``use_cloud_credentials``). Both SDKs open
their own connections, so their requests are sent over pinned sessions instead
(``engines.io.pinned``): each address checked, the connection made to that very address.
One ranged request of at most ``max_bytes + 1`` bytes, within the policy's time limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import requests

from engines.io.errors import (
    ResponseTooLarge,
    SourceError,
    SourceNotFound,
    SourceUnreachable,
)
from engines.io.pinned import PolicyRefusal, mount_pinned, pinned_session
from engines.io.policy import SourcePolicy, bucket_and_key

__all__ = ["fetch_object"]


def fetch_object(url: str, policy: SourcePolicy, max_bytes: int, use_credentials: bool = False) -> bytes:
    """The bytes of the object at an ``s3://`` or ``gs://`` URL, at most ``max_bytes`` (one request).

    Raises ``ResponseTooLarge`` past the cap, ``SourceNotFound`` for no such object or
    bucket, ``SourceNotAllowed`` for a refused address, ``SourceUnreachable`` otherwise.
    """
    bucket, key = bucket_and_key(url)
    if urlparse(url).scheme.lower() == "s3":
        return _fetch_s3(bucket, key, policy, max_bytes, use_credentials)
    return _fetch_gs(bucket, key, policy, max_bytes, use_credentials)


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
        except requests.RequestException as exc:
            raise SourceUnreachable(
                f"Cannot reach the S3 endpoint ({exc.__class__.__name__}). Check the address and try again."
            ) from exc
        return AWSResponse(request.url, response.status_code, response.headers, response.raw)

    return send


def _fetch_s3(bucket: str, key: str, policy: SourcePolicy, max_bytes: int, use_credentials: bool) -> bytes:
    """One ranged GetObject (at most ``max_bytes + 1`` bytes); anonymous unless ``use_credentials``."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    url = f"s3://{bucket}/{key}"
    config = Config(
        connect_timeout=policy.request_timeout_s,
        read_timeout=policy.request_timeout_s,
        retries={"max_attempts": 2},
        **({} if use_credentials else {"signature_version": UNSIGNED}),
    )
    client = boto3.session.Session().client("s3", endpoint_url=policy.s3_endpoint_url, config=config)
    client.meta.events.register_first("before-send.s3", _send_pinned(policy))
    try:
        reply = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes}")
        total = _total_size(reply)
        if total > max_bytes:
            raise ResponseTooLarge(f"{url} is {total:,} bytes, over the limit of {max_bytes:,} bytes.")
        body: bytes = reply["Body"].read(max_bytes + 1)
        return body
    except ClientError as exc:
        raise _s3_error(url, exc.response, use_credentials) from exc
    except BotoCoreError as exc:
        raise SourceUnreachable(f"Cannot read {url}: {exc}. Check the address and try again.") from exc


def _total_size(reply: dict[str, Any]) -> int:
    content_range = reply.get("ContentRange") or ""
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    return int(reply.get("ContentLength") or 0)


def _s3_error(url: str, response: Any, use_credentials: bool) -> SourceError:
    code = str(response.get("Error", {}).get("Code", ""))
    if code in ("NoSuchKey", "404", "NotFound"):
        return SourceNotFound(f"No object at {url}. Check the bucket and key.")
    if code == "NoSuchBucket":
        return SourceNotFound(f"The bucket of {url} does not exist.")
    if code == "InvalidRange":
        return SourceUnreachable(f"{url} is empty: it holds nothing to read.")
    if code in ("AccessDenied", "403", "AllAccessDisabled"):
        hint = (
            "The server's credentials have no access to it."
            if use_credentials
            else "It is not public; the operator can enable the server's cloud credentials "
            "for private buckets."
        )
        return SourceUnreachable(f"Access to {url} was denied. {hint}")
    return SourceUnreachable(f"Reading {url} failed ({code or 'unknown error'}). Try again later.")


def _gs_client(policy: SourcePolicy, use_credentials: bool) -> Any:
    from google.cloud import storage

    client_options = {"api_endpoint": policy.gs_endpoint_url}
    if use_credentials:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, project = google.auth.default()
        http = mount_pinned(AuthorizedSession(credentials), policy)  # type: ignore[no-untyped-call]
        return storage.Client(
            project=project, credentials=credentials, client_options=client_options, _http=http
        )
    from google.auth.credentials import AnonymousCredentials

    return storage.Client(
        project="<none>",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=client_options,
        _http=pinned_session(policy),
    )


def _fetch_gs(bucket: str, key: str, policy: SourcePolicy, max_bytes: int, use_credentials: bool) -> bytes:
    """One ranged media download (at most ``max_bytes + 1`` bytes) with an anonymous client by default."""
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import GoogleAuthError

    url = f"gs://{bucket}/{key}"
    try:
        blob = _gs_client(policy, use_credentials).bucket(bucket).blob(key)
        body: bytes = blob.download_as_bytes(
            start=0, end=max_bytes, timeout=policy.request_timeout_s, checksum=None, retry=None
        )
    except PolicyRefusal as exc:  # through google-auth's session, which does not unwrap it
        raise exc.error from exc
    except gexc.NotFound as exc:
        raise SourceNotFound(f"No object at {url}. Check the bucket and key.") from exc
    except (gexc.Forbidden, gexc.Unauthorized) as exc:
        raise SourceUnreachable(
            f"Access to {url} was denied: it is not public, or the server's credentials lack access."
        ) from exc
    except (gexc.GoogleAPIError, GoogleAuthError, requests.RequestException) as exc:
        raise SourceUnreachable(
            f"Cannot read {url} ({exc.__class__.__name__}). Check the address and try again."
        ) from exc
    if len(body) > max_bytes:
        raise ResponseTooLarge(f"{url} is larger than the limit of {max_bytes:,} bytes.")
    return body
