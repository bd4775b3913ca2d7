"""Who is calling the onboarding API: the operator (``WAMUX_OPERATOR_API_KEY``, acting for any client) or a client
(its own API key, acting for itself alone).

Both keys travel as ``Authorization: Bearer <key>`` and share the client API's failure limiter: a wrong key of
either kind spends one of the address's tries (gateway/failed_keys.py), so the operator key cannot be guessed
faster than a client's. A client asking about another client's data is answered 404, as if it did not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from aiohttp import web

from gateway.auth import key_holder
from gateway.keys import SETTINGS

OPERATOR_DISABLED = "operator API disabled: set WAMUX_OPERATOR_API_KEY"


@dataclass(frozen=True)
class Caller:
    """The operator (``client_id`` None) or one client."""

    client_id: uuid.UUID | None

    @property
    def is_operator(self) -> bool:
        return self.client_id is None

    def may_see(self, client_id: uuid.UUID) -> bool:
        return self.client_id is None or self.client_id == client_id

    def require(self, client_id: uuid.UUID, what: str = "client") -> None:
        """404 unless the caller may act for ``client_id`` (another client's ids do not exist for it)."""
        if not self.may_see(client_id):
            raise web.HTTPNotFound(text=f"no such {what}")


async def operator(request: web.Request) -> Caller:
    """The operator, or 401/403/429; 503 while no operator key is configured."""
    if not request.app[SETTINGS].operator_api_key.get_secret_value():
        raise web.HTTPServiceUnavailable(text=OPERATOR_DISABLED)
    caller = await operator_or_client(request)
    if not caller.is_operator:
        raise web.HTTPForbidden(text="this call needs the operator key (WAMUX_OPERATOR_API_KEY), not a client's key")
    return caller


async def operator_or_client(request: web.Request) -> Caller:
    """The operator when the key is the operator's, else the client whose key it is (one limiter for both)."""
    return Caller(await key_holder(request, request.app[SETTINGS].operator_api_key.get_secret_value()))


def path_id(request: web.Request, name: str, what: str) -> uuid.UUID:
    """A UUID from the path; anything else names nothing (404)."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound(text=f"no such {what}") from None
