"""Every byte the server reads for a user: the source policy, its checks, and the transports that obey it.

* ``policy``: ``SourcePolicy``; what a source is; URL, address and local-path checks.
* ``errors``: the few failures a caller tells apart (refused, not found, unreachable, timeout, too large).
* ``pinned``: connections made to the very address the policy checked (no DNS rebinding), read deadlines.
* ``fetch``: ``fetch_bytes`` / ``fetch_json``: one document, each redirect hop checked, a time limit, a cap.
* ``range_transport``: the one-request probe and counted, bounded range reads on shared fetch threads.
* ``range_file`` (with ``block_cache`` and ``read_batch``): a remote file for h5py, block-cached, batchable.
* ``remote_sources``: ``s3://``, ``gs://`` and ``dandi://`` to the HTTPS URL the range reader streams.
* ``cloud_objects``: a small S3 or GCS object, read through pinned sessions.
* ``operator_service``: requests to a service the operator configured (a Jupyter server), not a user's URL.

Only this package imports HTTP and cloud clients (``tests/engines/io/test_io_boundary.py``).
Importing it loads no network library: the transports load when one of their names is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from engines.io.errors import (
    ResponseTooLarge,
    SourceError,
    SourceNotAllowed,
    SourceNotFound,
    SourceTimeout,
    SourceUnreachable,
)
from engines.io.policy import Source, SourcePolicy, check_url_allowed, parse_source, resolve_local_path

if TYPE_CHECKING:
    from engines.io.cloud_objects import fetch_object
    from engines.io.fetch import fetch_bytes, fetch_json
    from engines.io.operator_service import OperatorService
    from engines.io.range_file import RangeFile
    from engines.io.range_transport import HttpProbe, RequestStats, get_range, probe_http
    from engines.io.remote_sources import dandi_to_https, gs_to_https, s3_to_https

__all__ = [
    "SourcePolicy",
    "Source",
    "parse_source",
    "check_url_allowed",
    "resolve_local_path",
    "SourceError",
    "SourceNotAllowed",
    "SourceNotFound",
    "SourceUnreachable",
    "SourceTimeout",
    "ResponseTooLarge",
    "fetch_bytes",
    "fetch_json",
    "fetch_object",
    "probe_http",
    "get_range",
    "RequestStats",
    "HttpProbe",
    "RangeFile",
    "s3_to_https",
    "gs_to_https",
    "dandi_to_https",
    "OperatorService",
]

_TRANSPORTS = {
    "fetch_bytes": "engines.io.fetch",
    "fetch_json": "engines.io.fetch",
    "fetch_object": "engines.io.cloud_objects",
    "probe_http": "engines.io.range_transport",
    "get_range": "engines.io.range_transport",
    "RequestStats": "engines.io.range_transport",
    "HttpProbe": "engines.io.range_transport",
    "RangeFile": "engines.io.range_file",
    "s3_to_https": "engines.io.remote_sources",
    "gs_to_https": "engines.io.remote_sources",
    "dandi_to_https": "engines.io.remote_sources",
    "OperatorService": "engines.io.operator_service",
}
"""Names whose modules import requests, urllib3 or remfile: loaded on first use (PEP 562)."""


def __getattr__(name: str) -> Any:
    module = _TRANSPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engines.io' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
