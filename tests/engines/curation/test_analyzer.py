"""Opening analyzers, what they lack, and bad input: missing folders, other versions, empty sortings."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engines._progress import Cancelled
from engines.curation import (
    CURATION_EXTENSIONS,
    AnalyzerOpenError,
    CurationError,
    build_analyzer,
    compute_missing_extensions,
    open_analyzer,
)
from engines.curation.errors import MissingExtensions


def test_the_demo_analyzer_has_every_curation_extension_and_its_recording(demo_folder):
    _, status = open_analyzer(demo_folder)
    assert status.complete and status.has_recording and set(status.present) == set(CURATION_EXTENSIONS)


def test_a_missing_folder_or_a_file_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(AnalyzerOpenError, match="No analyzer at"):
        open_analyzer(tmp_path / "nothing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(AnalyzerOpenError, match="is a file"):
        open_analyzer(tmp_path / "file")


def test_a_folder_written_by_another_version_names_both_versions(analyzer_copy):
    (analyzer_copy / "settings.json").unlink()
    info = analyzer_copy / "spikeinterface_info.json"
    info.write_text(json.dumps({**json.loads(info.read_text()), "version": "0.90.0"}))
    with pytest.raises(AnalyzerOpenError, match=r"by SpikeInterface 0\.105.*written by version 0\.90\.0"):
        open_analyzer(analyzer_copy)


def test_missing_and_unreadable_extensions_are_listed_then_computed(analyzer_copy):
    shutil.rmtree(analyzer_copy / "extensions" / "quality_metrics")
    (analyzer_copy / "extensions" / "correlograms" / "params.json").write_text("{not json")
    analyzer, status = open_analyzer(analyzer_copy)
    assert "correlograms" in status.broken and {"quality_metrics", "correlograms"} <= set(status.missing)
    steps = []
    done = compute_missing_extensions(analyzer, progress=lambda f, m: steps.append(m))
    assert done == ["correlograms", "quality_metrics"] and steps[-1] == "extensions ready"
    assert open_analyzer(analyzer_copy)[1].complete


def test_an_analyzer_without_its_recording_names_what_it_cannot_compute(analyzer_copy):
    shutil.rmtree(analyzer_copy.parent / "recording")
    shutil.rmtree(analyzer_copy / "extensions" / "spike_amplitudes")
    analyzer, status = open_analyzer(analyzer_copy)
    assert not status.has_recording and status.missing == ("spike_amplitudes",)
    with pytest.raises(MissingExtensions, match="spike_amplitudes must be computed from the recording"):
        compute_missing_extensions(analyzer)


def test_computing_extensions_stops_when_cancelled(analyzer_copy):
    shutil.rmtree(analyzer_copy / "extensions" / "quality_metrics")
    analyzer, _ = open_analyzer(analyzer_copy)
    with pytest.raises(Cancelled, match="quality_metrics was cancelled"):
        compute_missing_extensions(analyzer, cancel=lambda: True)
    assert not analyzer.has_extension("quality_metrics")


def test_an_empty_sorting_is_refused_before_anything_is_written(tmp_path, demo_analyzer):
    from spikeinterface.core import NumpySorting

    empty = NumpySorting.from_unit_dict([{}], sampling_frequency=demo_analyzer.sampling_frequency)
    with pytest.raises(CurationError, match="no units"):
        build_analyzer(demo_analyzer.recording, empty, tmp_path / "a")
    nothing = np.array([], dtype=np.int64)
    silent = NumpySorting.from_unit_dict(
        [{"a": nothing, "b": nothing}], sampling_frequency=demo_analyzer.sampling_frequency
    )
    with pytest.raises(CurationError, match="no spikes"):
        build_analyzer(demo_analyzer.recording, silent, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not list(tmp_path.glob(".*tmp*"))


def test_build_analyzer_from_a_recording_and_a_sorting_writes_a_folder_that_opens(tmp_path, demo_analyzer):
    sorting = demo_analyzer.sorting.select_units(demo_analyzer.unit_ids[:3])
    analyzer = build_analyzer(demo_analyzer.recording, sorting, tmp_path / "small")
    assert list(analyzer.unit_ids) == list(demo_analyzer.unit_ids[:3])
    assert open_analyzer(tmp_path / "small")[1].missing == CURATION_EXTENSIONS
