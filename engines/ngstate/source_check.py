"""Which layers of a state the viewer will fail to load, and why, said before the user wonders.

Neuroglancer's client shows a layer that cannot load only as a small error in its own layer
panel; the agent, which works on the state, never hears of it. Here each image and segmentation
layer with a precomputed source has its ``info`` read once through the source policy (the first
request the client makes for it, the same one ``open_volume`` makes): a missing volume, a server
that answers an error or not at all, or an ``info`` that is no volume description is a layer the
viewer cannot show either. Sources the server may not read (private addresses, when the operator
did not allow them) are left out, since the user's own browser may still reach them, as are
formats the server does not read (``zarr://``, ``n5://``, ...) and local annotation layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from engines.io.errors import SourceError, SourceNotAllowed
from engines.io.policy import SourcePolicy
from engines.ngstate.errors import VolumeError
from engines.ngstate.state import NgState
from engines.ngstate.volume import open_volume

__all__ = ["LayerProblem", "layers_that_cannot_load"]

_CHECKED_TYPES = ("image", "segmentation")
_SERVER_READS = ("precomputed://", "gs://", "s3://", "http://", "https://")


@dataclass(frozen=True)
class LayerProblem:
    """A layer the viewer cannot load: its name and the reason, in the user's words."""

    layer: str
    reason: str

    def describe(self) -> str:
        return f"The viewer cannot load layer '{self.layer}': {self.reason}"


def layers_that_cannot_load(
    state: NgState, policy: SourcePolicy, aliases: Mapping[str, Path] | None = None
) -> list[LayerProblem]:
    """The state's layers whose data source cannot be read, in the state's order (their ``info`` files are
    read at once, on a few threads: one request each)."""
    checked = [
        (info.name, info.source)
        for info in state.layers
        if info.type in _CHECKED_TYPES and info.source and info.source.startswith(_SERVER_READS)
    ]
    if not checked:
        return []
    with ThreadPoolExecutor(min(8, len(checked)), thread_name_prefix="layer-check") as threads:
        reasons = list(threads.map(lambda item: _why_not(item[1], policy, aliases), checked))
    return [LayerProblem(name, reason) for (name, _), reason in zip(checked, reasons) if reason]


def _why_not(source: str, policy: SourcePolicy, aliases: Mapping[str, Path] | None) -> str | None:
    try:
        open_volume(source, policy, aliases)
    except (VolumeError, SourceError) as exc:
        if isinstance(exc, SourceNotAllowed) or isinstance(exc.__cause__, SourceNotAllowed):
            return None  # the server may not read it: the user's browser may
        return str(exc)
    return None
