"""Page modules; importing this package registers every page."""

from app.pages import compute, nwb  # noqa: F401
