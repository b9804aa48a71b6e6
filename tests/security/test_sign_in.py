"""Sign-in, on by default: nobody who merely reaches the port sees a page, a viewer or a data file.

Before sign-in existed every request here was answered: the first test failed on its first line.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from playwright.sync_api import expect
from tornado.web import create_signed_value

from app.auth import add_password, read_passwords
from app.settings import Settings
from engines.people import LOCAL_USER
from tests.browser.conftest import ROOT, SIGNED_IN, TEST_TOKEN, _free_port, served_app, wait_until_serving
from tests.support.oidc_server import OidcProvider

pytestmark = pytest.mark.browser

APP_ROUTES = ("ngv/", "ngv/static/index.html", "ngdemo/image/info", "ngdemo/segmentation/info")
"""The app's own routes beside its pages (the proxied viewer, the demo volume): data, so signed-in only."""


@pytest.fixture(scope="module")
def token_app(tmp_path_factory, nwb_data_dir):
    workspace = tmp_path_factory.mktemp("sign-in")
    with served_app(workspace, root=nwb_data_dir) as (url, port):
        yield url, port, workspace


def test_a_stranger_gets_the_sign_in_page_and_none_of_the_apps_routes(token_app):
    url, _port, workspace = token_app
    first = requests.get(url + "?page=nwb", allow_redirects=False, timeout=10)
    assert first.status_code == 302 and "/login" in first.headers["Location"]
    assert "Sign in to Neurodeck" in requests.get(url + "?page=nwb", timeout=10).text
    requests.get(url + f"?page=nwb&token={TEST_TOKEN}", timeout=10)
    log = [
        line for line in (workspace / "server.log").read_text().splitlines() if "is serving at" not in line
    ]
    assert any("token=[hidden]" in line for line in log)
    assert not any(TEST_TOKEN in line for line in log)  # the address with the token is logged without it
    for route in APP_ROUTES:
        assert requests.get(url + route, timeout=10).status_code == 403, route
        assert (
            requests.get(url + route, headers={"Authorization": "token wrong"}, timeout=10).status_code == 403
        )
        assert requests.get(url + route, headers=SIGNED_IN, timeout=10).status_code != 403, route
    forged = create_signed_value("not-the-servers-secret", "user", LOCAL_USER).decode()
    assert requests.get(url + "ngdemo/image/info", cookies={"user": forged}, timeout=10).status_code == 403


def test_the_printed_token_signs_in_once_and_leaves_the_address(token_app, browser):
    url, _port, _workspace = token_app
    context = browser.new_context(extra_http_headers={})  # a stranger's browser
    try:
        page = context.new_page()
        page.goto(url + "?page=nwb&path=/units")
        expect(page.get_by_text("Sign in to Neurodeck")).to_be_visible()
        page.goto(url + f"?page=nwb&path=/units&token={TEST_TOKEN}")
        expect(page.get_by_text("Sign out")).to_be_visible()
        expect(page).to_have_url(re.compile(r"path=/units"))
        assert "token=" not in page.url  # a link copied from the address bar carries no token
        cookie = next(c for c in context.cookies() if c["name"] == "user")
        assert cookie["httpOnly"]
        page.goto(url + "?page=curation")  # the cookie alone signs in from now on
        expect(page.get_by_text("Sign out")).to_be_visible()
        page.get_by_text("Sign out").click()
        expect(page.get_by_text("Sign in to Neurodeck")).to_be_visible()
        page.locator("input[name=token]").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("That did not match")).to_be_visible()
        page.locator("input[name=token]").fill(TEST_TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Sign out")).to_be_visible()
    finally:
        context.close()


def test_the_token_lives_in_the_workspace_for_its_owner_only_and_never_in_argv(tmp_path, nwb_data_dir):
    workspace = tmp_path / "ws"
    workspace.mkdir(mode=0o755)
    port = _free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "run.py",
                "--port",
                str(port),
                "--no-show",
                "--workspace",
                str(workspace),
                "--root",
                str(nwb_data_dir),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        token_file = workspace / "auth" / "token"
        deadline = time.time() + 60
        while not re.search(r"\?token=\S+", log.read_text()) and time.time() < deadline:
            time.sleep(0.3)
        token = token_file.read_text().strip()
        wait_until_serving(f"http://127.0.0.1:{port}/", process, log)
        assert f"?token={token}" in log.read_text()  # printed once, for the operator to open
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(workspace.stat().st_mode) == 0o700
        stores = [
            path for path in workspace.rglob("*") if path.is_file() and path.suffix in (".sqlite", ".json")
        ]
        assert stores and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in stores), stores
        folders = [path for path in workspace.rglob("*") if path.is_dir()]
        assert all(stat.S_IMODE(path.stat().st_mode) == 0o700 for path in folders), folders
        assert token not in " ".join(psutil.Process(process.pid).cmdline())
        assert requests.get(f"http://127.0.0.1:{port}/ngdemo/image/info", timeout=10).status_code == 403
        signed = requests.get(
            f"http://127.0.0.1:{port}/ngdemo/image/info",
            headers={"Authorization": f"token {token}"},
            timeout=10,
        )
        assert signed.status_code == 200
    finally:
        process.terminate()
        process.wait(10)


