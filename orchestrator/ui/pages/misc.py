"""The login page and logging out."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..actions import ui_state
from ..auth import COOKIE
from .layout import h, page


def _login_form(error: str = "") -> str:
    problem = f'<p class="error">{h(error)}</p>' if error else ""
    return (
        f'<div class="login"><h1>Log in</h1>{problem}<form method="post" action="/login">'
        '<label>Token <input type="password" name="token" autocomplete="current-password" '
        'autofocus></label><button class="primary" type="submit">Log in</button></form>'
        '<p class="muted">The token is the server\'s OPGRID_UI_TOKEN.</p></div>'
    )


async def login_page(request: Request) -> Response:
    policy = ui_state(request).policy
    if policy.token is None:
        return RedirectResponse("/runs", 303)
    if request.method == "GET":
        return page(request, "Log in", _login_form())
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    given = (form.get("token") or [""])[0]
    if not policy.token_ok(given):
        return page(request, "Log in", _login_form("That token is not right."), status=401)
    response = RedirectResponse("/runs", 303)
    response.set_cookie(
        COOKIE,
        policy.session_value(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=7 * 24 * 3600,
    )
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE)
    return response
