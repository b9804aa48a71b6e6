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
Callers import the module they need (``from engines.io.fetch import fetch_bytes``), so importing
the policy loads no network library.
"""
