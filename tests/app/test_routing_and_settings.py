"""Deep-link parsing and settings: the typed objects every page starts from."""

from __future__ import annotations

from pathlib import Path

from app.routing import DeepLink, parse_deep_link, to_query
from app.settings import BUNDLED_DEMO_FILE, Settings
from run import settings_from_args


def test_session_args_parse_into_a_deep_link():
    link = parse_deep_link({"page": [b"nwb"], "url": [b"https://x.org/a.nwb"], "path": [b"/units"],
                            "view": [b"raster"], "embedded": [b"1"]})
    assert link == DeepLink(page="nwb", url="https://x.org/a.nwb", path="/units", view="raster", embedded=True)


def test_query_string_round_trips_urls_with_their_own_queries():
    link = DeepLink(page="nwb", url="https://host/a.nwb?token=a&b=c", path="/acquisition/ts 1", view="traces")
    assert parse_deep_link(to_query(link)) == link


def test_empty_link_gives_empty_query():
    assert to_query(DeepLink()) == ""
    assert parse_deep_link("") == DeepLink()


def test_settings_defaults_are_offline_and_read_the_demo_file():
    settings = Settings.from_env({})
    assert settings.default_source == str(BUNDLED_DEMO_FILE)
    assert BUNDLED_DEMO_FILE.exists()
    assert settings.allow_private_urls is False
    assert BUNDLED_DEMO_FILE.parent in settings.allowed_roots


def test_cli_flags_override_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURODECK_WORKSPACE", str(tmp_path / "from-env"))
    settings = settings_from_args(["--port", "6001", "--workspace", str(tmp_path / "ws"), "--no-show",
                                   "--allow-websocket-origin", "lab.org:443", "--allow-websocket-origin", "x:1",
                                   "--allow-private-urls", "--num-threads", "2", "--root", str(tmp_path)])
    assert settings.port == 6001
    assert settings.workspace == tmp_path / "ws"
    assert settings.show is False
    assert settings.websocket_origins == ("lab.org:443", "x:1")
    assert settings.allow_private_urls and settings.num_threads == 2
    assert settings.allowed_roots[0] == tmp_path
    assert settings.source_policy().allow_private_urls


def test_environment_configures_roots(monkeypatch, tmp_path):
    settings = Settings.from_env({"NEURODECK_ROOTS": f"{tmp_path}:/data", "NEURODECK_ALLOW_PRIVATE_URLS": "yes"})
    assert settings.roots == (tmp_path, Path("/data"))
    assert settings.allow_private_urls
