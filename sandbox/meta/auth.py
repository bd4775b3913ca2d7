"""The bearer-token check shared by every Graph endpoint of the emulator and its media downloads.

Two kinds of token pass: the system-user token (``WAMUX_GRAPH_TOKEN``, every object), and a business
token issued by ``/oauth/access_token``, which reaches only the WABA it was issued for and its numbers.
"""

from __future__ import annotations

import hmac
from typing import Protocol

from aiohttp import web

from sandbox.config import SandboxSettings
from sandbox.meta.errors import invalid_token, unsupported_request


class BusinessTokens(Protocol):
    def is_business_token(self, token: str) -> bool: ...

    def covers(self, token: str, object_id: str) -> bool: ...


def bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        token = request.query.get("access_token", "")  # Graph also takes the token as a parameter
    return token.strip()


def check_token(
    request: web.Request,
    settings: SandboxSettings,
    business: BusinessTokens | None = None,
    object_id: str | None = None,
) -> str:
    """The caller's token, once it may touch ``object_id``; Graph's 190 (or 100/33 for a foreign object)."""
    token = bearer_token(request)
    if token and business is not None and business.is_business_token(token):
        if object_id is not None and not business.covers(token, object_id):
            # Graph does not say whether the object exists when the token may not see it.
            raise unsupported_request(request.method.lower(), object_id)
        return token
    expected = settings.graph_token.get_secret_value()
    if not token or (expected and not hmac.compare_digest(token.encode(), expected.encode())):
        raise invalid_token()
    return token
