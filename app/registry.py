"""The page registry: each page module registers a name, title, icon and per-session factory.

The registry is filled at import time and never changed afterwards, so sharing it between
sessions is safe; everything a factory builds belongs to one session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from app.context import AppContext
    from app.session import SessionState

__all__ = ["PageSpec", "PageRegistry", "PAGES", "register_page"]

PageFactory = Callable[["AppContext", "SessionState"], Any]


@dataclass(frozen=True)
class PageSpec:
    name: str
    title: str
    icon: str
    factory: PageFactory
    order: int = 100


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


PAGES = PageRegistry()


def register_page(name: str, title: str, icon: str = "", order: int = 100) -> Callable[[PageFactory], PageFactory]:
    """Decorator for a page module's builder: ``@register_page("nwb", "NWB browser")``."""

    def decorate(factory: PageFactory) -> PageFactory:
        PAGES.register(PageSpec(name=name, title=title, icon=icon, factory=factory, order=order))
        return factory

    return decorate
