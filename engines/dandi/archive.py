"""Browse the DANDI archive through its REST API: search dandisets, list versions and assets, open one.

Every request goes to ``SourcePolicy.dandi_api_url`` (a staging or test server can stand in)
through ``engines.io.fetch_json``: the server's address rules on every hop, the policy's time
limit on the whole answer and a size cap on answers. One request per call;
nothing is cached, so a page shows what the archive holds now. dandi-cli's ``DandiAPIClient``
offers the same calls, but retries for minutes and fetches without these rules, which a shared
server cannot afford.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from engines.dandi.errors import DandiRequestError
from engines.dandi.records import Asset, Dandiset, DandisetVersion, Page
from engines.io.errors import ResponseTooLarge, SourceNotFound, SourceTimeout, SourceUnreachable
from engines.io.fetch import fetch_json
from engines.io.policy import SourcePolicy

__all__ = ["DandiArchive", "MAX_PAGE_SIZE"]

MAX_PAGE_SIZE = 200
MAX_ANSWER_BYTES = 8 << 20
"""Answers larger than this are refused (a page of 200 assets is about 100 KB)."""

_IDENTIFIER = re.compile(r"^\d{6}$")
_VERSION = re.compile(r"^(draft|\d+\.\d+\.\d+)$")


class DandiArchive:
    """One DANDI instance, for one session; connections are ``engines.io``'s, kept alive per thread."""

    def __init__(self, policy: SourcePolicy) -> None:
        self.policy = policy
        self.api = policy.dandi_api_url.rstrip("/")

    # --- calls -------------------------------------------------------------------------------
    def search(
        self, query: str = "", page: int = 1, page_size: int = 20, include_empty: bool = False
    ) -> Page:
        """Dandisets whose metadata matches ``query`` (all when empty), most recently modified first.

        Embargoed dandisets are left out (their files cannot be opened without a key). One request.
        """
        _check_page(page, page_size)
        params = {
            "search": query.strip(),
            "page": page,
            "page_size": page_size,
            "ordering": "-modified",
            "embargoed": "false",
            "empty": "true" if include_empty else "false",
        }
        data = self._get("/dandisets/", params, what="the dandiset search")
        return _page(data, [Dandiset.from_json(item) for item in data.get("results", [])], page, page_size)

    def dandiset(self, identifier: str) -> Dandiset:
        """One dandiset by its 6-digit identifier. One request."""
        _check_identifier(identifier)
        return Dandiset.from_json(self._get(f"/dandisets/{identifier}/", what=f"dandiset {identifier}"))

    def versions(self, identifier: str) -> list[DandisetVersion]:
        """Every version of a dandiset, the draft included, newest first. One request (two past 100)."""
        _check_identifier(identifier)
        found: list[DandisetVersion] = []
        page = 1
        while True:
            data = self._get(
                f"/dandisets/{identifier}/versions/",
                {"page": page, "page_size": 100, "order": "-created"},
                what=f"the versions of dandiset {identifier}",
            )
            found += [DandisetVersion.from_json(item) for item in data.get("results", [])]
            if not data.get("next") or page >= 20:
                return found
            page += 1

    def assets(
        self,
        identifier: str,
        version: str = "draft",
        path_prefix: str = "",
        page: int = 1,
        page_size: int = 50,
    ) -> Page:
        """Files of a dandiset version under ``path_prefix``, by path, with sizes. One request."""
        _check_identifier(identifier)
        _check_version(version)
        _check_page(page, page_size)
        params: dict[str, Any] = {"page": page, "page_size": page_size, "order": "path"}
        if path_prefix.strip("/"):
            params["path"] = path_prefix.lstrip("/")
        data = self._get(
            f"/dandisets/{identifier}/versions/{version}/assets/",
            params,
            what=f"the files of dandiset {identifier} ({version})",
        )
        items = [Asset.from_json(item, self.api, identifier, version) for item in data.get("results", [])]
        return _page(data, items, page, page_size)

    def asset(self, identifier: str, version: str, path: str) -> Asset:
        """The asset at exactly ``path``; what ``open_nwb`` opens is its ``download_url``. One request."""
        listed = self.assets(identifier, version, path, page_size=MAX_PAGE_SIZE)
        for asset in listed.items:
            if asset.path == path.lstrip("/"):
                return asset
        raise SourceNotFound(
            f"Dandiset {identifier} ({version}) has no file at '{path}'. Browse its files to pick one."
        )

    # --- transport -----------------------------------------------------------------------------
    def _get(
        self, route: str, params: dict[str, Any] | None = None, what: str = "the request"
    ) -> dict[str, Any]:
        """The API's JSON answer for ``route`` through ``engines.io`` (policy refusals pass as they are)."""
        host = urlparse(self.api).hostname
        try:
            data = fetch_json(self.api + route, self.policy, MAX_ANSWER_BYTES, params=params, missing_ok=True)
        except SourceTimeout as exc:
            raise SourceUnreachable(
                f"The DANDI API at {host} did not answer within {self.policy.request_timeout_s:g} s. "
                "Try again later, or open a local copy or a direct URL."
            ) from exc
        except ResponseTooLarge as exc:
            raise SourceUnreachable(
                f"The DANDI API's answer for {what} is larger than {MAX_ANSWER_BYTES >> 20} MB; "
                "ask for a smaller page."
            ) from exc
        except (SourceUnreachable, SourceNotFound) as exc:  # not found: the API's name does not resolve
            raise SourceUnreachable(
                f"The DANDI API at {host} could not answer {what}: {exc} Are you offline? "
                "Open a local copy or a direct URL instead."
            ) from exc
        if data is None:
            raise SourceNotFound(f"DANDI has no {what} (HTTP 404). Check the identifier and version.")
        if not isinstance(data, dict):
            raise SourceUnreachable(f"The server at {host} did not answer {what} with DANDI API data.")
        return data


def _page(data: dict[str, Any], items: list[Any], page: int, page_size: int) -> Page:
    return Page(
        items=items,
        count=int(data.get("count") or len(items)),
        page=page,
        page_size=page_size,
        has_next=bool(data.get("next")),
    )


def _check_identifier(identifier: str) -> None:
    if not _IDENTIFIER.match(str(identifier)):
        raise DandiRequestError(
            f"'{identifier}' is not a dandiset identifier: those are 6 digits, like 000409."
        )


def _check_version(version: str) -> None:
    if not _VERSION.match(str(version)):
        raise DandiRequestError(
            f"'{version}' is not a dandiset version: use 'draft' or a published version like 0.230629.1955."
        )


def _check_page(page: int, page_size: int) -> None:
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise DandiRequestError(
            f"Pages start at 1 and hold 1–{MAX_PAGE_SIZE} items (asked: page {page}, {page_size} items)."
        )
