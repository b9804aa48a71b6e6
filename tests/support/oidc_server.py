"""A small OAuth 2 / OpenID provider on 127.0.0.1 for sign-in tests: it approves whoever it is told to.

``/authorize`` sends the browser straight back with a code (the consent screen a real provider
shows is not what is tested), ``/token`` trades that code for an access token, and ``/user``
answers the OpenID userinfo for it. Codes are single-use and tied to the client's redirect URI.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["OidcProvider"]


class OidcProvider:
    """``with OidcProvider("alice@lab.org") as provider:`` then ``provider.extra_params`` for Panel's generic
    OAuth."""

    def __init__(self, email: str, client_id: str = "neurodeck", client_secret: str = "s3cret") -> None:
        self.email, self.client_id, self.client_secret = email, client_id, client_secret
        self._codes: dict[str, str] = {}
        self._tokens: set[str] = set()
        self.token_requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _json(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/authorize" and query.get("client_id") == provider.client_id:
                    code = secrets.token_urlsafe(8)
                    provider._codes[code] = query["redirect_uri"]
                    self.send_response(302)
                    answer = urlencode({"code": code, "state": query.get("state", "")})
                    self.send_header("Location", f"{query['redirect_uri']}?{answer}")
                    self.end_headers()
                elif url.path == "/user" and self.headers.get("Authorization", "")[7:] in provider._tokens:
                    self._json(200, {"email": provider.email, "name": provider.email.split("@")[0]})
                else:
                    self._json(401, {"error": "unauthorized"})

            def do_POST(self) -> None:
                form = {
                    k: v[0]
                    for k, v in parse_qs(
                        self.rfile.read(int(self.headers["Content-Length"])).decode()
                    ).items()
                }
                provider.token_requests += 1
                redirect = provider._codes.pop(form.get("code", ""), None)
                if (
                    urlsplit(self.path).path != "/token"
                    or redirect is None
                    or form.get("client_secret") != provider.client_secret
                ):
                    self._json(400, {"error": "invalid_grant"})
                    return
                token = secrets.token_urlsafe(12)
                provider._tokens.add(token)
                self._json(200, {"access_token": token, "token_type": "bearer"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def extra_params(self) -> dict[str, str]:
        return {
            "AUTHORIZE_URL": f"{self.url}/authorize",
            "TOKEN_URL": f"{self.url}/token",
            "USER_URL": f"{self.url}/user",
            "USER_KEY": "email",
        }

    def __enter__(self) -> OidcProvider:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
