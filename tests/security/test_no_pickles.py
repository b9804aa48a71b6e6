"""A crafted analyzer folder under a root must not run code when it is opened for curation.

SpikeInterface rebuilds an analyzer's recording by unpickling ``recording.pickle`` or by calling
the class ``recording.json`` names, and loads extension ``.pkl`` files and object ``.npy`` arrays
with pickle. Each planted file below would create a marker file when loaded that way.
"""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from engines.curation import AnalyzerOpenError, MissingExtensions, compute_missing_extensions, open_analyzer


class _Touch:
    """Unpickling this creates ``path`` (stands for any code an attacker wants run)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.fixture
def analyzer_folder(tmp_path: Path) -> Path:
    """A small real analyzer (3 units, 4 channels, 2 s) over a saved binary recording, with
    ``random_spikes``."""
    from spikeinterface.core import create_sorting_analyzer, generate_ground_truth_recording

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recording, sorting = generate_ground_truth_recording(
            durations=[2.0], num_channels=4, num_units=3, seed=1
        )
        recording = recording.save(folder=tmp_path / "recording", progress_bar=False)
        analyzer = create_sorting_analyzer(
            sorting, recording, format="binary_folder", folder=tmp_path / "an", sparse=False
        )
        analyzer.compute("random_spikes")
    return tmp_path / "an"


def _plant_recording_pickle(folder: Path, marker: Path) -> None:
    (folder / "recording.json").unlink(missing_ok=True)
    (folder / "recording.pickle").write_bytes(pickle.dumps(_Touch(marker)))


def test_a_pickled_recording_is_not_unpickled_and_the_message_names_trust_pickles(analyzer_folder, tmp_path):
    marker = tmp_path / "recording-ran"
    _plant_recording_pickle(analyzer_folder, marker)

    analyzer, status = open_analyzer(analyzer_folder)

    assert not marker.exists()
    assert not status.has_recording and "recording.pickle" in status.no_recording
    assert "--trust-pickles" in status.no_recording
    with pytest.raises(MissingExtensions, match="--trust-pickles"):
        compute_missing_extensions(analyzer, ("templates",), no_recording=status.no_recording)


def test_a_recording_json_naming_another_class_is_not_called(analyzer_folder, tmp_path):
    marker = tmp_path / "json-ran"
    (analyzer_folder / "recording.json").write_text(
        json.dumps(
            {
                "class": "builtins.open",
                "module": "builtins",
                "version": "1",
                "annotations": {},
                "properties": {},
                "relative_paths": False,
                "kwargs": {"file": str(marker), "mode": "w"},
            }
        )
    )

    _, status = open_analyzer(analyzer_folder)

    assert not marker.exists()
    assert not status.has_recording and "builtins.open" in status.no_recording


def test_a_pickled_extension_file_is_left_out_not_loaded(analyzer_folder, tmp_path):
    marker = tmp_path / "extension-ran"
    (analyzer_folder / "extensions" / "random_spikes" / "extra.pkl").write_bytes(pickle.dumps(_Touch(marker)))

    analyzer, status = open_analyzer(analyzer_folder)

    assert not marker.exists()
    assert status.untrusted == ("random_spikes",) and "random_spikes" in status.missing
    assert status.has_recording  # its recording.json names SpikeInterface's binary folder: still attached


def test_a_sorting_with_pickled_properties_is_refused_with_what_to_do(analyzer_folder, tmp_path):
    marker = tmp_path / "property-ran"
    properties = analyzer_folder / "sorting" / "properties"
    properties.mkdir(exist_ok=True)
    np.save(properties / "quality.npy", np.array([_Touch(marker)] * 3, dtype=object), allow_pickle=True)

    with pytest.raises(AnalyzerOpenError, match="--trust-pickles") as caught:
        open_analyzer(analyzer_folder)

    assert not marker.exists()
    assert "sorting/properties/quality.npy" in str(caught.value)


def test_the_curate_command_refuses_it_too_and_names_its_flag(analyzer_folder, tmp_path, capsys):
    from engines.curation.batch import main

    marker = tmp_path / "cli-ran"
    properties = analyzer_folder / "sorting" / "properties"
    properties.mkdir(exist_ok=True)
    np.save(properties / "quality.npy", np.array([_Touch(marker)] * 3, dtype=object), allow_pickle=True)

    status = main(["--analyzer", str(analyzer_folder), "--out", str(tmp_path / "out"), "--no-labels"])

    assert status == 1 and not marker.exists()
    assert "--trust-pickles" in capsys.readouterr().err


def test_with_trust_pickles_the_operator_lets_the_folder_be_unpickled(analyzer_folder, tmp_path):
    marker = tmp_path / "trusted-ran"
    _plant_recording_pickle(analyzer_folder, marker)

    open_analyzer(analyzer_folder, trust_pickles=True)

    assert marker.exists()
