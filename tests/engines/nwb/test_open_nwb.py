"""Opening NWB files from paths and URLs: trees, cached reopen, and every kind of bad input."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import h5py
import numpy as np
import pytest

from engines.io.errors import SourceNotAllowed, SourceNotFound, SourceUnreachable
from engines.nwb.errors import NwbOpenError, NwbReadError
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from tests.conftest import ALL_NWB_FILES, DATA_DIR

NAMES = [str(p.relative_to(DATA_DIR)) for p in ALL_NWB_FILES]


@pytest.mark.parametrize("name", NAMES)
def test_every_file_opens_over_http_and_lists_its_tree(name, range_server, policy, index_store):
    nwb = open_nwb(range_server.url_for(name), policy, index_store)
    with h5py.File(DATA_DIR / name, "r") as reference:
        expected = {"/"}
        reference.visit_links(lambda n: expected.add("/" + n))
    assert set(nwb.index.objects) == expected
    assert nwb.index.nwb_version and nwb.index.nwb_version.startswith("2")


def test_reopen_uses_cached_index_with_one_request(range_server, policy, index_store):
    url = range_server.url_for("sub-4_ses-4_ecephys+image.nwb")
    first = open_nwb(url, policy, index_store)
    range_server.log.clear()
    again = open_nwb(url, policy, IndexStore(policy.workspace))  # a fresh store: the SQLite copy is used
    assert range_server.log.count == 1
    assert set(again.index.objects) == set(first.index.objects)
    assert again.index.get("/units").neurodata_type == "Units"


def test_index_built_by_older_code_is_built_again(range_server, policy, index_store, monkeypatch):
    """An index records what the walk knew when it ran (lineage, dataset facts): a newer format
    must not reuse it, or a fix to the walk never reaches files already opened once."""
    import engines.nwb.index_store as index_store_module

    url = range_server.url_for("sub-4_ses-4_ecephys+image.nwb")
    first = open_nwb(url, policy, index_store)
    assert IndexStore(policy.workspace).get(first.version_key) is not None
    monkeypatch.setattr(index_store_module, "INDEX_FORMAT", index_store_module.INDEX_FORMAT + 1)
    newer = IndexStore(policy.workspace)
    assert newer.get(first.version_key) is None
    again = open_nwb(url, policy, newer)
    assert again.index.get("/units").neurodata_type == "Units"
    assert IndexStore(policy.workspace).get(first.version_key) is not None  # kept under the new format


def test_changed_file_is_reindexed(tmp_path, policy, index_store):
    folder = tmp_path / "served"
    folder.mkdir()
    shutil.copy(DATA_DIR / "anm369963.nwb", folder / "file.nwb")
    from tests.support.range_server import RangeServer

    with RangeServer(folder) as server:
        before = open_nwb(server.url_for("file.nwb"), policy, index_store)
        time.sleep(0.01)
        shutil.copy(DATA_DIR / "A8604-211122_phy.nwb", folder / "file.nwb")
        after = open_nwb(server.url_for("file.nwb"), policy, index_store)
    assert before.version_key != after.version_key
    assert after.index.get("/units").neurodata_type == "Units"
    assert set(after.index.objects) != set(before.index.objects)


def test_data_reads_after_cached_open(range_server, policy, index_store):
    url = range_server.url_for("sub-4_ses-4_ecephys+image.nwb")
    open_nwb(url, policy, index_store)
    nwb = open_nwb(url, policy, index_store)
    with h5py.File(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb", "r") as reference:
        np.testing.assert_array_equal(
            nwb.dataset("/units/spike_times")[:100], reference["units/spike_times"][:100]
        )


def test_broken_file_lists_tree_but_pynwb_error_is_clear(range_server, policy, index_store):
    nwb = open_nwb(range_server.url_for("pynwb-types/test_EventWaveform.nwb"), policy, index_store)
    assert "/acquisition" in nwb.index
    with pytest.raises(NwbReadError, match="pynwb cannot build this file's objects"):
        nwb.pynwb_object("/")


def test_pynwb_object_for_a_good_file(policy, index_store):
    nwb = open_nwb(str(DATA_DIR / "anm369963.nwb"), policy, index_store)
    units = nwb.pynwb_object("/units")
    assert len(units) == 1


@pytest.mark.parametrize(
    ("route", "error", "message"),
    [
        ("status/404", SourceNotFound, "No file at"),
        ("status/403", SourceNotAllowed, "refused access"),
        ("status/500", SourceUnreachable, "HTTP 500"),
        ("loop/file.nwb", SourceUnreachable, "redirect loop"),
        ("README.md", NwbOpenError, "not a readable HDF5 file"),
    ],
)
def test_bad_remote_sources_give_clear_errors(route, error, message, range_server, policy, index_store):
    with pytest.raises(error, match=message):
        open_nwb(range_server.url_for(route), policy, index_store)


def test_stalled_server_fails_within_timeout(range_server, policy, index_store):
    started = time.perf_counter()
    with pytest.raises(SourceUnreachable, match="did not answer within"):
        open_nwb(range_server.url_for("stall/file.nwb"), policy, index_store)
    assert time.perf_counter() - started < policy.request_timeout_s + 5


def test_redirect_is_followed(range_server, policy, index_store):
    nwb = open_nwb(range_server.url_for("redirect/anm369963.nwb"), policy, index_store)
    assert nwb.index.get("/units").neurodata_type == "Units"


def test_private_addresses_refused_unless_allowed(range_server, policy, index_store):
    strict = dataclasses.replace(policy, allow_private_urls=False)
    with pytest.raises(SourceNotAllowed, match="--allow-private-urls"):
        open_nwb(range_server.url_for("anm369963.nwb"), strict, index_store)
    with pytest.raises(SourceNotAllowed, match="private address"):
        open_nwb("http://localhost:1/file.nwb", strict, index_store)


def test_redirect_to_private_address_is_refused(policy, index_store, range_server):
    """A public-looking first hop cannot bounce the server onto the loopback network."""
    from engines.io.range_transport import RequestStats, probe_http

    strict = dataclasses.replace(policy, allow_private_urls=False)
    with pytest.raises(SourceNotAllowed):
        probe_http("http://127.0.0.1:9/x", strict, RequestStats())


def test_local_paths_outside_roots_are_refused(policy, index_store, tmp_path):
    outside = tmp_path / "elsewhere.nwb"
    shutil.copy(DATA_DIR / "anm369963.nwb", outside)
    with pytest.raises(SourceNotAllowed, match="outside the folders"):
        open_nwb(str(outside), policy, index_store)
    with pytest.raises(SourceNotAllowed):
        open_nwb(str(DATA_DIR / ".." / ".." / ".." / "README.md"), policy, index_store)


def test_missing_local_file(policy, index_store):
    with pytest.raises(SourceNotFound, match="No file at"):
        open_nwb(str(DATA_DIR / "nope.nwb"), policy, index_store)


def test_truncated_file_is_reported(policy, index_store, workspace):
    data = (DATA_DIR / "sub-4_ses-4_ecephys+image.nwb").read_bytes()
    (workspace / "truncated.nwb").write_bytes(data[: len(data) // 3])
    with pytest.raises(NwbOpenError, match="truncated|not a readable"):
        nwb = open_nwb(str(workspace / "truncated.nwb"), policy, index_store)
        nwb.dataset("/units/spike_times")[:]


def test_plain_hdf5_and_nwb1_are_rejected(policy, index_store, workspace):
    with h5py.File(workspace / "plain.h5", "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(NwbOpenError, match="not an NWB file"):
        open_nwb(str(workspace / "plain.h5"), policy, index_store)
    with h5py.File(workspace / "old.nwb", "w") as f:
        f["nwb_version"] = "NWB-1.0.6"
    with pytest.raises(NwbOpenError, match="NWB 1.x"):
        open_nwb(str(workspace / "old.nwb"), policy, index_store)


def test_unsupported_scheme(policy, index_store):
    from engines.io.errors import SourceError

    with pytest.raises(SourceError, match="Unsupported URL scheme"):
        open_nwb("ftp://example.org/file.nwb", policy, index_store)


def test_s3_and_gs_sources_stream_from_configured_endpoints(range_server, policy, index_store, monkeypatch):
    """Anonymous s3:// and gs:// become path-style object URLs on the configured endpoint."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent")
    endpoint = dataclasses.replace(policy, s3_endpoint_url=range_server.url, gs_endpoint_url=range_server.url)
    s3 = open_nwb("s3://pynwb-types/test_Units.nwb", endpoint, index_store)
    gs = open_nwb("gs://pynwb-types/test_Units.nwb", endpoint, index_store)
    assert s3.index.get("/acquisition/UnitsTest").neurodata_type == "Units"
    assert set(gs.index.objects) == set(s3.index.objects)


