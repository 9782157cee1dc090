"""Who may use the UI, and which requests may change anything.

- **Token.** With ``OPGRID_UI_TOKEN`` set (required when the server binds anything but
  loopback, unless ``--no-auth``), every request but the login page and static files
  needs it: as ``Authorization: Bearer <token>``, or as the login cookie, which holds
  an HMAC of the token (never the token itself). Tokens are compared in constant time.
- **CSRF.** A request that changes something (any POST) must come from our own pages or
  from a non-browser client: its ``Origin``, when sent, must name this server, and it
  must carry either a JSON body (which a cross-site form cannot send without a CORS
  preflight, and this server answers none), the ``X-Opgrid-CSRF`` header, or a bearer
  token. Pages get the CSRF value in a ``<meta>`` tag; it is derived from the cluster
  secret, so every UI process of a cluster agrees on it without sharing state.
- **DNS rebinding.** Bound to loopback, the server answers only ``Host`` names that
  are loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .cluster import DagsterInvariantViolationError

#: The environment variable holding the UI's token.
TOKEN_ENV = "OPGRID_UI_TOKEN"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The login cookie's name.
COOKIE = "opgrid_ui_session"
#: The header our pages send with every POST.
CSRF_HEADER = "x-opgrid-csrf"
#: Paths served without the token.
OPEN_PATHS = ("/login", "/static/", "/healthz")
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """What the server checks, fixed at start."""

    token: str | None
    csrf_key: bytes
    loopback_only: bool

    @classmethod
    def build(cls, host: str, token: str | None, no_auth: bool, secret: str) -> AuthPolicy:
        """The policy of a server bound to ``host``.

        Raises:
            DagsterInvariantViolationError: bound beyond loopback with neither a token nor
                ``no_auth``.
        """
        token = token or None
        loopback = is_loopback(host)
        if not loopback and token is None and not no_auth:
            raise DagsterInvariantViolationError(
                f"the UI binds {host!r}, beyond loopback: set OPGRID_UI_TOKEN (or pass "
                "--no-auth to serve anyone who can reach it)"
            )
        key = hashlib.sha256(b"opgrid-ui-csrf\0" + secret.encode()).digest()
        return cls(None if no_auth else token, key, loopback)

    @property
    def csrf_token(self) -> str:
        return hmac.new(self.csrf_key, b"csrf", hashlib.sha256).hexdigest()

    def session_value(self) -> str:
        """The login cookie's value: an HMAC of the token, so the cookie never holds it."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"opgrid-ui-session", hashlib.sha256).hexdigest()

    def token_ok(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def authenticated(self, headers: dict[str, str], cookies: dict[str, str]) -> bool:
        if self.token is None:
            return True
        bearer = headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and self.token_ok(bearer[7:].strip()):
            return True
        cookie = cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie, self.session_value())

    def csrf_ok(self, headers: dict[str, str]) -> bool:
        """Whether a POST may change something (see the module docstring)."""
        if not _same_origin(headers):
            return False
        if headers.get("authorization", "").lower().startswith("bearer "):
            return True
        given = headers.get(CSRF_HEADER, "")
        if given and hmac.compare_digest(given, self.csrf_token):
            return True
        return headers.get("content-type", "").split(";")[0].strip() == "application/json"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookies(header: str) -> dict[str, str]:
    found = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            found[name] = value
    return found


class AuthMiddleware:
    """ASGI middleware applying an ``AuthPolicy`` to every HTTP request."""

    def __init__(self, app: ASGIApp, policy: AuthPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path: str = scope.get("path", "")
        problem = self._problem(scope, headers, path)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, text = problem
        query: bytes = scope.get("query_string", b"")
        if status == 401 and scope.get("method") == "GET" and _wants_html(headers, path, query):
            await _send(send, 303, b"", [(b"location", b"/login")])
            return
        await _send(send, status, text.encode(), [(b"content-type", b"text/plain")])

    def _problem(self, scope: Scope, headers: dict[str, str], path: str) -> tuple[int, str] | None:
        host = _host_name(headers.get("host", ""))
        if self.policy.loopback_only and not is_loopback(host):
            return 421, f"this server answers loopback host names only, not {host!r}\n"
        if scope.get("method") == "POST":
            allowed = _same_origin(headers) if path == "/login" else self.policy.csrf_ok(headers)
            if not allowed:
                return 403, "refused: cross-site request (Origin or CSRF check failed)\n"
        if path.startswith(OPEN_PATHS):
            return None
        if not self.policy.authenticated(headers, _cookies(headers.get("cookie", ""))):
            return 401, "unauthorized: send Authorization: Bearer <OPGRID_UI_TOKEN>\n"
        return None


def _host_name(host: str) -> str:
    """``Host`` without its port (``[::1]:3000`` -> ``[::1]``)."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]


def _same_origin(headers: dict[str, str]) -> bool:
    origin = headers.get("origin")
    return origin is None or urlsplit(origin).netloc == headers.get("host", "")


def _wants_html(headers: dict[str, str], path: str, query: bytes) -> bool:
    """A browser asking for a page (the GraphQL explorer too; not a query sent by GET)."""
    if path == "/graphql" and b"query=" in query:
        return False
    return "text/html" in headers.get("accept", "")


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
