"""Run user-approved Python in a Jupyter kernel of the session's own, and export chats as notebooks.

``LocalKernel`` runs ipykernel here with a time limit per cell and a memory limit per kernel;
``RemoteKernel`` runs on a Jupyter server (URL + token). Both return ``CellResult``s whose
outputs keep Jupyter's shapes (text, errors, PNGs, Bokeh/HoloViews figures as JSON + HTML).
"""

from engines.kernel.base import CodeRunner, KernelLimits, OnOutput
from engines.kernel.errors import KernelError, KernelStartError, RemoteKernelError
from engines.kernel.local import LocalKernel
from engines.kernel.notebook import (
    NotebookEntry,
    build_notebook,
    code_entry,
    export_notebook,
    markdown_entry,
    notebook_bytes,
)
from engines.kernel.remote import RemoteKernel
from engines.kernel.results import BOKEH_MIME, CellOutput, CellResult, RunStatus

__all__ = [
    "CodeRunner",
    "KernelLimits",
    "OnOutput",
    "LocalKernel",
    "RemoteKernel",
    "CellOutput",
    "CellResult",
    "RunStatus",
    "BOKEH_MIME",
    "NotebookEntry",
    "markdown_entry",
    "code_entry",
    "build_notebook",
    "notebook_bytes",
    "export_notebook",
    "KernelError",
    "KernelStartError",
    "RemoteKernelError",
]
