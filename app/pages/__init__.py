"""Page modules; importing this package imports every module in it, and each registers its page."""

from app.registry import import_pages

import_pages(__name__, __path__)
