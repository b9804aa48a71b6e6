"""Browse the DANDI archive: search dandisets, list a version's files with sizes, and open one.

``DandiArchive`` makes one API request per call through the server's address rules; an
``Asset``'s ``download_url`` is what ``engines.nwb.open_nwb`` (or ``engines.edf.open_edf``) opens.
"""

from engines.dandi.archive import MAX_PAGE_SIZE, DandiArchive
from engines.dandi.errors import DandiRequestError
from engines.dandi.records import Asset, Dandiset, DandisetVersion, Page

__all__ = [
    "DandiArchive",
    "MAX_PAGE_SIZE",
    "Dandiset",
    "DandisetVersion",
    "Asset",
    "Page",
    "DandiRequestError",
]
