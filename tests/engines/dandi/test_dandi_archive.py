"""DANDI browsing against a local server answering with the DANDI API's shapes: search, pages, versions,
assets, opening one."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from engines.dandi import DandiArchive, DandiRequestError
from engines.io.errors import SourceNotAllowed, SourceNotFound, SourceUnreachable
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from tests.support.dandi_server import DandiApiServer, FakeAsset, FakeDandiset

REAL_FILE = "sub-4_ses-4_ecephys+image.nwb"


def _dandisets(file_url: str, file_size: int) -> list[FakeDandiset]:
    many = [
        FakeAsset(f"sub-{i:02d}/sub-{i:02d}_ses-1_ecephys.nwb", 1000 + i, f"id-{i:03d}") for i in range(120)
    ]
    return [
        FakeDandiset(
            "000409",
            "Brain-wide map of mouse decisions",
            assets=many,
            published=["0.230629.1955"],
            modified="2024-05-01T00:00:00Z",
        ),
        FakeDandiset(
            "000004",
            "Human memory: medial temporal lobe neurons",
            assets=[
                FakeAsset(f"sub-4/{REAL_FILE}", file_size, "asset-real", url=file_url),
                FakeAsset("sub-4/sub-4_eeg.edf", 52_000, "asset-edf"),
            ],
            modified="2024-06-01T00:00:00Z",
        ),
        FakeDandiset("000777", "Mouse visual cortex (embargoed)", assets=many[:2], embargoed=True),
        FakeDandiset("000888", "An empty mouse draft", assets=[]),
    ]


@pytest.fixture
def archive_server(range_server, nwb_data_dir):
    size = (nwb_data_dir / REAL_FILE).stat().st_size
    with DandiApiServer(_dandisets(range_server.url_for(REAL_FILE), size)) as server:
        yield server


@pytest.fixture
def archive(archive_server, policy):
    return DandiArchive(dataclasses.replace(policy, dandi_api_url=archive_server.api_url))


def test_search_finds_matching_open_dandisets_newest_first(archive):
    found = archive.search("mouse")
    assert [d.identifier for d in found.items] == ["000409"], "embargoed and empty dandisets are left out"
    everything = archive.search()
    assert [d.identifier for d in everything.items] == ["000004", "000409"]
    first = everything.items[1]
    assert first.name == "Brain-wide map of mouse decisions"
    assert first.latest.version == "0.230629.1955" and first.draft.asset_count == 120
    assert archive.search("mouse", include_empty=True).count == 2


def test_assets_are_listed_in_pages_with_sizes(archive, archive_server):
    first = archive.assets("000409", page_size=50)
    assert (first.count, first.pages, first.has_next) == (120, 3, True)
    assert [a.path for a in first.items][:2] == [
        "sub-00/sub-00_ses-1_ecephys.nwb",
        "sub-01/sub-01_ses-1_ecephys.nwb",
    ]
    assert first.items[1].size == 1001
    last = archive.assets("000409", page=3, page_size=50)
    assert len(last.items) == 20 and not last.has_next
    narrowed = archive.assets("000409", version="0.230629.1955", path_prefix="sub-11/")
    assert [a.path for a in narrowed.items] == ["sub-11/sub-11_ses-1_ecephys.nwb"]
    assert narrowed.items[0].dandi_url == "dandi://000409@0.230629.1955/sub-11/sub-11_ses-1_ecephys.nwb"
    path, query = archive_server.requests[-1]
    assert path == "/api/dandisets/000409/versions/0.230629.1955/assets/" and query["path"] == "sub-11/"


def test_versions_and_dandiset_details(archive):
    assert [v.version for v in archive.versions("000409")] == ["0.230629.1955", "draft"]
    dandiset = archive.dandiset("000004")
    assert dandiset.published is None and dandiset.latest.version == "draft"
    assert dandiset.latest.size > 52_000


def test_an_asset_opens_in_the_nwb_engine_through_the_download_redirect(archive, policy, workspace):
    asset = archive.asset("000004", "draft", f"sub-4/{REAL_FILE}")
    assert asset.kind == "nwb" and asset.download_url.endswith("/assets/asset-real/download/")
    nwb = open_nwb(asset.download_url, policy, IndexStore(workspace))
    try:
        assert nwb.index.get("/units").neurodata_type == "Units"
    finally:
        nwb.close()
    assert archive.asset("000004", "draft", "sub-4/sub-4_eeg.edf").kind == "edf"


def test_unknown_things_are_not_found(archive):
    with pytest.raises(SourceNotFound, match="HTTP 404"):
        archive.dandiset("000999")
    with pytest.raises(SourceNotFound, match="no file at 'sub-4/missing.nwb'"):
        archive.asset("000004", "draft", "sub-4/missing.nwb")
    with pytest.raises(SourceNotFound, match="HTTP 404"):
        archive.assets("000409", version="9.999999.9999")


def test_malformed_requests_are_refused_before_any_request(archive, archive_server):
    before = len(archive_server.requests)
    with pytest.raises(DandiRequestError, match="6 digits"):
        archive.assets("409")
    with pytest.raises(DandiRequestError, match="not a dandiset version"):
        archive.assets("000409", version="latest; drop")
    with pytest.raises(DandiRequestError, match="Pages start at 1"):
        archive.search(page=0)
    assert len(archive_server.requests) == before


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_unreachable_and_failing_archives_say_so(policy, archive_server, archive):
    offline = DandiArchive(
        dataclasses.replace(policy, dandi_api_url=f"http://127.0.0.1:{_closed_port()}/api")
    )
    with pytest.raises(SourceUnreachable, match="Are you offline"):
        offline.search("mouse")
    archive_server.status = 503
    with pytest.raises(SourceUnreachable, match="HTTP 503.*Try again later"):
        archive.search("mouse")
    archive_server.status = 0
    archive_server.hang_s = 2.0
    slow = DandiArchive(
        dataclasses.replace(policy, dandi_api_url=archive_server.api_url, request_timeout_s=0.3)
    )
    with pytest.raises(SourceUnreachable, match="did not answer within 0.3 s"):
        slow.search("mouse")


def test_private_api_addresses_are_refused_unless_allowed(policy, archive_server):
    strict = DandiArchive(
        dataclasses.replace(policy, dandi_api_url=archive_server.api_url, allow_private_urls=False)
    )
    with pytest.raises(SourceNotAllowed, match="private address"):
        strict.search("mouse")
    assert archive_server.requests == []
