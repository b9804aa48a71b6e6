"""The training configuration: one validated document (YAML or JSON) per run, saved in its folder.

Unknown keys and wrong types are refused with one line per problem that names the key, what
was expected and, for a misspelt key, the closest valid name. No torch import here: the page
builds and validates configs before any model exists.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from engines.training.errors import ConfigError

__all__ = [
    "MODALITIES",
    "MODEL_SIZES",
    "TASKS",
    "SyntheticSource",
    "NwbSource",
    "NitimeSource",
    "SessionFileSource",
    "IblSource",
    "AllenSource",
    "EegMotorSource",
    "NilearnSource",
    "LorenzSource",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "RunSettings",
    "LoggingConfig",
    "TrainingConfig",
    "parse_config",
    "load_config",
    "build_config",
]

Modality = Literal["spikes", "lfp", "calcium", "eeg", "fmri"]
Task = Literal["behaviour", "reconstruction", "contrastive", "adversarial"]

MODALITIES: tuple[Modality, ...] = ("spikes", "lfp", "calcium", "eeg", "fmri")
"""Modality kinds a tokenizer exists for, in the order tokens are stacked."""

TASKS: tuple[Task, ...] = ("behaviour", "reconstruction", "contrastive", "adversarial")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SyntheticSource(_Strict):
    """Generated sessions with known latent dynamics driving every modality and the behaviour."""

    kind: Literal["synthetic"] = "synthetic"
    n_sessions: int = Field(default=1, ge=1, le=64)
    n_bins: int = Field(default=4000, ge=200, le=2_000_000)
    latent_dim: int = Field(default=4, ge=2, le=32)
    n_units: int = Field(default=40, ge=2, le=5000)
    modalities: list[Modality] = list(MODALITIES)
    species: list[str] = ["mouse"]
    seed: int = 0


class NwbSource(_Strict):
    """An NWB file (local path or URL) converted through the NWB engine."""

    kind: Literal["nwb"] = "nwb"
    path: str = Field(min_length=1)
    modality_map: dict[str, Modality] = {}
    species: str | None = None


class NitimeSource(_Strict):
    """Real recordings shipped inside the nitime package (grasshopper receptor spikes, fMRI ROI series)."""

    kind: Literal["nitime"] = "nitime"
    dataset: Literal["grasshopper", "fmri_event", "fmri_roi"] = "grasshopper"
    recording: Literal[1, 2] = 1


class SessionFileSource(_Strict):
    """A session already in the on-disk format (``.npz``)."""

    kind: Literal["session"] = "session"
    path: str = Field(min_length=1)


class IblSource(_Strict):
    """One IBL session through the ONE API (optional extra ``ONE-api``)."""

    kind: Literal["ibl"] = "ibl"
    eid: str = Field(min_length=1)
    probe: str | None = None
    cache_dir: str | None = None
    offline: bool = False


class AllenSource(_Strict):
    """One Allen Brain Observatory 2-photon experiment through AllenSDK (optional extra ``allensdk``)."""

    kind: Literal["allen"] = "allen"
    experiment_id: int
    cache_dir: str | None = None


class EegMotorSource(_Strict):
    """PhysioNet EEG motor movement/imagery runs through MNE (optional extra ``mne``)."""

    kind: Literal["eeg_motor"] = "eeg_motor"
    subject: int = Field(default=1, ge=1, le=109)
    runs: list[int] = [4, 8, 12]
    data_dir: str | None = None
    offline: bool = False


class NilearnSource(_Strict):
    """An fMRI dataset fetched by nilearn, reduced to ROI time series (optional extra ``nilearn``)."""

    kind: Literal["fmri_nilearn"] = "fmri_nilearn"
    dataset: Literal["haxby", "development"] = "haxby"
    subject: int = Field(default=1, ge=1)
    data_dir: str | None = None


class LorenzSource(_Strict):
    """The LFADS Lorenz benchmark (generated), split as NLB splits it; ``bin_s`` is its own, not data's."""

    kind: Literal["lorenz"] = "lorenz"
    seed: int = 0
    n_trials: int = Field(default=100, ge=10, le=100_000)
    n_observed: int = Field(default=100, ge=4, le=10_000)
    n_forward: int = Field(default=20, ge=1, le=10_000)
    n_neurons: int = Field(default=40, ge=2, le=5000)
    n_heldout: int = Field(default=10, ge=1, le=4999)
    bin_s: float = Field(default=0.01, gt=0, le=1)


