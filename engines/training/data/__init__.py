"""Training data: the session format, converters (NWB, nitime, synthetic, public datasets) and windows."""

from engines.training.data.lorenz import LorenzData, generate_lorenz
from engines.training.data.nitime_data import load_nitime_session
from engines.training.data.nwb import convert_nwb, plan_nwb_conversion
from engines.training.data.session import SPLITS, Session, load_session, save_session, split_segments
from engines.training.data.sources import build_sessions, load_run_data, prepare_run_data
from engines.training.data.synthetic import generate_synthetic_sessions
from engines.training.data.windows import Batch, DataSpec, SessionSpec, WindowDataset

__all__ = [
    "Session",
    "SPLITS",
    "save_session",
    "load_session",
    "split_segments",
    "convert_nwb",
    "plan_nwb_conversion",
    "load_nitime_session",
    "generate_synthetic_sessions",
    "generate_lorenz",
    "LorenzData",
    "build_sessions",
    "prepare_run_data",
    "load_run_data",
    "Batch",
    "DataSpec",
    "SessionSpec",
    "WindowDataset",
]