class _DandiApi(BaseHTTPRequestHandler):
    """The DANDI API's asset lookup, answering for one dandiset, so resolution runs over real HTTP."""

    assets = {"sub-anm369963/sub-anm369963_ecephys.nwb": "0a1b2c3d"}

    def log_message(self, *args):
        pass

    def do_GET(self):
        from urllib.parse import parse_qs, urlparse

        parsed = urlparse(self.path)
        if parsed.path == "/api/dandisets/000123/versions/draft/assets/":
            path = parse_qs(parsed.query).get("path", [""])[0]
            results = [{"asset_id": a, "path": p} for p, a in self.assets.items() if p == path]
            body = json.dumps({"count": len(results), "results": results}).encode()
            self.send_response(200)
        elif parsed.path == "/api/assets/0a1b2c3d/download/":
            self.send_response(302)
            self.send_header("Location", self.server.file_url)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        else:
            body = b'{"detail": "Not found."}'
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def dandi_api(range_server):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DandiApi)
    server.file_url = range_server.url_for("anm369963.nwb")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_dandi_asset_path_resolves_and_follows_redirect_to_storage(dandi_api, policy, index_store):
    dandi = dataclasses.replace(policy, dandi_api_url=dandi_api)
    nwb = open_nwb("dandi://000123/sub-anm369963/sub-anm369963_ecephys.nwb", dandi, index_store)
    assert nwb.index.get("/units").neurodata_type == "Units"
    with pytest.raises(SourceNotFound, match="has no asset"):
        open_nwb("dandi://000123/sub-x/missing.nwb", dandi, index_store)
    with pytest.raises(SourceNotFound, match="was not found on DANDI"):
        open_nwb("dandi://000999/sub-x/missing.nwb", dandi, index_store)