Source = Annotated[
    SyntheticSource
    | NwbSource
    | NitimeSource
    | SessionFileSource
    | IblSource
    | AllenSource
    | EegMotorSource
    | NilearnSource
    | LorenzSource,
    Field(discriminator="kind"),
]


class DataConfig(_Strict):
    sources: list[Source] = Field(min_length=1)
    bin_s: float = Field(default=0.02, gt=0, le=10)
    modalities: list[Modality] | None = None
    seq_len: int = Field(default=64, ge=4, le=65536)
    batch_size: int = Field(default=16, ge=1, le=4096)
    heldout_fraction: float = Field(default=0.2, ge=0, lt=1)
    split_blocks: int = Field(default=1, ge=1, le=100)
    mask_ratio: float = Field(default=0.25, ge=0, lt=1)
    clean_windows: float = Field(default=0.25, ge=0, le=1)
    """Training windows left unmasked: behaviour is learnt from those alone (``objective.behaviour_loss``)."""
    modality_dropout: float = Field(default=0.25, ge=0, le=0.5)


MODEL_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"d_model": 32, "n_latents": 4, "n_heads": 2, "n_blocks": 1, "d_state": 8, "embed_dim": 16},
    "small": {"d_model": 64, "n_latents": 8, "n_heads": 4, "n_blocks": 2, "d_state": 16, "embed_dim": 32},
    "base": {"d_model": 256, "n_latents": 16, "n_heads": 8, "n_blocks": 4, "d_state": 16, "embed_dim": 64},
    "large": {"d_model": 512, "n_latents": 32, "n_heads": 8, "n_blocks": 8, "d_state": 16, "embed_dim": 128},
}
"""Presets the page offers as "model size"; any field can still be set by hand."""


class ModelConfig(_Strict):
    d_model: int = Field(default=64, ge=8, le=8192)
    n_latents: int = Field(default=8, ge=1, le=512)
    n_heads: int = Field(default=4, ge=1, le=64)
    n_blocks: int = Field(default=2, ge=1, le=64)
    d_state: int = Field(default=16, ge=1, le=256)
    expand: int = Field(default=2, ge=1, le=8)
    d_conv: int = Field(default=4, ge=1, le=16)
    embed_dim: int = Field(default=32, ge=2, le=4096)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    bidirectional: bool = True
    scan: Literal["auto", "blocked", "reference"] = "auto"

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelConfig:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        return self

    @classmethod
    def preset(cls, size: str, **overrides: Any) -> ModelConfig:
        if size not in MODEL_SIZES:
            raise ConfigError(f"Unknown model size {size!r}; choose one of {', '.join(MODEL_SIZES)}.")
        return cls(**{**MODEL_SIZES[size], **overrides})

    @property
    def n_parameters_hint(self) -> str:
        return f"d_model {self.d_model}, {self.n_blocks} Mamba blocks, {self.n_latents} latents"


class OptimConfig(_Strict):
    lr: float = Field(default=1e-3, gt=0, le=10)
    weight_decay: float = Field(default=0.01, ge=0, le=10)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = Field(default=50, ge=0)
    min_lr_ratio: float = Field(default=0.05, ge=0, le=1)
    grad_clip: float | None = Field(default=1.0, gt=0)


class RunSettings(_Strict):
    steps: int = Field(default=1000, ge=1, le=100_000_000)
    seed: int = 0
    eval_every: int = Field(default=50, ge=1)
    eval_windows: int = Field(default=64, ge=1)
    score_every: int = Field(
        default=100,
        ge=0,
        description="Steps between light evaluations on the validation split (decoding R^2 per input, "
        "co-bps) on at most eval_windows windows; 0 turns them off.",
    )
    checkpoint_every: int = Field(default=100, ge=1)
    keep_checkpoints: int = Field(default=3, ge=1, le=1000)
    log_every: int = Field(default=10, ge=1)
    early_stopping_patience: int | None = Field(default=None, ge=1)
    max_nonfinite: int = Field(default=10, ge=0)
    amp: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int | None = Field(default=None, ge=1)
    tasks: list[Task] = list(TASKS)
    temperature: float = Field(default=0.1, gt=0, le=10)


class MlflowSettings(_Strict):
    tracking_uri: str
    experiment: str = "neurodeck"


class LoggingConfig(_Strict):
    tensorboard: bool = True
    mlflow: MlflowSettings | None = None