def test_password_sign_in_keeps_only_hashes_and_names_the_user(tmp_path, nwb_data_dir, browser):
    workspace = tmp_path / "ws"
    add_password(workspace / "auth" / "passwords", "alice", "correct horse")
    stored = (workspace / "auth" / "passwords").read_text()
    assert "correct horse" not in stored and read_passwords(workspace / "auth" / "passwords")[
        "alice"
    ].startswith("scrypt$")
    with served_app(workspace, "--auth", "password", root=nwb_data_dir) as (url, _port):
        assert (
            requests.get(url + "ngdemo/image/info", headers=SIGNED_IN, timeout=10).status_code == 403
        )  # no token mode
        context = browser.new_context(extra_http_headers={})
        try:
            page = context.new_page()
            page.goto(url + "?page=nwb")
            page.locator("input[name=username]").fill("alice")
            page.locator("input[name=password]").fill("wrong horse")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("That did not match")).to_be_visible()
            page.locator("input[name=username]").fill("alice")
            page.locator("input[name=password]").fill("correct horse")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("alice · Sign out")).to_be_visible()
        finally:
            context.close()


def test_oauth_signs_people_in_through_the_provider(tmp_path, nwb_data_dir, browser):
    (tmp_path / "ws").mkdir()
    with (
        OidcProvider("alice@lab.org") as provider,
        served_app(
            tmp_path / "ws",
            "--auth",
            "oauth",
            "--oauth-provider",
            "generic",
            "--oauth-key",
            provider.client_id,
            "--oauth-extra-params",
            json.dumps(provider.extra_params),
            root=nwb_data_dir,
            env={"PANEL_OAUTH_SECRET": provider.client_secret},
        ) as (url, _port),
    ):
        login = requests.get(url + "login", allow_redirects=False, timeout=10)
        assert login.status_code == 302 and login.headers["Location"].startswith(provider.url + "/authorize")
        for route in APP_ROUTES:
            assert requests.get(url + route, headers=SIGNED_IN, timeout=10).status_code == 403, route
        context = browser.new_context(extra_http_headers={})
        try:
            page = context.new_page()
            page.goto(url + "?page=nwb")
            expect(page.get_by_text("alice@lab.org · Sign out")).to_be_visible()
            assert provider.token_requests == 1
            cookies = {c["name"]: c["value"] for c in context.cookies()}
            assert requests.get(url + "ngdemo/image/info", cookies=cookies, timeout=10).status_code == 200
        finally:
            context.close()


def test_no_sign_in_warns_when_others_can_reach_the_server(tmp_path, nwb_data_dir):
    (tmp_path / "ws").mkdir()
    with served_app(tmp_path / "ws", "--auth", "none", "--prefix", "/lab", root=nwb_data_dir) as (url, _port):
        assert (
            requests.get(url + "ngdemo/image/info", timeout=10).status_code == 200
        )  # the operator's explicit choice
        assert "--auth none: anyone who reaches" in (tmp_path / "ws" / "server.log").read_text()


@pytest.mark.parametrize(
    "deployment",
    [
        {"prefix": "/neurodeck"},
        {"use_xheaders": True},
        {"websocket_origins": ("lab.example.org",)},
    ],
)
def test_behind_a_proxy_code_stays_off_unless_allowed_by_name(deployment):
    settings = Settings(address="127.0.0.1", **deployment)
    operator = settings.person(LOCAL_USER)
    assert operator.is_admin and not settings.code_execution(operator)[0]
    assert "--code-users" in settings.code_execution(operator)[1]
    named = Settings(address="127.0.0.1", code_users=("alice",), **deployment)
    assert named.code_execution(named.person("alice"))[0]
    assert not named.code_execution(named.person("bob"))[0]


def test_code_is_decided_by_who_signed_in_never_by_the_bind_address():
    for address in ("127.0.0.1", "0.0.0.0"):
        settings = Settings(address=address, auth="password", admins=("ada",))
        assert settings.code_execution(settings.person("ada"))[0]
        assert not settings.code_execution(settings.person("bob"))[0]
        assert not settings.code_execution(settings.person(None))[0]  # nobody signed in
    open_server = Settings(address="127.0.0.1", auth="none")
    assert not open_server.code_execution(open_server.person(None))[0]
    assert not Settings(allow_code=False).code_execution(Settings().person(LOCAL_USER))[0]


def test_default_roots_are_the_workspace_and_the_demo_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    roots = Settings(workspace=tmp_path / "ws").allowed_roots
    assert Path.cwd() not in roots and tmp_path / "ws" in roots


def test_the_jupyter_token_comes_from_a_file_or_the_environment_never_the_command_line(tmp_path, capsys):
    from app.cli import settings_from_args

    token_file = tmp_path / "jupyter-token"
    token_file.write_text("jt-secret\n")
    assert (
        settings_from_args(
            ["--jupyter-url", "http://127.0.0.1:8888", "--jupyter-token-file", str(token_file)]
        ).jupyter_token
        == "jt-secret"
    )
    assert Settings.from_env({"NEURODECK_JUPYTER_TOKEN": "jt-env"}).jupyter_token == "jt-env"
    with pytest.raises(SystemExit):
        settings_from_args(
            ["--jupyter-token", "jt-secret"]
        )  # a token in argv is visible to every user in `ps`
    assert "unrecognized arguments" in capsys.readouterr().err


def _secret_in_child(path: str, answers) -> None:
    from app.auth import read_or_create_secret

    answers.put(read_or_create_secret(Path(path)))


def test_servers_starting_together_on_one_workspace_share_one_secret(tmp_path: Path):
    """Two or more servers on one workspace (--num-procs, or several behind a proxy) must sign cookies with
    one
    secret: each reads the secret whole, never an empty file that another one is still writing."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    processes = [
        context.Process(target=_secret_in_child, args=(str(tmp_path / "auth" / "cookie_secret"), answers))
        for _ in range(6)
    ]
    for process in processes:
        process.start()
    secrets_seen = {answers.get(timeout=60) for _ in processes}
    for process in processes:
        process.join(30)
    assert len(secrets_seen) == 1 and len(secrets_seen.pop()) >= 32
    assert [p.name for p in (tmp_path / "auth").iterdir()] == ["cookie_secret"]  # no partial files left