def test_dandi_offline_gives_clear_error(policy, index_store):
    offline = dataclasses.replace(policy, dandi_api_url="http://127.0.0.1:9/api", request_timeout_s=2)
    with pytest.raises(SourceUnreachable, match="Cannot reach the DANDI API"):
        open_nwb("dandi://000123/sub-x/file.nwb", offline, index_store)


def test_closed_file_reopens_its_bytes_on_demand(range_server, policy, index_store):
    nwb = open_nwb(range_server.url_for("anm369963.nwb"), policy, index_store)
    first = nwb.dataset("/units/spike_times")[:5]
    nwb.close()
    np.testing.assert_array_equal(nwb.dataset("/units/spike_times")[:5], first)
    nwb.close()


def test_files_opened_one_after_another_by_jobs_share_one_store_and_hold_no_more_files(tmp_path):
    """A store keeps one SQLite connection; a store per job would hold files open until the garbage
    collector ran (a server's open-file count grew with the jobs it ran)."""
    import os

    from engines.io.policy import SourcePolicy
    from engines.nwb.index_store import workspace_index_store

    policy = SourcePolicy(workspace=tmp_path, allowed_roots=(DATA_DIR,))
    assert workspace_index_store(tmp_path) is workspace_index_store(tmp_path / ".")
    open_nwb(str(DATA_DIR / "anm369963.nwb"), policy, workspace_index_store(tmp_path)).close()
    held = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        open_nwb(str(DATA_DIR / "anm369963.nwb"), policy, workspace_index_store(tmp_path)).close()
    assert len(os.listdir("/proc/self/fd")) <= held
