"""What every NWB view is: a Viewer for one object, chosen by neurodata type from index metadata."""

from __future__ import annotations

from typing import ClassVar

import panel as pn

from engines.nwb.index import NwbIndex
from engines.nwb.nwbfile import NwbFile
from engines.nwb.product_jobs import ProductJobs

__all__ = ["NwbView"]


class NwbView(pn.viewable.Viewer):
    """Base class. ``id`` is stable (deep links use it); ``neurodata_types`` match by inheritance."""

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    neurodata_types: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        """Decide from the index only (never read the file to decide)."""
        return any(index.is_a(path, t) for t in cls.neurodata_types)

    def __init__(self, nwbfile: NwbFile, path: str, products: ProductJobs | None = None, **params) -> None:
        super().__init__(**params)
        self.nwbfile = nwbfile
        self.path = path
        self.products = products  # precomputed products (jobs); None where no job system runs
        self.info = nwbfile.resolve(path)
