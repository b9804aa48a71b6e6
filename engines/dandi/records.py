"""What the DANDI API answers, as plain dataclasses the page can list (built from its JSON shapes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = ["DandisetVersion", "Dandiset", "Asset", "Page"]


@dataclass(frozen=True)
class DandisetVersion:
    """One version of a dandiset: "draft" or a published version such as "0.210812.1448"."""

    version: str
    name: str
    asset_count: int
    size: int
    status: str
    modified: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DandisetVersion:
        return cls(
            version=str(data.get("version", "")),
            name=str(data.get("name", "")),
            asset_count=int(data.get("asset_count") or 0),
            size=int(data.get("size") or 0),
            status=str(data.get("status", "")),
            modified=str(data.get("modified", "")),
        )


@dataclass(frozen=True)
class Dandiset:
    """A dandiset as search lists it: its latest published version when it has one, else its draft."""

    identifier: str
    contact_person: str
    embargo_status: str
    modified: str
    draft: DandisetVersion | None
    published: DandisetVersion | None

    @property
    def latest(self) -> DandisetVersion | None:
        """The version to show first: the most recent published one, else the draft."""
        return self.published or self.draft

    @property
    def name(self) -> str:
        return self.latest.name if self.latest else ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Dandiset:
        draft, published = data.get("draft_version"), data.get("most_recent_published_version")
        return cls(
            identifier=str(data.get("identifier", "")),
            contact_person=str(data.get("contact_person") or ""),
            embargo_status=str(data.get("embargo_status") or ""),
            modified=str(data.get("modified", "")),
            draft=DandisetVersion.from_json(draft) if draft else None,
            published=DandisetVersion.from_json(published) if published else None,
        )


@dataclass(frozen=True)
class Asset:
    """A file of a dandiset version, and the addresses the NWB (or EDF) engine opens it by.

    ``download_url`` is the API's download address (it redirects to the file in S3: ranged
    reads follow it); ``dandi_url`` the same asset as ``dandi://id@version/path``.
    """

    asset_id: str
    path: str
    size: int
    modified: str
    dandiset: str
    version: str
    download_url: str

    @property
    def dandi_url(self) -> str:
        return f"dandi://{self.dandiset}@{self.version}/{self.path}"

    @property
    def kind(self) -> str:
        """ "nwb", "edf", "bdf" or "" from the file name: which engine opens it."""
        name = self.path.lower()
        for suffix, kind in ((".nwb", "nwb"), (".nwb.lindi.json", "nwb"), (".edf", "edf"), (".bdf", "bdf")):
            if name.endswith(suffix):
                return kind
        return ""

    @classmethod
    def from_json(cls, data: dict[str, Any], api: str, dandiset: str, version: str) -> Asset:
        asset_id = str(data.get("asset_id", ""))
        return cls(
            asset_id=asset_id,
            path=str(data.get("path", "")),
            size=int(data.get("size") or 0),
            modified=str(data.get("modified", "")),
            dandiset=dandiset,
            version=version,
            download_url=f"{api}/assets/{quote(asset_id)}/download/",
        )


@dataclass(frozen=True)
class Page:
    """One page of a listing: ``items``, the ``count`` of all matches, and whether a next page exists."""

    items: list[Any]
    count: int
    page: int
    page_size: int
    has_next: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.page_size))
