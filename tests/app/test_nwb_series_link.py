"""The aligned view's ``series`` link field: a copied address reopens the same stack, back/forward too."""

from __future__ import annotations

from app.pages.nwb import NwbLink, selection_from_link
from app.registry import PAGES
from app.routing import parse_address, read_link_values, to_query
from app.session import SessionState
from components.nwb.controller import NwbFileController

CRAFTED = "/acquisition/<img src=x onerror=alert(1)> & co"


def test_series_round_trip_through_the_address():
    link = NwbLink(view="align", series=["/acquisition/lfp", "/units", CRAFTED], t0=10.0, t1=20.0)
    query = to_query("nwb", link)
    assert "series=/acquisition/lfp,/units,/acquisition/" in query and "<" not in query
    values, problems = read_link_values(NwbLink, parse_address(query).arguments)
    assert problems == [] and values["series"] == ["/acquisition/lfp", "/units", CRAFTED]
    selection, _ = selection_from_link(NwbLink(**values))
    assert selection["series"] == ["/acquisition/lfp", "/units", CRAFTED] and selection["view"] == "align"


def test_an_address_without_series_is_short():
    assert to_query("nwb", NwbLink(view="align")) == "?page=nwb&view=align"


def test_back_and_forward_restore_the_series():
    state = SessionState(PAGES)
    stacked = "?page=nwb&view=align&t0=1&t1=2&series=/acquisition/lfp,/units"
    state.apply_address(parse_address(stacked))
    assert state.links["nwb"].series == ["/acquisition/lfp", "/units"]
    state.apply_address(parse_address("?page=nwb&view=align&series=/units"))
    assert state.links["nwb"].series == ["/units"]
    state.apply_address(parse_address(stacked))  # Back
    assert state.links["nwb"].series == ["/acquisition/lfp", "/units"]
    assert state.query() == stacked


def test_selecting_another_object_forgets_the_stack():
    controller = NwbFileController(object_path="/", view="align", series=["/units"])
    controller.select("/intervals/trials", "intervals")
    assert controller.series == [] and controller.object_path == "/intervals/trials"
