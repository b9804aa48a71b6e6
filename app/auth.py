"""Sign-in for the server, the way Jupyter does it: a token by default, a password file, or OAuth.

Why our own provider rather than Panel's ``basic_auth``: Panel's basic provider compares plain-text
passwords and its login page loads Panel's CSS from a CDN; Jupyter's token flow (a random token
in the address the server prints, exchanged once for a cookie) has no equivalent there. OAuth is
Panel's own (``oauth_provider``); this module only wraps what every mode shares.

Every mode ends in the same place: a signed, HttpOnly ``user`` cookie (tornado's secure cookie,
keyed by the server's cookie secret), which is also what ``pn.state.user`` reads. The token is
also accepted as ``?token=`` (then traded for the cookie and dropped from the address) or an
``Authorization: token <token>`` header (scripts, embedding sites, tests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import http.cookies
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bokeh.server.auth_provider import AuthProvider
from bokeh.util.token import get_token_payload
from tornado.web import Finish, HTTPError, RequestHandler, decode_signed_value
from tornado.websocket import WebSocketHandler

from engines._filesystem import atomic_write
from engines.people import LOCAL_USER

if TYPE_CHECKING:
    from app.settings import Settings

__all__ = [
    "TokenRedaction",
    "SignIn",
    "TokenAuthProvider",
    "sign_in_for",
    "AUTH_MODES",
    "read_or_create_secret",
    "hash_password",
    "verify_password",
    "add_password",
    "guard_routes",
    "USER_COOKIE",
    "COOKIE_DAYS",
]

log = logging.getLogger("neurodeck.auth")

USER_COOKIE = "user"
"""The cookie Panel's ``pn.state.user`` reads (signed with the cookie secret)."""
COOKIE_DAYS = 7
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """The secret kept in ``path`` (0600), created at random the first time. Written whole under another name
    and linked into place, so a second server starting at the same moment reads the one secret, never an empty
    file; whichever link lands first wins for both."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(nbytes))
            os.link(partial, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(partial)
    path.chmod(0o600)
    return path.read_text().strip()


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64): what a password file keeps instead of the password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a ``hash_password`` string (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def read_passwords(path: Path) -> dict[str, str]:
    """``user:hash`` lines of a password file (blank lines and ``#`` comments skipped)."""
    users: dict[str, str] = {}
    if not path.exists():
        return users
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            user, stored = line.split(":", 1)
            users[user.strip()] = stored.strip()
    return users


def add_password(path: Path, user: str, password: str) -> None:
    """Add or replace ``user`` in the password file (kept 0600)."""
    if not user or ":" in user or user.strip() != user:
        raise ValueError("A user name may not be empty, contain ':' or start/end with spaces.")
    users = read_passwords(path)
    users[user] = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, "".join(f"{name}:{stored}\n" for name, stored in users.items()), permissions=0o600)


@dataclass(frozen=True)
class SignIn:
    """How people sign in to one server: the mode and its secrets (never logged)."""

    mode: str
    cookie_secret: str
    token: str = ""
    password_file: Path | None = None

    def check_token(self, candidate: str | None) -> bool:
        return bool(
            self.mode == "token"
            and candidate
            and self.token
            and hmac.compare_digest(candidate.encode(), self.token.encode())
        )

    def check_password(self, user: str, password: str) -> bool:
        if self.mode != "password" or self.password_file is None:
            return False
        stored = read_passwords(self.password_file).get(user)
        return stored is not None and verify_password(password, stored)

    def signed_user(self, value: str | bytes | None) -> str | None:
        """The user named by a signed ``user`` cookie value, or None if it is missing, forged or expired."""
        if not value:
            return None
        decoded = decode_signed_value(self.cookie_secret, USER_COOKIE, value, max_age_days=COOKIE_DAYS)
        return decoded.decode("utf-8") if decoded else None

    def user_of(self, handler: RequestHandler) -> str | None:
        """Who sent this request: the cookie, an ``Authorization: token`` header, a ``?token=`` argument, or,
        for a WebSocket whose cookie a browser withheld (a third-party iframe), the signed cookie its Bokeh
        session token carries from the signed-in page load."""
        user = self.signed_user(handler.get_cookie(USER_COOKIE))
        if user:
            return user
        header = handler.request.headers.get("Authorization", "")
        if header.lower().startswith("token ") and self.check_token(header[6:].strip()):
            return LOCAL_USER
        if self.check_token(handler.get_query_argument("token", None)):
            return LOCAL_USER
        if isinstance(handler, WebSocketHandler):
            return self.signed_user(_session_cookie(handler, USER_COOKIE))
        return None


