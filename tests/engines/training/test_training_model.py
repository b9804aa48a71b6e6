"""Tokenizers, the foundation model on every modality subset, gradient reversal, freezing, and the losses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from engines.training.config import MODALITIES, ModelConfig
from engines.training.data.windows import DataSpec, SessionSpec
from engines.training.errors import DataError
from engines.training.losses import UncertaintyWeighting, info_nce, tri_modal_info_nce
from engines.training.model import FoundationModel, grad_reverse
from engines.training.model.tokenizers import TOKENIZERS, EegTokenizer

FEATURES = {"spikes": (9, 11), "lfp": (4, 4), "calcium": (6, 6), "eeg": (5, 5), "fmri": (7, 7)}


@pytest.mark.parametrize("modality", MODALITIES)
def test_each_tokenizer_maps_time_by_features_to_time_by_d_model(modality):
    sizes = {0: 3, 1: 10}
    tokenizer = TOKENIZERS[modality](sizes, 24, {0: 0.004, 1: 1.0})
    for session, n in sizes.items():
        out = tokenizer(torch.rand(2, 33, n), session)
        assert out.shape == (2, 33, 24)
        assert torch.isfinite(out).all()


def test_eeg_band_power_keeps_only_bands_below_nyquist():
    tokenizer = EegTokenizer({0: 2, 1: 2, 2: 2}, 8, {0: 1 / 250, 1: 1 / 40, 2: 1.0})
    n_bands = [len(getattr(tokenizer, f"bands_{s}")) for s in range(3)]
    assert n_bands[0] == 5  # 250 Hz: delta..gamma (80 Hz < 125 Hz)
    assert n_bands[1] == 3  # 40 Hz sampling: beta and gamma are above Nyquist
    assert n_bands[2] == 0 and tokenizer.band_power(torch.rand(1, 40, 2), 2) is None


def _spec(n_sessions: int = 2, species: tuple[str, ...] = ("mouse", "human")) -> DataSpec:
    sessions = [
        SessionSpec(
            f"s{i}",
            {m: FEATURES[m][0] for m in MODALITIES},
            {m: FEATURES[m][1] for m in MODALITIES},
            behaviour_dims=2,
            species=species[i % len(species)],
            bin_s=0.02,
        )
        for i in range(n_sessions)
    ]
    return DataSpec(sessions=sessions, modalities=list(MODALITIES), n_stimuli=4, species=sorted(set(species)))


def _model(**overrides) -> FoundationModel:
    torch.manual_seed(0)
    config = ModelConfig(d_model=16, n_heads=2, n_latents=3, n_blocks=1, d_state=4, embed_dim=8, **overrides)
    return FoundationModel(config, _spec())


def _inputs(modalities, batch=2, length=12):
    return {m: torch.rand(batch, length, FEATURES[m][0]) for m in modalities}


def test_model_accepts_every_subset_of_modalities():
    model = _model().eval()
    subsets = [s for k in range(1, len(MODALITIES) + 1) for s in itertools.combinations(MODALITIES, k)]
    assert len(subsets) == 31
    with torch.no_grad():
        for subset in subsets:
            out = model(_inputs(subset), session=1)
            assert out.latent.shape == (2, 12, 16)
            assert out.behaviour.shape == (2, 12, 2)
            assert set(out.reconstruction) == set(subset)
            assert out.reconstruction.get("spikes", torch.zeros(2, 12, 11)).shape == (2, 12, 11)
            assert out.embedding.shape == (2, 12, 8) and out.species_logits.shape == (2, 2)


def test_model_refuses_an_empty_batch_and_a_modality_it_was_not_built_for():
    spec = _spec()
    spec.sessions[1].inputs.pop("fmri")
    model = FoundationModel(ModelConfig(d_model=16, n_heads=2, n_latents=2, n_blocks=1, d_state=4), spec)
    with pytest.raises(DataError, match="at least one modality"):
        model({}, session=0)
    with pytest.raises(DataError, match="no fmri tokenizer for session 1"):
        model(_inputs(["fmri"]), session=1)


def test_gradient_reversal_flips_the_gradient():
    x = torch.randn(5, requires_grad=True)
    (grad_reverse(x, 0.5) * torch.arange(5.0)).sum().backward()
    torch.testing.assert_close(x.grad, -0.5 * torch.arange(5.0))


def test_species_loss_trains_the_classifier_and_pushes_the_encoder_the_other_way():
    model = _model()
    out = model(_inputs(["spikes"]), session=0)
    loss = torch.nn.functional.cross_entropy(out.species_logits, torch.zeros(2, dtype=torch.long))
    (latent_grad,) = torch.autograd.grad(loss, out.latent, retain_graph=True)
    head = model.species_classifier.net
    pooled = out.latent.mean(dim=1)
    (direct,) = torch.autograd.grad(
        torch.nn.functional.cross_entropy(head(pooled), torch.zeros(2, dtype=torch.long)), out.latent
    )
    torch.testing.assert_close(latent_grad, -direct)


def test_freezing_a_component_stops_its_updates_and_unfreezing_restores_them():
    model = _model()
    assert model.set_trainable("backbone", False) > 0
    assert all(not p.requires_grad for p in model.backbone.parameters())
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(_inputs(["spikes", "lfp"]), 0).behaviour.square().mean().backward()
    optimizer.step()
    assert all(torch.equal(before[k], v) for k, v in model.backbone.state_dict().items())
    model.set_trainable("backbone", True)
    model.set_trainable("tokenizers.eeg", False)
    assert all(p.requires_grad for p in model.backbone.parameters())
    assert not any(p.requires_grad for p in model.tokenizers["eeg"].parameters())
    with pytest.raises(ValueError, match="Unknown component"):
        model.set_trainable("decoder", False)


def test_uncertainty_weights_receive_gradients_and_absent_tasks_do_not_move_the_others():
    weighting = UncertaintyWeighting(["behaviour", "reconstruction", "contrastive"])
    a, b = torch.tensor(2.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    weighting({"behaviour": a, "reconstruction": b}).backward()
    grads = {t: p.grad for t, p in weighting.log_vars.items()}
    assert grads["contrastive"] is None
    torch.testing.assert_close(grads["behaviour"], torch.tensor(1 - 2.0))  # d/ds (e^-s L + s) at s=0
    alone = UncertaintyWeighting(["behaviour", "reconstruction", "contrastive"])
    alone({"behaviour": torch.tensor(2.0)}).backward()
    torch.testing.assert_close(alone.log_vars["behaviour"].grad, grads["behaviour"])
    optimizer = torch.optim.AdamW(weighting.parameters(), lr=0.1)
    optimizer.step()
    assert weighting.log_vars["contrastive"].item() == 0.0 and weighting.log_vars["behaviour"].item() > 0


def test_info_nce_is_low_for_matching_pairs_and_high_for_shuffled_ones():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=g)
    matched = info_nce(x, x + 0.01 * torch.randn(64, 8, generator=g), 0.1)
    shuffled = info_nce(x, x[torch.randperm(64, generator=g)], 0.1)
    assert matched < 0.5 and shuffled > 2.0


def test_tri_modal_info_nce_uses_the_pairs_a_batch_has():
    g = torch.Generator().manual_seed(0)
    neural, behaviour = torch.randn(2, 10, 8, generator=g), torch.randn(2, 10, 8, generator=g)
    table = torch.randn(3, 8, generator=g)
    stimulus = torch.tensor(np.tile([0, 1, 2, -1, 0], 4).reshape(2, 10))
    assert tri_modal_info_nce(neural, None, None, table) is None
    assert tri_modal_info_nce(neural, None, torch.full((2, 10), -1), table) is None
    only_behaviour = tri_modal_info_nce(
        neural, behaviour, None, table, generator=torch.Generator().manual_seed(1)
    )
    all_three = tri_modal_info_nce(
        neural, behaviour, stimulus, table, generator=torch.Generator().manual_seed(1)
    )
    assert torch.isfinite(only_behaviour) and torch.isfinite(all_three) and all_three != only_behaviour
