"""fMRI through nilearn (optional extra ``nilearn``): a dataset's run reduced to atlas ROI time series.

``haxby``: one subject's ventral-temporal study (TR 2.5 s), stimulus ids from the category
labels; ``development``: one child's movie-watching run (TR 2 s), no stimulus ids. nilearn
downloads into ``data_dir`` once (hundreds of MB for haxby) and reads from there afterwards.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.training.config import NilearnSource
from engines.training.data.acquire._common import fetching, require
from engines.training.data.session import Session

__all__ = ["fetch_nilearn_fmri"]

_TR = {"haxby": 2.5, "development": 2.0}


def fetch_nilearn_fmri(source: NilearnSource) -> Session:
    """ROI-averaged BOLD (Harvard-Oxford cortical atlas) as a validated ``fmri`` session."""
    datasets = require("nilearn.datasets", "nilearn", "Loading fMRI datasets")
    maskers = require("nilearn.maskers", "nilearn", "Reducing fMRI to ROI time series")
    where = str(Path(source.data_dir).expanduser()) if source.data_dir else None
    atlas = fetching(
        "The Harvard-Oxford atlas",
        where or "nilearn's data folder",
        lambda: datasets.fetch_atlas_harvard_oxford("cort-maxprob-thr25-2mm", data_dir=where),
    )
    if source.dataset == "haxby":
        bunch = fetching(
            f"Haxby subject {source.subject}",
            where or "nilearn's data folder",
            lambda: datasets.fetch_haxby(subjects=[source.subject], data_dir=where),
        )
        func = bunch.func[0]
        import pandas as pd

        targets = pd.read_csv(bunch.session_target[0], sep=" ")["labels"].astype(str).to_numpy()
        labels = sorted(set(targets) - {"rest"})
        stimulus = np.array([labels.index(t) if t in labels else -1 for t in targets], dtype=np.int64)
    else:
        bunch = fetching(
            "The development fMRI dataset",
            where or "nilearn's data folder",
            lambda: datasets.fetch_development_fmri(n_subjects=source.subject, data_dir=where),
        )
        func, labels, stimulus = bunch.func[source.subject - 1], [], None
    masker = maskers.NiftiLabelsMasker(labels_img=atlas.maps, standardize="zscore_sample")
    series = np.asarray(masker.fit_transform(func), dtype=np.float32)
    return Session(
        session_id=f"nilearn-{source.dataset}-{source.subject}",
        bin_s=_TR[source.dataset],
        modalities={"fmri": series},
        stimulus=stimulus,
        species="human",
        metadata={
            "source": f"nilearn:{source.dataset}",
            "features": list(atlas.labels[1:]),
            "stimulus_labels": labels,
        },
    ).validate()
