"""The page registry: each page module registers a name, title, icon and per-session factory.

The registry is filled at import time and never changed afterwards, so sharing it between
sessions is safe; everything a factory builds belongs to one session.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import panel as pn

    from app.context import AppContext
    from app.routing import PageLink

__all__ = [
    "PageSpec",
    "PageRegistry",
    "PAGES",
    "register_page",
    "ROUTES",
    "register_routes",
    "WARM_UPS",
    "register_warm_up",
    "import_pages",
]

PageView: TypeAlias = "pn.viewable.Viewable | pn.viewable.Viewer"
"""What a page factory returns: a Panel object, or a ``Viewer`` that renders itself."""

PageFactory = Callable[["AppContext", Any], PageView]
"""Builds one session's page from the shared context and that session's link state: an instance of the
spec's ``link`` class, or None for a page without one. The registry pairs the two at registration, which
``Callable`` cannot express, so the link argument is typed ``Any`` here and precisely in each factory."""


@dataclass(frozen=True)
class PageSpec:
    name: str
    title: str
    icon: str
    factory: PageFactory
    order: int = 100
    link: type[PageLink] | None = None
    """The page's deep-link parameters; None for a page that keeps nothing in the address."""
    extensions: tuple[str, ...] = ()
    """Panel extensions the page's widgets need (``"tabulator"``, ``"filedropper"``...), loaded up front for
    every page: pages are built after the first load, when loading an extension is too late."""


class PageRegistry:
    """Ordered, name-unique collection of pages."""

    def __init__(self) -> None:
        self._pages: dict[str, PageSpec] = {}

    def register(self, spec: PageSpec) -> None:
        if spec.name in self._pages:
            raise ValueError(f"A page named '{spec.name}' is already registered.")
        self._pages[spec.name] = spec

    def get(self, name: str) -> PageSpec | None:
        return self._pages.get(name)

    def __iter__(self):
        return iter(sorted(self._pages.values(), key=lambda p: (p.order, p.name)))

    def names(self) -> list[str]:
        return [p.name for p in self]

    def extensions(self) -> list[str]:
        """Every page's Panel extensions, each once."""
        return list(dict.fromkeys(ext for page in self for ext in page.extensions))


PAGES = PageRegistry()


def register_page(
    name: str,
    title: str,
    icon: str = "",
    order: int = 100,
    link: type[PageLink] | None = None,
    extensions: tuple[str, ...] = (),
) -> Callable[[PageFactory], PageFactory]:
    """Decorator for a page module's builder: ``@register_page("nwb", "NWB browser", link=NwbLink)``."""

    def decorate(factory: PageFactory) -> PageFactory:
        PAGES.register(
            PageSpec(
                name=name,
                title=title,
                icon=icon,
                factory=factory,
                order=order,
                link=link,
                extensions=tuple(extensions),
            )
        )
        return factory

    return decorate


def import_pages(package: str, path: Iterable[str]) -> None:
    """Import every module of the pages package ``package`` (found on ``path``): a page registers itself
    when imported, so adding a page is adding its module, with no list of pages to edit."""
    for module in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        importlib.import_module(f"{package}.{module.name}")


RouteFactory = Callable[["AppContext"], list[tuple]]
"""Tornado routes a page needs beside its page (data it serves, a proxied viewer), built once per server."""

ROUTES: list[RouteFactory] = []


def register_routes(factory: RouteFactory) -> RouteFactory:
    """Decorator: ``factory(ctx)`` returns ``(pattern, handler[, kwargs])`` tuples, served under the app's
    prefix."""
    ROUTES.append(factory)
    return factory


WARM_UPS: list[Callable[[], None]] = []
"""Run once in the background when the server starts (JIT compilation, imports), so a first click is fast."""


def register_warm_up(function: Callable[[], None]) -> Callable[[], None]:
    WARM_UPS.append(function)
    return function
