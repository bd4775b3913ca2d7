"""The bearer-token check shared by every Graph endpoint of the emulator and its media downloads."""

from __future__ import annotations

import hmac

from aiohttp import web

from sandbox.config import SandboxSettings
from sandbox.meta.errors import invalid_token


def check_token(request: web.Request, settings: SandboxSettings) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        token = request.query.get("access_token", "")  # Graph also takes the token as a parameter
    token = token.strip()
    expected = settings.graph_token.get_secret_value()
    if not token or (expected and not hmac.compare_digest(token.encode(), expected.encode())):
        raise invalid_token()
