"""Page modules; importing this package registers every page."""

from app.pages import compute, neuroglancer, nwb  # noqa: F401
