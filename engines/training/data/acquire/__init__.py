"""Public datasets fetched through their own libraries (ONE, AllenSDK, MNE, nilearn), all optional extras.

Each loader imports its library only when called and raises ``OptionalDependencyMissing``
(not installed) or ``DatasetUnavailable`` (offline and not cached) with what to do.
"""

from engines.training.data.acquire.allen import fetch_allen_experiment
from engines.training.data.acquire.eeg import fetch_eeg_motor
from engines.training.data.acquire.fmri import fetch_nilearn_fmri
from engines.training.data.acquire.ibl import fetch_ibl_session

__all__ = ["fetch_ibl_session", "fetch_allen_experiment", "fetch_eeg_motor", "fetch_nilearn_fmri"]
