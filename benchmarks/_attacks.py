"""Attacks the security benchmark tries headless: reads outside the roots, and secrets in the code kernel.

Each attempt is counted as a success for the attacker only if bytes came back (or, for addresses
this machine may not send traffic to, if the source policy would have let the request out).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

from engines.errors import NeurodeckError
from engines.io.policy import SourcePolicy, check_url_allowed
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb

SECRET = b"secret bytes outside every root"
NWB_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "nwb" / "pynwb-types" / "test_Device.nwb"
"""A real NWB file, put outside the roots: opening it by a crafted path would succeed if the policy let it."""
NOT_GLOBAL_URLS = [
    f"http://{host}/x.nwb"
    for host in (
        "127.0.0.1",
        "[::1]",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "192.0.0.8",
        "0.0.0.0",
        "[fe80::1]",
        "[fd00::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[2002:7f00:1::1]",
        "[64:ff9b::7f00:1]",
        "localhost",
    )
]
"""Addresses that are not globally routable. They are only checked, never connected to: this machine sends
traffic to no address but its own."""


def _lindi(ref: list | str) -> dict:
    return {
        "version": 1,
        "refs": {
            ".zgroup": {"zarr_format": 2},
            ".zattrs": {"nwb_version": "2.7.0"},
            "x/.zarray": {
                "chunks": [len(SECRET)],
                "compressor": None,
                "dtype": "|u1",
                "fill_value": 0,
                "filters": None,
                "order": "C",
                "shape": [len(SECRET)],
                "zarr_format": 2,
            },
            "x/0": ref,
        },
    }


def reads_outside_roots() -> tuple[int, int]:
    """(attempts, successes) at reading a file outside every root or a non-global address through the
    policy."""
    base = Path(tempfile.mkdtemp(prefix="nd-attack-"))
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    secret = outside / "secret.bin"
    secret.write_bytes(SECRET)
    nwb = outside / "private.nwb"
    shutil.copy(NWB_FILE, nwb)
    (root / "link.nwb").symlink_to(nwb)
    (root / "link.bin").symlink_to(secret)
    policy = SourcePolicy(
        workspace=root, allowed_roots=(root,), allow_private_urls=False, request_timeout_s=2.0
    )
    indexes = IndexStore(root / "indexes")
    attempts = successes = 0
    for text in (
        str(nwb),
        str(root / ".." / "outside" / "private.nwb"),
        str(root / "link.nwb"),
        f"file://{nwb}",
    ):
        attempts += 1
        successes += _opened(text, policy, indexes)
    for ref in (
        [str(secret), 0, len(SECRET)],
        ["../outside/secret.bin", 0, len(SECRET)],
        ["link.bin", 0, len(SECRET)],
        [f"file://{secret}", 0, len(SECRET)],
    ):
        attempts += 1
        index = root / f"crafted{attempts}.lindi.json"
        index.write_text(json.dumps(_lindi(ref)))
        successes += _read_dataset(str(index), policy, indexes)
    for url in NOT_GLOBAL_URLS:
        attempts += 1
        try:
            check_url_allowed(url, dataclasses.replace(policy))
            successes += 1
        except (NeurodeckError, OSError, ValueError):
            pass
    return attempts, successes


def _opened(text: str, policy: SourcePolicy, indexes: IndexStore) -> int:
    try:
        open_nwb(text, policy, indexes).close()
    except (NeurodeckError, OSError, ValueError):
        return 0
    return 1


def _read_dataset(text: str, policy: SourcePolicy, indexes: IndexStore) -> int:
    try:
        nwb = open_nwb(text, policy, indexes)
    except (NeurodeckError, OSError, ValueError):
        return 0
    try:
        return int(SECRET in bytes(nwb.dataset("/x")[:]))
    except (NeurodeckError, OSError, ValueError, KeyError):
        return 0
    finally:
        nwb.close()


KERNEL_SECRETS = {
    "OPENAI_API_KEY": "sk-bench",
    "AWS_ACCESS_KEY_ID": "AKIABENCH",
    "AWS_SECRET_ACCESS_KEY": "aws-bench",
    "GOOGLE_APPLICATION_CREDENTIALS": "/secret/creds.json",
    "JUPYTER_TOKEN": "jupyter-bench",
    "NEURODECK_JUPYTER_TOKEN": "nd-jupyter-bench",
    "NEURODECK_TOKEN": "nd-token-bench",
    "DANDI_API_KEY": "dandi-bench",
    "GITHUB_TOKEN": "ghp-bench",
    "DB_PASSWORD": "db-bench",
    "MY_SERVICE_SECRET": "service-bench",
}


def secrets_in_kernel_env() -> tuple[int, int]:
    """(secrets set in the server's environment, how many of them approved code could read in its kernel)."""
    from engines.kernel import KernelLimits, LocalKernel

    saved = {name: os.environ.get(name) for name in KERNEL_SECRETS}
    os.environ.update(KERNEL_SECRETS)
    try:
        kernel = LocalKernel(KernelLimits(time_s=60.0, memory_mb=0))
        try:
            result = kernel.run(
                "import os\nprint(open('/proc/self/environ', 'rb').read().decode(errors='replace'))"
            )
        finally:
            kernel.shutdown()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if result.status != "ok":
        raise RuntimeError(f"the kernel did not run: {result.message}")
    return len(KERNEL_SECRETS), sum(value in result.stdout for value in KERNEL_SECRETS.values())