def _session_cookie(handler: RequestHandler, name: str) -> str | None:
    """A cookie recorded in the Bokeh session token a WebSocket presents (``Sec-WebSocket-Protocol: bokeh,
    <jwt>``)."""
    protocol = handler.request.headers.get("Sec-WebSocket-Protocol", "")
    parts = [part.strip() for part in protocol.split(",")]
    if len(parts) != 2 or parts[0] != "bokeh":
        return None
    try:
        return (get_token_payload(parts[1]).get("cookies") or {}).get(name)
    except Exception:  # a malformed token is simply no sign-in
        return None


def _set_user_cookie(handler: RequestHandler, sign_in: SignIn, user: str) -> None:
    """The signed cookie for ``user``; Secure and SameSite=None over HTTPS (so it also works inside other
    sites'
    iframes), Lax over plain HTTP (where browsers drop Secure cookies on non-loopback hosts)."""
    https = handler.request.protocol == "https"
    handler.set_signed_cookie(
        USER_COOKIE,
        user,
        expires_days=COOKIE_DAYS,
        httponly=True,
        secure=https,
        samesite="None" if https else "Lax",
        path="/",
    )
    # This request's own session reads its user from the request's cookies (pn.state.user), so put it there
    # too.
    signed = handler.create_signed_value(USER_COOKIE, user).decode()
    handler.request.cookies[USER_COOKIE] = http.cookies.SimpleCookie({USER_COOKIE: signed})[USER_COOKIE]


def _without_token(uri: str) -> str:
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    return urlunsplit(("", "", parts.path, urlencode(query, safe="/:,"), ""))


def _safe_next(value: str | None, default: str) -> str:
    """Only a path on this server: never ``//host`` or ``https://host`` (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


class TokenAuthProvider(AuthProvider):
    """Bokeh's hook for ``--auth token`` and ``--auth password``: who is signed in, and the login/logout
    pages."""

    def __init__(self, sign_in: SignIn, prefix: str = "") -> None:
        self._sign_in = sign_in
        self._prefix = prefix
        super().__init__()

    @property
    def get_user(  # type: ignore[override]  # Bokeh's stub: HTTPServerRequest; it passes the handler
        self,
    ) -> Callable[[RequestHandler], str | None]:
        sign_in = self._sign_in

        def get_user(handler: RequestHandler) -> str | None:
            user = sign_in.user_of(handler)
            if user is None:
                return None
            if sign_in.signed_user(handler.get_cookie(USER_COOKIE)) is None and not isinstance(
                handler, WebSocketHandler
            ):
                _set_user_cookie(handler, sign_in, user)
                token_in_address = handler.get_query_argument("token", None) is not None
                embedded = handler.get_query_argument("embedded", "") in ("1", "true")
                if token_in_address and handler.request.method == "GET" and not embedded:
                    # Drop the token from the address bar, so a link copied from it never carries it.
                    handler.redirect(_without_token(handler.request.uri or "/"))
                    raise Finish()
            return user

        return get_user

    @property
    def login_url(self) -> str:
        return LOGIN_PATH

    @property
    def login_handler(self) -> type[RequestHandler]:
        sign_in, prefix = self._sign_in, self._prefix

        class LoginHandler(RequestHandler):
            def get(self) -> None:
                self.write(
                    _login_page(
                        sign_in.mode,
                        prefix,
                        self.get_query_argument("next", ""),
                        self.get_query_argument("error", ""),
                    )
                )

            async def post(self) -> None:
                next_url = _safe_next(self.get_body_argument("next", ""), prefix + "/")
                if sign_in.mode == "token":
                    user = LOCAL_USER if sign_in.check_token(self.get_body_argument("token", "")) else None
                else:
                    name = self.get_body_argument("username", "")
                    user = (
                        name if sign_in.check_password(name, self.get_body_argument("password", "")) else None
                    )
                if user is None:
                    log.warning("Failed sign-in from %s", self.request.remote_ip)
                    self.set_status(403)
                    self.write(_login_page(sign_in.mode, prefix, next_url, "That did not match. Try again."))
                    return
                _set_user_cookie(self, sign_in, user)
                self.redirect(next_url)

        return LoginHandler

    @property
    def logout_url(self) -> str:
        return LOGOUT_PATH

    @property
    def logout_handler(self) -> type[RequestHandler]:
        prefix = self._prefix

        class LogoutHandler(RequestHandler):
            def get(self) -> None:
                self.clear_cookie(USER_COOKIE, path="/")
                self.redirect(prefix + LOGIN_PATH)

        return LogoutHandler


def _login_page(mode: str, prefix: str, next_url: str, error: str) -> str:
    """A self-contained page (no external assets): the token, or a user name and password."""
    if mode == "token":
        fields = (
            "<label>Token <input name='token' type='password' autofocus></label>"
            "<p class='hint'>The server printed an address with <code>?token=…</code> when it started; "
            "the token is also in <code>&lt;workspace&gt;/auth/token</code>.</p>"
        )
    else:
        fields = (
            "<label>User <input name='username' autofocus></label>"
            "<label>Password <input name='password' type='password'></label>"
        )
    problem = f"<p class='error'>{html.escape(error)}</p>" if error else ""
    return f"""<!doctype html><html><head><meta charset='utf-8'><title>Sign in · Neurodeck</title>
