"""The start form offers the Lorenz benchmark; the Evaluation tab shows each modality alone and NLB scores."""

from __future__ import annotations

from components.training.evaluation import describe_scores
from components.training.form import StartRunForm
from components.training.plots import decoding_frame


def test_the_form_starts_a_lorenz_run_with_its_seed():
    form = StartRunForm(lambda config, nproc: None, data="lorenz", seed=4)
    source = form.config().data.sources[0]
    assert (source.kind, source.seed, source.n_heldout) == ("lorenz", 4, 10)


def test_each_modality_alone_and_nlb_scores_are_described_beside_the_baselines():
    evaluation = {
        "checkpoint_step": 9,
        "decoding_r2": {"all": 0.9, "spikes": 0.64, "<b>calcium</b>": 0.5},
        "alone_r2": {
            "spikes": {"model": 0.64, "ridge": 0.56, "cebra": 0.41},
            "<b>calcium</b>": {"model": 0.5, "ridge": 0.55, "cebra": None},
        },
        "baselines": {
            "ridge_r2": {"all": 0.7, "spikes": 0.56},
            "cebra_r2": 0.6,
            "cebra_r2_per_modality": {"all": 0.6, "spikes": 0.41},
        },
        "nlb": {"co_bps": 0.81, "fp_bps": 0.3, "smoothing_co_bps": 0.79},
    }
    text = describe_scores(evaluation)
    assert "spikes 0.640 / 0.560 / 0.410" in text and "beats ridge on 1 of 2" in text
    assert "<b>" not in text  # names from data are escaped
    assert "co-bps 0.810, fp-bps 0.300" in text and "baseline co-bps 0.790" in text
    table = decoding_frame(evaluation).set_index("input")
    assert table.loc["spikes", "CEBRA R²"] == 0.41 and table.loc["all", "CEBRA R²"] == 0.6
