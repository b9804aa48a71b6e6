"""Which neurodata types each type derives from, so views registered for a parent type apply.

Core and hdmf-common types come from pynwb's own namespace catalog (no file reads);
extension types come from the specifications cached in the file, read only when a file
uses a namespace pynwb does not know.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

__all__ = ["compute_lineage"]


@lru_cache(maxsize=1)
def _catalog():  # immutable after pynwb's import: safe to share
    import pynwb

    return pynwb.get_type_map().namespace_catalog


def _known_hierarchy(neurodata_type: str) -> list[str] | None:
    """The chain pynwb knows, or None for a type no core namespace defines (hdmf answers an unknown
    type with a chain of itself alone, which would hide an extension type's parents)."""
    catalog = _catalog()
    for namespace in ("core", "hdmf-common", "hdmf-experimental"):
        try:
            if neurodata_type in catalog.get_namespace(namespace).get_registered_types():
                return list(catalog.get_hierarchy(namespace, neurodata_type))
        except (KeyError, ValueError):
            continue
    return None


def _collect_parents(spec: dict[str, Any], parents: dict[str, str]) -> None:
    for key in ("groups", "datasets"):
        for child in spec.get(key, []) or []:
            if child.get("neurodata_type_def") and child.get("neurodata_type_inc"):
                parents[child["neurodata_type_def"]] = child["neurodata_type_inc"]
            _collect_parents(child, parents)


def compute_lineage(
    types: Iterable[str], extension_specs: Callable[[], Iterable[str]]
) -> dict[str, list[str]]:
    """Map every type in ``types`` to [type, parent, grandparent, ...].

    ``extension_specs`` yields the JSON texts of the file's cached extension specs; it is
    called only if some type is unknown to pynwb.
    """
    lineage: dict[str, list[str]] = {}
    unknown: list[str] = []
    for ndt in set(types):
        known = _known_hierarchy(ndt)
        if known:
            lineage[ndt] = known
        else:
            unknown.append(ndt)
    if unknown:
        parents: dict[str, str] = {}
        for text in extension_specs():
            try:
                _collect_parents(json.loads(text), parents)
            except (ValueError, TypeError, AttributeError):
                continue
        for ndt in unknown:
            chain, current = [ndt], ndt
            while current in parents and parents[current] not in chain:
                current = parents[current]
                known = _known_hierarchy(current)
                if known:
                    chain.extend(known)
                    break
                chain.append(current)
            lineage[ndt] = chain
    return lineage
