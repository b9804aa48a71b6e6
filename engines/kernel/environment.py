"""The environment a local kernel starts with: what Python needs to run, never the server's secrets.

The server's environment holds API keys (``OPENAI_API_KEY``, ``AWS_SECRET_ACCESS_KEY``,
``DANDI_API_KEY``), tokens (``JUPYTER_TOKEN``) and its own settings (``NEURODECK_*``); code a
user runs could print them. The kernel gets only the names below (locale ``LC_*`` too) and the
ones the operator allows (``--kernel-env NAME``): an allow-list, so a secret under a name
nobody thought of stays out as well. Proxy variables are left out (they may carry a password);
an operator behind a proxy allows them by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["KERNEL_ENV_NAMES", "kernel_environment"]

KERNEL_ENV_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TERM",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_RUNTIME_DIR",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "CONDA_DEFAULT_ENV",
        "LD_LIBRARY_PATH",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "MPLCONFIGDIR",
        "NUMBA_CACHE_DIR",
        "HDF5_USE_FILE_LOCKING",
        "CUDA_VISIBLE_DEVICES",
    }
)
"""What Python, NumPy, matplotlib, h5py and HTTPS need to work as they do in the server."""


def kernel_environment(server_env: Mapping[str, str], allow: Iterable[str] = ()) -> dict[str, str]:
    """The variables of ``server_env`` a kernel may see: ``KERNEL_ENV_NAMES``, ``LC_*`` and ``allow``."""
    keep = KERNEL_ENV_NAMES | set(allow)
    return {name: value for name, value in server_env.items() if name in keep or name.startswith("LC_")}
