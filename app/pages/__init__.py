"""Page modules; importing this package registers every page."""

from app.pages import compute, curation, neuroglancer, nwb, training  # noqa: F401
