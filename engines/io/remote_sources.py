"""Turn s3://, gs:// and dandi:// sources into https URLs that the range reader streams.

Every remote source ends up as ranged HTTPS reads through one code path (``range_file``), so
caching, timeouts, counting and address checks apply the same everywhere. Credentials,
when configured, only sign the URL (boto3 / google-cloud-storage); anonymous access uses
the public object URL.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlparse

from engines.io.errors import SourceError, SourceNotFound, SourceUnreachable
from engines.io.fetch import fetch_json
from engines.io.policy import SourcePolicy, bucket_and_key, public_object_url

__all__ = ["s3_to_https", "gs_to_https", "dandi_to_https", "public_prefix_url"]


def s3_to_https(url: str, policy: SourcePolicy) -> str:
    """Public (or, with AWS credentials, presigned) HTTPS URL of an S3 object."""
    bucket, key = bucket_and_key(url)
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    session = boto3.Session()
    if session.get_credentials() is None:
        if policy.s3_endpoint_url:
            return public_object_url(policy.s3_endpoint_url, bucket, key)
        client = session.client("s3", config=Config(signature_version=UNSIGNED))
        return str(client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}))
    client = session.client("s3", endpoint_url=policy.s3_endpoint_url)
    return str(
        client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=12 * 3600
        )
    )


def gs_to_https(url: str, policy: SourcePolicy) -> str:
    """Public (or, with service-account credentials, signed) HTTPS URL of a GCS object."""
    bucket, key = bucket_and_key(url)
    try:
        from google.auth.exceptions import DefaultCredentialsError
        from google.cloud import storage

        client = storage.Client()
    except (ImportError, DefaultCredentialsError, OSError):
        return public_object_url(policy.gs_endpoint_url, bucket, key)
    try:
        blob = client.bucket(bucket).blob(key)
        return str(blob.generate_signed_url(version="v4", expiration=timedelta(hours=12)))
    except (AttributeError, ValueError):  # user credentials cannot sign: fall back to public access
        return public_object_url(policy.gs_endpoint_url, bucket, key)


def public_prefix_url(url: str, policy: SourcePolicy) -> str:
    """The anonymous HTTPS address of an ``s3://bucket/prefix`` or ``gs://bucket/prefix`` folder (no request).

    For stores read object by object under a prefix (a precomputed volume's chunks), so no
    signing: the objects must be public, as Neuroglancer's own viewers need them to be.
    """
    parsed = urlparse(url)
    bucket, key = parsed.netloc, parsed.path.strip("/")
    if parsed.scheme == "gs":
        return f"{policy.gs_endpoint_url.rstrip('/')}/{bucket}/{key}"
    if policy.s3_endpoint_url:
        return f"{policy.s3_endpoint_url.rstrip('/')}/{bucket}/{key}"
    return f"https://{bucket}.s3.amazonaws.com/{key}"


_MAX_ANSWER_BYTES = 8 << 20
"""A larger answer to an asset query is refused (ten assets are a few KB)."""
_DANDI = re.compile(r"^dandi://(?P<id>\d{6})(?:@(?P<version>[\w.]+))?/(?P<path>.+)$")


def dandi_to_https(url: str, policy: SourcePolicy) -> str:
    """Resolve ``dandi://000123[@version]/sub-x/file.nwb`` to the asset's download URL (one API request)."""
    match = _DANDI.match(url.strip())
    if not match:
        raise SourceError(f"'{url}' is not of the form dandi://<6-digit dandiset id>[@version]/<asset path>.")
    api = policy.dandi_api_url.rstrip("/")
    version = match["version"] or "draft"
    query = f"{api}/dandisets/{match['id']}/versions/{version}/assets/"
    params = {"path": match["path"], "page_size": 10}
    try:
        answer = fetch_json(query, policy, _MAX_ANSWER_BYTES, params=params, missing_ok=True)
    except (SourceUnreachable, SourceNotFound) as exc:  # not found: the API's name does not resolve
        raise SourceUnreachable(
            f"Cannot reach the DANDI API at {urlparse(api).hostname}: {exc} Are you offline? "
            "Open a local copy or a direct URL instead."
        ) from exc
    if answer is None:
        raise SourceNotFound(f"Dandiset {match['id']} version {version} was not found on DANDI.")
    if not isinstance(answer, dict):
        raise SourceUnreachable(
            f"The DANDI API at {urlparse(api).hostname} did not answer with DANDI API data. "
            "Check the DANDI API address in the settings."
        )
    results = [
        r for r in answer.get("results") or [] if isinstance(r, dict) and r.get("path") == match["path"]
    ]
    if not results:
        raise SourceNotFound(f"Dandiset {match['id']} has no asset at '{match['path']}'.")
    return f"{api}/assets/{results[0]['asset_id']}/download/"
