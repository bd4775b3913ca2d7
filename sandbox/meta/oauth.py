"""``GET /{version}/oauth/access_token?client_id&client_secret&code``: an Embedded Signup code for a business token.

Answers ``{"access_token", "token_type": "bearer"}`` (no ``expires_in``: business-integration system-user
tokens "default to never expire"). A code is single-use and lives ``WAMUX_SANDBOX_SIGNUP_CODE_TTL_S``
(Meta: 30 s). Refusals in Graph's words, code 100 / subcode 36009 for a spent or expired code (the code
table of issue 8; integrators report the "has been used" body), code 1 for a wrong client secret, 101 for
another app id. ``POST`` is accepted too, as Graph accepts it.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from sandbox.meta.auth import check_token
from sandbox.meta.emulator_state import EMULATOR
from sandbox.meta.errors import invalid_param, oauth_error, required_param, unsupported_request
from sandbox.meta.media import VERSION
from sandbox.meta.params import graph_params, text
from sandbox.meta.signup_codes import Refusal

# Refusal -> (message, error_subcode)
_REFUSALS: dict[Refusal, tuple[str, int | None]] = {
    Refusal.USED: ("This authorization code has been used.", 36009),
    Refusal.EXPIRED: ("This authorization code has expired.", 36009),
    Refusal.UNKNOWN: ("Invalid verification code format.", None),
}


def add_oauth_routes(app: web.Application) -> None:
    for path in (f"/{VERSION}/oauth/access_token", "/oauth/access_token"):
        app.router.add_get(path, exchange_code)
        app.router.add_post(path, exchange_code)
    app.router.add_post(f"/{VERSION}/{{business_id}}/system_user_access_tokens", system_user_access_token)


async def system_user_access_token(request: web.Request) -> web.Response:
    """``POST /{client_business_id}/system_user_access_tokens`` (Hosted Embedded Signup, onboarding-facts §2): the
    partner's system-user token as bearer, ``appsecret_proof`` = HMAC-SHA256(app secret, that token) and
    ``fetch_only=true``; answers the business token for the client's WABAs shared with the partner."""
    emulator = request.app[EMULATOR]
    settings = emulator.settings
    token = check_token(request, settings)  # the system user's: a business token cannot mint another
    if emulator.accounts.is_business_token(token):
        raise invalid_param("A business integration token cannot fetch system user access tokens.")
    params = await graph_params(request)
    proof = text(params, "appsecret_proof")
    if proof is None:
        raise required_param("appsecret_proof")
    expected = hmac.new(settings.app_secret.get_secret_value().encode(), token.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(proof.encode(), expected.encode()):
        raise oauth_error("Invalid appsecret_proof provided in the API argument", code=100)
    business_id = request.match_info["business_id"]
    wabas = emulator.accounts.wabas_of_business(business_id)
    if not wabas:
        raise unsupported_request("post", business_id)
    return web.json_response({"access_token": emulator.accounts.issue_token(*wabas)})


async def exchange_code(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    settings = emulator.settings
    params = await graph_params(request)
    client_id = text(params, "client_id")
    if client_id is None:
        raise required_param("client_id")
    if client_id != settings.app_id:
        raise oauth_error("Error validating application. Invalid application ID.", code=101)
    secret = text(params, "client_secret") or ""
    expected = settings.app_secret.get_secret_value()
    if not secret or (expected and not hmac.compare_digest(secret.encode(), expected.encode())):
        raise oauth_error("Error validating client secret.", code=1)
    code = text(params, "code")
    if code is None:
        raise required_param("code")
    emulator.faults.refuse_call("oauth/access_token")  # before the code is spent: a refused exchange keeps it
    granted = emulator.signup_codes.redeem(code)
    if isinstance(granted, Refusal):
        message, subcode = _REFUSALS[granted]
        raise oauth_error(message, subcode=subcode)
    token = emulator.accounts.issue_token(granted)
    return web.json_response({"access_token": token, "token_type": "bearer"})
