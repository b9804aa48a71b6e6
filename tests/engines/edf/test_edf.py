"""EDF/BDF files written by pyedflib, read here locally and over HTTP, checked against pyedflib's reader."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from engines.edf import EdfOpenError, EdfRequestError, open_edf
from engines.io.errors import SourceError, SourceNotAllowed
from engines.io.policy import SourcePolicy
from tests.support.range_server import RangeServer

SECONDS = 30
RATES = (256, 256, 256, 128)
START = datetime(2021, 3, 4, 5, 6, 7)
ANNOTATIONS = [(1.5, 0.5, "stimulus A"), (7.25, -1, "button press"), (22.0, 2.0, "stimulus B")]


def write_recording(
    path: Path, file_type: int, annotations: bool = True, seconds: int = SECONDS
) -> list[np.ndarray]:
    """Four channels (three at 256 Hz, one at 128 Hz), with annotations when EDF+/BDF+; returns the
    signals."""
    bdf = file_type in (pyedflib.FILETYPE_BDF, pyedflib.FILETYPE_BDFPLUS)
    digital = 2**23 - 1 if bdf else 2**15 - 1
    rng = np.random.default_rng(7)
    signals = []
    headers = []
    for i, rate in enumerate(RATES):
        t = np.arange(seconds * rate) / rate
        signals.append(np.sin(2 * np.pi * (i + 1) * t) * 400 + rng.normal(0, 50, t.size) + 10 * i)
        headers.append(
            {
                "label": f"EEG {i}",
                "dimension": "uV" if i < 3 else "mV",
                "sample_frequency": rate,
                "physical_max": 1000.0,
                "physical_min": -1000.0,
                "digital_max": digital,
                "digital_min": -digital - 1,
                "transducer": "AgCl",
                "prefilter": "HP:0.1Hz",
            }
        )
    writer = pyedflib.EdfWriter(str(path), len(RATES), file_type=file_type)
    writer.setSignalHeaders(headers)
    writer.setStartdatetime(START)
    writer.writeSamples(signals)
    if annotations:
        for onset, duration, text in ANNOTATIONS:
            writer.writeAnnotation(onset, duration, text)
    writer.close()
    return signals


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("edf")
    write_recording(folder / "rec.edf", pyedflib.FILETYPE_EDFPLUS)
    write_recording(folder / "rec.bdf", pyedflib.FILETYPE_BDFPLUS)
    write_recording(folder / "plain.edf", pyedflib.FILETYPE_EDF, annotations=False)
    write_recording(
        folder / "long.edf", pyedflib.FILETYPE_EDFPLUS, seconds=300
    )  # 600 KB: past the probe's 64 KB
    data = (folder / "rec.edf").read_bytes()
    (folder / "truncated.edf").write_bytes(data[: len(data) * 2 // 3])
    (folder / "bucket").mkdir()
    shutil.copy(folder / "rec.bdf", folder / "bucket" / "rec.bdf")
    (folder / "notes.edf").write_bytes(b"just some text, not a recording" * 20)
    return folder


@pytest.fixture(scope="module")
def server(recordings):
    with RangeServer(recordings) as running:
        yield running


@pytest.fixture
def edf_policy(recordings, tmp_path) -> SourcePolicy:
    return SourcePolicy(
        workspace=tmp_path, allowed_roots=(recordings,), allow_private_urls=True, request_timeout_s=5.0
    )


def _reference(path: Path) -> pyedflib.EdfReader:
    return pyedflib.EdfReader(str(path))


@pytest.mark.parametrize("name", ["rec.edf", "rec.bdf", "plain.edf"])
def test_header_and_channels_match_pyedflib(name, recordings, edf_policy):
    edf = open_edf(str(recordings / name), edf_policy)
    reference = _reference(recordings / name)
    try:
        assert [c.label for c in edf.signals] == reference.getSignalLabels()
        assert [c.sampling_rate for c in edf.signals] == list(reference.getSampleFrequencies())
        assert [c.unit for c in edf.signals] == [reference.getPhysicalDimension(i) for i in range(len(RATES))]
        assert [c.physical_max for c in edf.signals] == list(reference.getPhysicalMaximum())
        assert [c.digital_min for c in edf.signals] == list(reference.getDigitalMinimum())
        assert edf.header.start == START
        assert edf.time_range() == (0.0, float(SECONDS))
        assert edf.header.format.startswith("BDF" if name.endswith(".bdf") else "EDF")
        assert edf.has_annotations == (name != "plain.edf")
    finally:
        reference.close()
        edf.close()


@pytest.mark.parametrize("name", ["rec.edf", "rec.bdf"])
def test_windows_match_pyedflib_samples_and_scaling(name, recordings, edf_policy):
    edf = open_edf(str(recordings / name), edf_policy)
    reference = _reference(recordings / name)
    try:
        truth = np.stack([reference.readSignal(i) for i in range(3)], axis=1)
        for t0, t1 in [(0.0, 1.0), (2.3, 7.9), (29.0, 31.0)]:
            window = edf.read_window(t0, t1, channels=[0, 1, 2], max_points=10**6)
            t = np.arange(SECONDS * 256) / 256
            keep = (t >= t0) & (t < t1)
            np.testing.assert_allclose(window.t, t[keep])
            np.testing.assert_allclose(window.values, truth[keep], atol=1e-9)
            assert window.channel_labels == ["EEG 0", "EEG 1", "EEG 2"] and window.unit == "uV"
            assert not window.decimated and not window.sampled
        slow = edf.read_window(10.0, 12.0, channels=[3], max_points=10**6)
        np.testing.assert_allclose(slow.values[:, 0], reference.readSignal(3)[1280:1536], atol=1e-9)
        assert slow.unit == "mV"
    finally:
        reference.close()
        edf.close()


@pytest.mark.parametrize("name", ["rec.edf", "rec.bdf"])
def test_annotations_match_pyedflib(name, recordings, edf_policy):
    edf = open_edf(str(recordings / name), edf_policy)
    reference = _reference(recordings / name)
    try:
        onsets, durations, texts = reference.readAnnotations()
        found = edf.annotations()
        assert [a.text for a in found] == list(texts)
        np.testing.assert_allclose([a.onset for a in found], onsets)
        assert [a.duration for a in found] == [None if d < 0 else pytest.approx(d) for d in durations]
    finally:
        reference.close()
        edf.close()


def test_default_window_and_decimation_keep_every_extreme(recordings, edf_policy):
    edf = open_edf(str(recordings / "rec.edf"), edf_policy)
    reference = _reference(recordings / "rec.edf")
    try:
        first = edf.read_window()
        assert (first.t_start, first.t_stop) == (0.0, 10.0)
        assert first.channels == [0, 1, 2], "the first signal's rate: the 128 Hz channel is left out"
        long = edf.read_window(0.0, 30.0, channels=[1], max_points=200)
        truth = reference.readSignal(1)
        assert long.decimated and len(long.t) <= 200
        assert long.values.min() == pytest.approx(truth.min()) and long.values.max() == pytest.approx(
            truth.max()
        )
    finally:
        reference.close()
        edf.close()


def test_long_window_reads_spaced_records_within_max_bytes(recordings, edf_policy):
    edf = open_edf(str(recordings / "rec.edf"), edf_policy)
    window = edf.read_window(0.0, 30.0, channels=[0], max_bytes=4 * edf.header.record_bytes, max_points=100)
    assert window.sampled and window.bytes_read <= 4 * edf.header.record_bytes
    assert window.t[0] == 0.0 and window.t[-1] > 25.0, "spaced runs cover the whole window"
    edf.close()


def test_remote_window_reads_only_its_records(recordings, server, edf_policy):
    edf = open_edf(server.url_for("long.edf"), edf_policy)
    local = open_edf(str(recordings / "long.edf"), edf_policy)
    assert server.log.count == 1, "opening is the probe request alone"
    server.log.clear()
    window = edf.read_window(212.0, 214.0, channels=[0, 1])
    np.testing.assert_array_equal(window.values, local.read_window(212.0, 214.0, channels=[0, 1]).values)
    record = edf.header.record_bytes
    assert server.log.count == 1, "the window's records come in one request"
    assert server.log.bytes == 2 * record, "exactly the two records of the window"
    assert window.bytes_read == 2 * record
    assert edf.annotations() == local.annotations()
    edf.close()
    local.close()


def test_s3_source_reads_through_the_configured_endpoint(recordings, server, edf_policy, monkeypatch):
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    policy = dataclasses.replace(edf_policy, s3_endpoint_url=server.url)
    edf = open_edf("s3://bucket/rec.bdf", policy)
    local = open_edf(str(recordings / "rec.bdf"), edf_policy)
    np.testing.assert_array_equal(edf.read_window(3.0, 4.0).values, local.read_window(3.0, 4.0).values)
    edf.close()
    local.close()


def test_truncated_file_is_refused_with_a_clear_error(recordings, server, edf_policy):
    with pytest.raises(EdfOpenError, match=r"holds \d+ of the 30 data records.*Download or copy it again"):
        open_edf(str(recordings / "truncated.edf"), edf_policy)
    with pytest.raises(EdfOpenError, match="cut short"):
        open_edf(server.url_for("truncated.edf"), edf_policy)


def test_other_files_and_places_are_refused(recordings, server, edf_policy, tmp_path):
    with pytest.raises(EdfOpenError, match="not an EDF or BDF file"):
        open_edf(str(recordings / "notes.edf"), edf_policy)
    outside = tmp_path / "elsewhere.edf"
    shutil.copy(recordings / "rec.edf", outside)
    with pytest.raises(SourceNotAllowed, match="outside the folders"):
        open_edf(str(outside), edf_policy)
    with pytest.raises(SourceNotAllowed, match="private address"):
        open_edf(server.url_for("rec.edf"), dataclasses.replace(edf_policy, allow_private_urls=False))


def test_bad_requests_get_typed_errors(recordings, edf_policy):
    edf = open_edf(str(recordings / "rec.edf"), edf_policy)
    with pytest.raises(EdfRequestError, match="different rates"):
        edf.read_window(channels=[0, 3])
    with pytest.raises(EdfRequestError, match="channel 9 does not exist"):
        edf.read_window(channels=[9])
    with pytest.raises(EdfRequestError, match="t_stop must be after t_start"):
        edf.read_window(5.0, 1.0)
    edf.close()


def test_damaged_annotations_are_reported_and_signals_still_read(recordings, edf_policy, tmp_path):
    edf = open_edf(str(recordings / "rec.edf"), edf_policy)
    signal = next(c for c in edf.header.channels if c.is_annotation)
    at = edf.header.header_bytes + 3 * edf.header.record_bytes + signal.offset
    data = bytearray((recordings / "rec.edf").read_bytes())
    data[at : at + 4] = b"xx\x14\x00"
    broken = tmp_path / "broken.edf"
    broken.write_bytes(bytes(data))
    damaged = open_edf(str(broken), dataclasses.replace(edf_policy, allowed_roots=(tmp_path,)))
    with pytest.raises(SourceError, match="record 3 .* damaged"):
        damaged.annotations()
    assert damaged.read_window(0.0, 1.0).values.shape == (256, 3)
    damaged.close()
    edf.close()


def _discontinuous_copy(source: Path, target: Path, gap_from: int, gap_s: float) -> None:
    """``source`` made EDF+D: records from ``gap_from`` on start ``gap_s`` later (their time-keeping TALs say
    so)."""
    data = bytearray(source.read_bytes())
    data[192:197] = b"EDF+D"
    reference = open_edf(str(source), SourcePolicy(workspace=target.parent, allowed_roots=(source.parent,)))
    header = reference.header
    signal = next(c for c in header.channels if c.is_annotation)
    size = signal.samples_per_record * header.sample_bytes
    for record in range(gap_from, header.n_records):
        at = header.header_bytes + record * header.record_bytes + signal.offset
        raw = bytes(data[at : at + size])
        keeping, _, rest = raw.partition(b"\x00")  # the time-keeping TAL, then the record's other TALs
        onset = float(keeping.split(b"\x14")[0]) + gap_s
        rewritten = f"+{onset:g}".encode() + b"\x14\x14\x00" + rest.rstrip(b"\x00") + b"\x00"
        data[at : at + size] = rewritten.ljust(size, b"\x00")
    reference.close()
    target.write_bytes(bytes(data))


def test_discontinuous_records_are_placed_by_their_time_keeping(recordings, edf_policy, tmp_path):
    _discontinuous_copy(recordings / "rec.edf", tmp_path / "gaps.edf", gap_from=15, gap_s=100.0)
    edf = open_edf(str(tmp_path / "gaps.edf"), dataclasses.replace(edf_policy, allowed_roots=(tmp_path,)))
    reference = _reference(recordings / "rec.edf")
    try:
        assert edf.header.discontinuous
        assert edf.time_range() == (0.0, 130.0)
        after = edf.read_window(115.0, 117.0, channels=[0], max_points=10**6)
        np.testing.assert_allclose(
            after.values[:, 0], reference.readSignal(0)[15 * 256 : 17 * 256], atol=1e-9
        )
        np.testing.assert_allclose(after.t, 115.0 + np.arange(512) / 256)
        assert len(edf.read_window(40.0, 50.0).t) == 0, "no record lies in the gap"
        assert [a.text for a in edf.annotations()] == [text for _, _, text in ANNOTATIONS]
    finally:
        reference.close()
        edf.close()
