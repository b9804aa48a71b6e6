"""Deep links for every page: one generic router between the address bar and each page's link state.

A page declares its link parameters as a ``PageLink`` subclass (typed ``param`` parameters
with defaults and bounds); the router turns ``?page=<name>&<that page's parameters>&embedded=1``
into values of that class and writes them back, leaving out values equal to their default.
Nothing here knows any page: adding a page adds no names to this module.

Values that do not parse or validate (a word where a number belongs, a number out of
bounds) are dropped in favour of the default and reported as *problems* the page shows;
unknown arguments are ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode

import param

__all__ = [
    "PageLink",
    "Address",
    "parse_address",
    "to_query",
    "read_link_values",
    "apply_link",
    "link_arguments",
    "SHELL_ARGUMENTS",
]

SHELL_ARGUMENTS = ("page", "embedded")
"""Arguments the shell owns; every other argument belongs to the page named by ``page``."""


class PageLink(param.Parameterized):
    """Base of a page's deep-link state: each parameter but ``problems`` is one query argument.

    Pages write to it as the user navigates and watch it for back/forward; the router
    keeps it and the address bar equal.
    """

    problems = param.List(
        default=[], item_type=str, doc="Why parts of the address were ignored (shown by the page)."
    )

    continuous: ClassVar[tuple[str, ...]] = ()
    """Arguments that change continuously (a zoom window): changing only these replaces the current
    history entry instead of adding one, so Back goes to the previous place, not the previous zoom."""

    @classmethod
    def argument_names(cls) -> list[str]:
        return [name for name in cls.param if name not in ("name", "problems")]


@dataclass(frozen=True)
class Address:
    """A parsed query string: the page it names, whether it is embedded, and every other argument."""

    page: str | None = None
    embedded: bool = False
    arguments: dict[str, str] = field(default_factory=dict)


def _first(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None:
        return None
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    return text.strip() or None


def parse_address(args: Mapping[str, Any] | str) -> Address:
    """From Panel's ``session_args`` (lists of bytes) or a raw ``?a=b`` search string."""
    if isinstance(args, str):
        args = parse_qs(args.lstrip("?"), keep_blank_values=False)
    values = {key: text for key, raw in args.items() if (text := _first(raw)) is not None}
    return Address(
        page=values.pop("page", None),
        embedded=values.pop("embedded", "").lower() in ("1", "true", "yes"),
        arguments=values,
    )


# --- values <-> text ---------------------------------------------------------------------------
_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


def _parse_int_list(text: str) -> list[int]:
    """``"0-3,7"`` -> [0, 1, 2, 3, 7]; at most 100,000 items."""
    items: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _RANGE.match(part)
        if match:
            lo, hi = int(match.group(1)), int(match.group(2))
            if hi < lo or hi - lo > 100_000:
                raise ValueError(f"'{part}' is not a range from a smaller to a larger number")
            items.extend(range(lo, hi + 1))
        else:
            items.append(int(part))
        if len(items) > 100_000:
            raise ValueError("too many items")
    return items


def _format_int_list(values: Iterable[int]) -> str:
    """Consecutive runs as ranges, so 64 channels cost 4 characters (``0-63``)."""
    ordered = list(values)
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(f"{ordered[i]}-{ordered[j]}" if j - i >= 2 else ",".join(map(str, ordered[i : j + 1])))
        i = j + 1
    return ",".join(parts)


def _parse_value(parameter: param.Parameter[Any], text: str) -> Any:
    if isinstance(parameter, param.Boolean):
        lowered = text.lower()
        if lowered not in ("1", "true", "yes", "0", "false", "no"):
            raise ValueError("expected 1 or 0")
        return lowered in ("1", "true", "yes")
    if isinstance(parameter, param.Integer):
        return int(text)
    if isinstance(parameter, param.Number):
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("expected a finite number")
        return value
    if isinstance(parameter, param.List):
        if parameter.item_type is int:
            return _parse_int_list(text)
        return [part for part in (p.strip() for p in text.split(",")) if part]
    return text


def _format_value(parameter: param.Parameter[Any], value: Any) -> str:
    if isinstance(parameter, param.Boolean):
        return "1" if value else "0"
    if isinstance(parameter, param.Number) and not isinstance(parameter, param.Integer):
        return format(float(value), ".10g")
    if isinstance(parameter, param.List):
        return _format_int_list(value) if parameter.item_type is int else ",".join(map(str, value))
    return str(value)


def _describe_expected(parameter: param.Parameter[Any]) -> str:
    if isinstance(parameter, param.Boolean):
        return "1 or 0"
    if isinstance(parameter, param.Integer):
        return "a whole number"
    if isinstance(parameter, param.Number):
        return "a number"
    if isinstance(parameter, param.List) and parameter.item_type is int:
        return "numbers or ranges like 0-3,7"
    if isinstance(parameter, param.Selector):
        return "one of " + ", ".join(map(str, parameter.objects))
    return "text"


def read_link_values(
    link_class: type[PageLink], arguments: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """Every link parameter's value from ``arguments`` (default where absent or invalid) and the problems."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    probe = link_class()
    for name in link_class.argument_names():
        parameter = link_class.param[name]
        text = arguments.get(name)
        if text is None:
            values[name] = parameter.default
            continue
        try:
            value = _parse_value(parameter, text)
            probe.param.update({name: value})  # the parameter's own checks: bounds, item types, objects
        except (TypeError, ValueError) as exc:
            reason = (
                str(exc) if str(exc).startswith("expected") else f"expected {_describe_expected(parameter)}"
            )
            problems.append(
                f"The address gives {name}={text!r}, which is not valid ({reason}); "
                f"using the default instead."
            )
            values[name] = parameter.default
            continue
        values[name] = value
    return values, problems


def apply_link(link: PageLink, arguments: Mapping[str, str]) -> None:
    """Set every link parameter from ``arguments`` in one update (absent ones back to their default)."""
    values, problems = read_link_values(type(link), arguments)
    changed = {name: value for name, value in values.items() if getattr(link, name) != value}
    link.param.update(**changed, problems=problems)


def link_arguments(link: PageLink) -> list[tuple[str, str]]:
    """The link's non-default values as query arguments, in declaration order."""
    pairs = []
    for name in link.argument_names():
        parameter, value = link.param[name], getattr(link, name)
        if value is None or value == parameter.default or value == "" or value == []:
            continue
        pairs.append((name, _format_value(parameter, value)))
    return pairs


def to_query(page: str | None, link: PageLink | None = None, embedded: bool = False) -> str:
    """The canonical search string (``?page=...``) for a page and its link state."""
    pairs: list[tuple[str, str]] = [("page", page)] if page else []
    if link is not None:
        pairs += link_arguments(link)
    if embedded:
        pairs.append(("embedded", "1"))
    return "?" + urlencode(pairs, safe="/:@,") if pairs else ""
