"""Deep links and settings: every page's link parameters round-trip through the address; bad values fall
back."""

from __future__ import annotations

from pathlib import Path

import param
import pytest

from app.cli import settings_from_args
from app.pages.nwb import NwbLink, selection_from_link
from app.registry import PAGES
from app.routing import PageLink, apply_link, link_arguments, parse_address, read_link_values, to_query
from app.session import SessionState
from app.settings import BUNDLED_DEMO_FILE, Settings, llm_from_env, normalize_prefix


class ExampleLink(PageLink):
    """Every kind of parameter a page may declare."""

    text = param.String(default="")
    count = param.Integer(default=3, bounds=(1, 10))
    ratio = param.Number(default=None, allow_None=True)
    flag = param.Boolean(default=False)
    picks = param.List(default=[], item_type=int)
    mode = param.Selector(default="a", objects=["a", "b"])


def test_session_args_parse_into_an_address():
    address = parse_address(
        {
            "page": [b"nwb"],
            "url": [b"https://x.org/a.nwb"],
            "path": [b"/units"],
            "embedded": [b"1"],
            "t0": [b"1.5"],
        }
    )
    assert address.page == "nwb" and address.embedded
    assert address.arguments == {"url": "https://x.org/a.nwb", "path": "/units", "t0": "1.5"}


@pytest.mark.parametrize("spec", list(PAGES), ids=lambda spec: spec.name)
def test_every_pages_link_round_trips_through_the_address(spec):
    if spec.link is None:
        assert to_query(spec.name) == f"?page={spec.name}"
        return
    link = spec.link()
    for name in link.argument_names():  # a non-default value for every parameter
        parameter = link.param[name]
        if isinstance(parameter, param.List):
            setattr(link, name, [0, 1, 2, 3, 7] if parameter.item_type is int else ["/a", "/b c"])
        elif isinstance(parameter, param.Boolean):
            setattr(link, name, not parameter.default)
        elif isinstance(parameter, param.Integer):
            setattr(link, name, 7 if parameter.default != 7 else 8)
        elif isinstance(parameter, param.Number):
            setattr(link, name, 12.375)
        elif isinstance(parameter, param.Selector):
            setattr(link, name, next(o for o in parameter.objects if o != parameter.default))
        else:
            setattr(link, name, "https://host/a b.nwb?token=x&y=z")
    address = parse_address(to_query(spec.name, link, embedded=True))
    assert address.page == spec.name and address.embedded
    again = spec.link()
    apply_link(again, address.arguments)
    assert again.problems == []
    assert {n: getattr(again, n) for n in link.argument_names()} == {
        n: getattr(link, n) for n in link.argument_names()
    }


def test_invalid_values_fall_back_to_defaults_with_a_message():
    values, problems = read_link_values(
        ExampleLink,
        {
            "count": "lots",
            "ratio": "nan",
            "flag": "maybe",
            "picks": "1,x",
            "mode": "c",
            "text": "ok",
            "unknown": "ignored",
        },
    )
    assert values == {"text": "ok", "count": 3, "ratio": None, "flag": False, "picks": [], "mode": "a"}
    assert len(problems) == 6 - 1
    assert any("count='lots'" in p and "whole number" in p for p in problems)
    assert any("mode='c'" in p and "one of a, b" in p for p in problems)


def test_values_outside_bounds_are_refused():
    values, problems = read_link_values(ExampleLink, {"count": "50"})
    assert values["count"] == 3 and "count='50'" in problems[0]


def test_channel_ranges_are_compact_in_the_address():
    link = NwbLink(channels=list(range(64)) + [70, 72])
    assert dict(link_arguments(link))["channels"] == "0-63,70,72"
    values, _ = read_link_values(NwbLink, {"channels": "0-3,7"})
    assert values["channels"] == [0, 1, 2, 3, 7]


def test_defaults_are_left_out_of_the_address():
    assert to_query("nwb", NwbLink()) == "?page=nwb"
    assert to_query(None) == ""


def test_absent_arguments_reset_a_link_on_back_and_forward():
    link = NwbLink(path="/units", t0=1.0, t1=2.0, units=[3])
    apply_link(link, {"path": "/intervals"})
    assert (link.path, link.t0, link.t1, link.units) == ("/intervals", None, None, [])


