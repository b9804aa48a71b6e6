"""Each server process's local neuroglancer server, and how any process of the app reaches another's.

A viewer lives in the process that built its page, inside that process's neuroglancer server
(``127.0.0.1:<random port>``). With ``--num-procs N`` the processes share one listening socket, so
a request of the viewer's client reaches any of them, most often not the viewer's own: five of six
viewers were dead with two processes. So a viewer's token names its server's port
(``<port>p<random hex>``), and every process lists its server in a private folder made before
the fork (port -> process id); a proxy forwards to a port only while the listed process lives,
never to any other local port.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["neuroglancer_server_url", "new_viewer_token", "prepare_viewer_servers", "viewer_server_port"]

_TOKEN = re.compile(r"^([0-9]{1,5})p[0-9a-f]+$")
_lock = threading.Lock()
_folder: Path | None = None
_listed_port: int | None = None


def prepare_viewer_servers() -> Path:
    """The folder where this server's processes list their viewer servers; made once, before ``--num-procs``
    forks
    (the app's routes are built there), removed when the process that made it exits. A single process never
    makes it: its viewers are all its own."""
    global _folder
    with _lock:
        if _folder is None:
            _folder = Path(tempfile.mkdtemp(prefix="neurodeck-viewer-servers-"))
            atexit.register(_remove_folder, _folder, os.getpid())
        return _folder


def _remove_folder(folder: Path, maker: int) -> None:
    if os.getpid() == maker:  # the forked processes inherit this exit hook: only the maker removes the folder
        shutil.rmtree(folder, ignore_errors=True)


def _forget_inherited_server() -> None:
    """A neuroglancer server started before a fork serves nothing in the child (its thread stayed behind): the
    child starts its own on first use."""
    global _listed_port
    module = sys.modules.get("neuroglancer.server")
    if module is not None:
        vars(module)["global_server"] = None  # the module is found at runtime, so typed plain ModuleType
    _listed_port = None


os.register_at_fork(after_in_child=_forget_inherited_server)


def neuroglancer_server_url() -> str:
    """This process's neuroglancer server, started on first use (bound to 127.0.0.1 only) and listed."""
    global _listed_port
    import neuroglancer
    from neuroglancer import server

    from components.neuroglancer.client_fix import install_client_fix

    install_client_fix()  # every viewer's client comes with its state-sync race mended
    if not server.is_server_running():
        neuroglancer.set_server_bind_address("127.0.0.1", 0)
        server.start()
    url = server.get_server_url()
    port = urlsplit(url).port
    if port != _listed_port and _folder is not None:
        (_folder / str(port)).write_text(str(os.getpid()))
        _listed_port = port
    return url


def new_viewer_token() -> str:
    """A token for a new viewer that names its server, so that every process of the app can reach it."""
    return f"{urlsplit(neuroglancer_server_url()).port}p{secrets.token_hex(20)}"


def viewer_server_port(token: str) -> int | None:
    """The port of the neuroglancer server that holds viewer ``token``: this process's for a token that names
    no
    server, None where the named server is not a live one of this app's (its process ended, or never was)."""
    own = urlsplit(neuroglancer_server_url()).port
    named = _TOKEN.match(token)
    if named is None or int(named[1]) == own:
        return own
    port = int(named[1])
    if _folder is None:  # one process: no other viewer server is this app's
        return None
    try:
        pid = int((_folder / str(port)).read_text())
        os.kill(pid, 0)  # signal 0: only asks whether the process lives
    except (OSError, ValueError):
        return None
    return port
