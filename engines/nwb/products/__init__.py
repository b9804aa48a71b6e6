"""Derived products of an NWB file, computed once (as jobs) and read back by views.

Each product is a pure compute function that writes its result into a given folder and
reports progress through an optional ``progress(fraction, message)`` callable, plus a loader
that reads a finished folder back. Nothing here imports a UI library.

- spike density pyramid: ``build_spike_density_pyramid`` -> ``SpikeDensityPyramid.open``
- Rastermap unit order: ``compute_rastermap_order`` / ``rastermap_order_from_pyramid`` ->
``RastermapOrder.open``
- preview movie: ``build_preview_movie`` / ``preview_movie_from_series`` -> ``PreviewMovie.open``
- ephys summary: ``summarize_ephys`` / ``summarize_electrical_series`` -> ``EphysSummary.open``
"""

from engines.nwb.products.ephys_summary import (
    EphysSummary,
    summarize_electrical_series,
    summarize_ephys,
)
from engines.nwb.products.errors import ProductInputError, ProductNotFound
from engines.nwb.products.preview_movie import (
    PreviewMovie,
    build_preview_movie,
    preview_movie_from_series,
)
from engines.nwb.products.rastermap_order import (
    RastermapOrder,
    compute_rastermap_order,
    rastermap_order_from_pyramid,
    rastermap_params,
    zscore_units,
)
from engines.nwb.products.spike_density import (
    MAX_LEVEL_BINS,
    PYRAMID_DIRNAME,
    PyramidLevel,
    PyramidSummary,
    build_spike_density_pyramid,
)
from engines.nwb.products.spike_density_query import DensityImage, SpikeDensityPyramid

__all__ = [
    "ProductInputError",
    "ProductNotFound",
    "MAX_LEVEL_BINS",
    "PYRAMID_DIRNAME",
    "PyramidLevel",
    "PyramidSummary",
    "build_spike_density_pyramid",
    "DensityImage",
    "SpikeDensityPyramid",
    "RastermapOrder",
    "compute_rastermap_order",
    "rastermap_order_from_pyramid",
    "rastermap_params",
    "zscore_units",
    "PreviewMovie",
    "build_preview_movie",
    "preview_movie_from_series",
    "EphysSummary",
    "summarize_ephys",
    "summarize_electrical_series",
]
