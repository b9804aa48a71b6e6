"""Page modules; importing this package registers every page."""

from app.pages import nwb  # noqa: F401
