"""Who is calling the client API: the client whose API key it carries, and no other.

An address that keeps presenting wrong keys is refused with 429 before its key is even looked up
(gateway/failed_keys.py): looking it up would tell a guesser which key is right.
"""

from __future__ import annotations

import hmac
import uuid

from aiohttp import web

from gateway.failed_keys import LIMIT, client_address
from gateway.keys import POOL, SETTINGS
from shared.api_keys import hash_api_key


def bearer_key(header: str) -> str:
    """The key of ``Authorization: Bearer <key>``; the scheme in any case (RFC 9110), whitespace around ignored."""
    parts = header.split(None, 1)
    return parts[1].strip() if len(parts) == 2 and parts[0].lower() == "bearer" else ""


OPERATOR = None  # what key_holder answers for the operator's key


async def key_holder(request: web.Request, operator_key: str = "") -> uuid.UUID | None:
    """Who holds the request's key: a client's id, or ``OPERATOR`` when ``operator_key`` is given and matches
    (compared in constant time). 401 without a key or with an unknown one; 429 for an address that keeps guessing."""
    address = client_address(
        request.remote, request.headers.getall("X-Forwarded-For", []), request.app[SETTINGS].trusted_proxies
    )
    api_key = bearer_key(request.headers.get("Authorization", ""))
    if not api_key:
        raise web.HTTPUnauthorized(text="missing API key: send 'Authorization: Bearer <key>'")
    limit = request.app[LIMIT]
    if (retry_after_s := limit.attempt(address)) is not None:
        raise web.HTTPTooManyRequests(
            text="too many wrong API keys from this address", headers={"Retry-After": str(retry_after_s)}
        )
    if operator_key and hmac.compare_digest(api_key.encode(), operator_key.encode()):
        limit.succeeded(address)
        return OPERATOR
    client_id = await request.app[POOL].fetchval(
        "SELECT client_id FROM directory_read.api_keys WHERE api_key_hash = $1", hash_api_key(api_key)
    )
    if client_id is None:
        raise web.HTTPUnauthorized(text="unknown API key")  # the try taken above is spent
    limit.succeeded(address)
    return uuid.UUID(str(client_id))


async def authenticated_client(request: web.Request) -> uuid.UUID:
    """The client whose key it is, when the path names that client (another client's id: 404)."""
    client_id = await key_holder(request)
    try:
        requested = uuid.UUID(request.match_info["client_id"])
    except ValueError:
        raise web.HTTPNotFound(text="no such client") from None
    if requested != client_id:
        raise web.HTTPNotFound(text="no such client")
    return requested