class TrainingConfig(_Strict):
    name: str | None = Field(default=None, max_length=80)
    data: DataConfig
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    training: RunSettings = RunSettings()
    logging: LoggingConfig = LoggingConfig()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def hyperparameters(self) -> dict[str, Any]:
        """Flat ``section.key`` values for run tables and TensorBoard's HParams (scalars and text only)."""
        flat: dict[str, Any] = {}
        for section in ("model", "optim", "training"):
            for key, value in self.to_dict()[section].items():
                flat[f"{section}.{key}"] = (
                    value
                    if isinstance(value, (int, float, str, bool)) or value is None
                    else json.dumps(value)
                )
        data = self.to_dict()["data"]
        for key in ("bin_s", "seq_len", "batch_size", "mask_ratio", "modality_dropout", "heldout_fraction"):
            flat[f"data.{key}"] = data[key]
        flat["data.sources"] = ", ".join(s["kind"] for s in data["sources"])
        flat["data.modalities"] = ", ".join(data["modalities"] or ["all"])
        return flat


def _known_keys(model: type[BaseModel] | None) -> list[str]:
    return list(model.model_fields) if model is not None else []


def _model_at(loc: tuple[Any, ...], raw: dict[str, Any]) -> type[BaseModel] | None:
    """The pydantic model that owns the key at ``loc`` (for "did you mean")."""
    model: type[BaseModel] | None = TrainingConfig
    value: Any = raw
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            value = (
                value[part]
                if isinstance(value, list) and isinstance(part, int) and part < len(value)
                else None
            )
            if isinstance(value, dict) and "kind" in value:
                model = _SOURCES.get(value["kind"])
            continue
        field = model.model_fields.get(part)
        value = value.get(part) if isinstance(value, dict) else None
        annotation = getattr(field, "annotation", None)
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if model is None and isinstance(value, dict) and "kind" in value:
            model = _SOURCES.get(value["kind"])
    return model


_SOURCES: dict[str, type[BaseModel]] = {
    m.model_fields["kind"].default: m
    for m in (
        SyntheticSource,
        NwbSource,
        NitimeSource,
        SessionFileSource,
        IblSource,
        AllenSource,
        EegMotorSource,
        NilearnSource,
        LorenzSource,
    )
}


def _describe(error: ErrorDetails, raw: dict[str, Any]) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in _SOURCES))
    where = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        known = _known_keys(_model_at(loc, raw))
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = (
            f" Did you mean '{close[0]}'?"
            if close
            else (f" Known keys: {', '.join(known)}." if known else "")
        )
        return f"{where}: unknown key.{hint}"
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        kinds = ", ".join(_SOURCES)
        tag = error.get("ctx", {}).get("tag", "missing")
        return f"{where}.kind: {tag!r} is not a data source kind; choose one of {kinds}."
    if error["type"] == "missing":
        return f"{where}: required, but missing."
    got = error.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    return f"{where}: {error['msg'][0].lower() + error['msg'][1:]} (got {shown[:60]})."


def parse_config(raw: Any) -> TrainingConfig:
    """A validated ``TrainingConfig`` from a dict; raises ``ConfigError`` listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"A training config is a mapping of sections (data, model, ...), not {type(raw).__name__}."
        )
    try:
        return TrainingConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(e, raw) for e in exc.errors()]
        raise ConfigError("The training config has problems:\n  " + "\n  ".join(lines)) from None


def load_config(path: str | Path) -> TrainingConfig:
    """Read and validate a YAML or JSON config file."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"No config file at {path}. Check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The config file {path} cannot be read ({exc}).") from None
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{path.name} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    return parse_config(raw)


def build_config(
    sources: list[dict[str, Any]],
    *,
    modalities: list[str] | None = None,
    model_size: str = "small",
    steps: int = 1000,
    name: str | None = None,
    **sections: dict[str, Any],
) -> TrainingConfig:
    """The config a start-run form describes (data, modalities, model size, steps), plus optional sections."""
    raw: dict[str, Any] = {
        "name": name,
        "data": {"sources": sources, "modalities": modalities, **sections.pop("data", {})},
    }
    if model_size not in MODEL_SIZES:
        raise ConfigError(f"Unknown model size {model_size!r}; choose one of {', '.join(MODEL_SIZES)}.")
    raw["model"] = {**MODEL_SIZES[model_size], **sections.pop("model", {})}
    raw["training"] = {"steps": steps, **sections.pop("training", {})}
    raw.update(sections)
    return parse_config(raw)
