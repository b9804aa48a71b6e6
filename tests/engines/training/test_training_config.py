"""Training configs: validation messages for unknown keys and wrong types, files, and the start-run form."""

from __future__ import annotations

import json

import pytest

from engines.training.config import MODEL_SIZES, build_config, load_config, parse_config
from engines.training.errors import ConfigError

MINIMAL = {"data": {"sources": [{"kind": "synthetic"}]}}


def test_a_minimal_config_gets_working_defaults():
    config = parse_config(MINIMAL)
    assert config.training.steps == 1000 and config.model.d_model == 64 and config.data.seq_len == 64
    assert config.hyperparameters()["data.sources"] == "synthetic"


def test_unknown_keys_are_named_with_the_closest_valid_key():
    raw = {"data": {"sources": [{"kind": "synthetic", "n_bnis": 100}], "seqlen": 8}, "trainig": {}}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    text = str(caught.value)
    assert "data.sources.0.n_bnis: unknown key. Did you mean 'n_bins'?" in text
    assert "data.seqlen: unknown key. Did you mean 'seq_len'?" in text
    assert "trainig: unknown key. Did you mean 'training'?" in text


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            {**MINIMAL, "training": {"steps": "many"}},
            r"training.steps: input should be a valid integer.*'many'",
        ),
        ({**MINIMAL, "model": {"d_model": 30, "n_heads": 4}}, "must be a multiple of n_heads"),
        ({**MINIMAL, "optim": {"lr": -1}}, "optim.lr: input should be greater than 0"),
        (
            {"data": {"sources": [{"kind": "hdf9"}]}},
            "'hdf9' is not a data source kind; choose one of synthetic, nwb",
        ),
        ({"data": {"sources": []}}, "data.sources: list should have at least 1 item"),
        ({"model": {}}, "data: required, but missing"),
        ([1, 2], "mapping of sections"),
    ],
)
def test_wrong_types_and_values_get_one_clear_line_each(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_configs_load_from_yaml_and_json_files(tmp_path):
    (tmp_path / "run.yaml").write_text(
        "data:\n  sources:\n    - kind: nitime\n      dataset: fmri_roi\ntraining:\n  steps: 12\n"
    )
    (tmp_path / "run.json").write_text(json.dumps({**MINIMAL, "training": {"steps": 7}}))
    assert load_config(tmp_path / "run.yaml").training.steps == 12
    assert load_config(tmp_path / "run.json").training.steps == 7


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("missing.yaml", None, "No config file at"),
        ("broken.yaml", "data: [unclosed", "not valid YAML"),
        ("broken.json", "{'single': quotes}", "not valid JSON"),
    ],
)
def test_unreadable_config_files_say_why(tmp_path, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / name)


def test_the_start_form_builds_a_config_from_data_modalities_size_and_steps():
    config = build_config(
        [{"kind": "nwb", "path": "/data/a.nwb"}], modalities=["spikes"], model_size="base", steps=50
    )
    assert config.model.d_model == MODEL_SIZES["base"]["d_model"] and config.training.steps == 50
    assert config.data.modalities == ["spikes"] and config.data.sources[0].path == "/data/a.nwb"
    with pytest.raises(ConfigError, match="Unknown model size 'huge'"):
        build_config([{"kind": "synthetic"}], model_size="huge")