<style>body{{font-family:system-ui,sans-serif;background:#f4f6f8;display:flex;justify-content:center;
margin-top:12vh}}form{{background:white;padding:2em;border-radius:8px;box-shadow:0 1px 4px #0002;width:22em}}
h1{{font-size:1.3em;color:#1f3b57}}label{{display:block;margin:.8em 0}}input{{width:100%;padding:.4em}}
button{{padding:.5em 1.4em;background:#1f3b57;color:white;border:0;border-radius:4px}}.hint{{color:#666;
font-size:.85em}}.error{{color:#b00020}}</style></head><body>
<form method='post' action='{html.escape(prefix + LOGIN_PATH)}'><h1>Sign in to Neurodeck</h1>{problem}{fields}
<input type='hidden' name='next' value='{html.escape(_safe_next(next_url, prefix + "/"))}'>
<button type='submit'>Sign in</button></form></body></html>"""


class TokenRedaction(logging.Filter):
    """Keeps ``token=...`` out of the access log (the token is a password; the address carrying it is
    logged)."""

    _pattern = re.compile(r"(token=)[^&\s]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                self._pattern.sub(r"\1[hidden]", a) if isinstance(a, str) else a for a in record.args
            )
        record.msg = self._pattern.sub(r"\1[hidden]", str(record.msg))
        return True


def guard_routes(routes: list[tuple], user_of: Callable[[RequestHandler], str | None]) -> list[tuple]:
    """The app's own routes (viewer proxy, data files) answering 403 to anyone not signed in."""
    return [(pattern, _guarded(handler, user_of), *rest) for pattern, handler, *rest in routes]


def _guarded(
    handler: type[RequestHandler], user_of: Callable[[RequestHandler], str | None]
) -> type[RequestHandler]:
    class SignedInOnly(handler):  # type: ignore[misc, valid-type]
        def prepare(self) -> Any:
            if user_of(self) is None:
                raise HTTPError(403, "Sign in first.")
            return super().prepare()

    SignedInOnly.__name__ = f"SignedIn{handler.__name__}"
    return SignedInOnly


def sign_in_for(settings: Settings) -> SignIn | None:
    """The server's sign-in from its settings (secrets made on first start, kept 0600 in the workspace);
    None for ``--auth none``."""
    if settings.auth not in AUTH_MODES:
        raise SystemExit(f"--auth must be one of {', '.join(AUTH_MODES)} (got {settings.auth!r}).")
    if settings.auth == "none":
        return None
    folder = settings.workspace / "auth"
    cookie_secret = settings.cookie_secret or read_or_create_secret(folder / "cookie_secret", 48)
    if settings.auth == "token":
        return SignIn(
            "token", cookie_secret, token=settings.token or read_or_create_secret(folder / "token", 24)
        )
    if settings.auth == "password":
        path = settings.password_file or folder / "passwords"
        if not read_passwords(path):
            raise SystemExit(
                f"--auth password needs users in {path}: add one with `python run.py passwd USER`."
            )
        return SignIn("password", cookie_secret, password_file=path)
    if not (settings.oauth_provider and settings.oauth_key and settings.oauth_secret):
        raise SystemExit(
            "--auth oauth needs --oauth-provider, --oauth-key and --oauth-secret "
            "(or PANEL_OAUTH_PROVIDER/KEY/SECRET)."
        )
    return SignIn("oauth", cookie_secret)


AUTH_MODES = ("token", "password", "oauth", "none")