def test_half_or_reversed_time_window_is_ignored_with_a_message():
    selection, problems = selection_from_link(NwbLink(t0=5.0))
    assert selection["time_window"] is None and "t0 and t1" in problems[0]
    selection, problems = selection_from_link(NwbLink(t0=5.0, t1=2.0))
    assert selection["time_window"] is None and problems
    selection, problems = selection_from_link(NwbLink(t0=120.0, t1=130.0, channels=[1, 2]))
    assert selection["time_window"] == (120.0, 130.0) and selection["channels"] == [1, 2] and problems == []


def test_session_keeps_each_pages_state_and_reports_unknown_pages():
    state = SessionState(PAGES)
    state.apply_address(parse_address("?page=nwb&path=/units&t0=1&t1=2"))
    assert state.page == "nwb" and state.links["nwb"].path == "/units"
    state.apply_address(parse_address("?page=compute"))
    assert state.page == "compute" and state.links["nwb"].path == "/units"  # another page's state is kept
    assert state.query() == "?page=compute"
    state.apply_address(parse_address("?page=nope"))
    assert state.page == PAGES.names()[0]
    assert any("no page named 'nope'" in p for p in state.links[state.page].problems)


def test_settings_defaults_are_offline_and_read_the_demo_file():
    settings = Settings.from_env({})
    assert settings.default_source == str(BUNDLED_DEMO_FILE)
    assert BUNDLED_DEMO_FILE.exists()
    assert settings.allow_private_urls is False
    assert BUNDLED_DEMO_FILE.parent in settings.allowed_roots
    assert settings.llm is None and settings.prefix == ""


def test_cli_flags_override_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURODECK_WORKSPACE", str(tmp_path / "from-env"))
    settings = settings_from_args(
        [
            "--port",
            "6001",
            "--workspace",
            str(tmp_path / "ws"),
            "--no-show",
            "--allow-websocket-origin",
            "lab.org:443",
            "--allow-websocket-origin",
            "x:1",
            "--allow-private-urls",
            "--num-threads",
            "2",
            "--root",
            str(tmp_path),
            "--prefix",
            "neurodeck/",
            "--use-xheaders",
            "--session-lifetime",
            "3",
        ]
    )
    assert settings.port == 6001
    assert settings.session_lifetime_s == 3.0
    assert settings.workspace == tmp_path / "ws"
    assert settings.show is False
    assert settings.websocket_origins == ("lab.org:443", "x:1")
    assert settings.allow_private_urls and settings.num_threads == 2
    assert settings.allowed_roots[0] == tmp_path
    assert settings.source_policy().allow_private_urls
    assert settings.prefix == "/neurodeck" and settings.use_xheaders


def test_environment_configures_roots_prefix_and_model(tmp_path):
    settings = Settings.from_env(
        {
            "NEURODECK_ROOTS": f"{tmp_path}:/data",
            "NEURODECK_ALLOW_PRIVATE_URLS": "yes",
            "NEURODECK_PREFIX": "/lab/neurodeck/",
            "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
            "NEURODECK_LLM_MODEL": "llama3.1",
        }
    )
    assert settings.roots == (tmp_path, Path("/data"))
    assert settings.allow_private_urls
    assert settings.prefix == "/lab/neurodeck"
    assert settings.llm.base_url == "http://127.0.0.1:11434/v1" and settings.llm.model == "llama3.1"
    assert settings.job_environment().llm == settings.llm


def test_a_model_endpoint_needs_a_key_or_a_base_url():
    assert llm_from_env({"NEURODECK_LLM_MODEL": "x"}) is None
    assert llm_from_env({"OPENAI_API_KEY": "sk-test"}).api_key == "sk-test"
    assert normalize_prefix("/") == "" and normalize_prefix("a/b") == "/a/b"


def test_the_chat_model_gets_pictures_only_when_the_operator_says_it_reads_them():
    local = {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}
    assert llm_from_env(local).chat_images is False  # a text-only model would reject image parts
    assert llm_from_env({**local, "NEURODECK_LLM_IMAGES": "1"}).chat_images is True
