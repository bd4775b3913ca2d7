"""``/{waba_id}/subscribed_apps``: the app's subscription to a WABA's webhooks, and its callback override.

- ``POST`` without override fields subscribes the app (and drops an override, as integrators report).
- ``POST`` with ``override_callback_uri`` + ``verify_token`` before the app is subscribed is Meta's #100
  (Chatwoot #12488, #13154, #14713); after, Meta first calls the URL with the ``hub.challenge`` GET and
  answers #2200 when the challenge does not come back. The WABA's webhooks then go to the override.
- ``GET`` lists the subscribed app; ``DELETE`` unsubscribes.

Not emulated: webhooks are delivered whether or not the app is subscribed, and per-number overrides
(``POST /{phone_number_id}`` with ``webhook_configuration``) are not kept.
"""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.meta.accounts import Waba
from sandbox.meta.emulator_state import EMULATOR, Emulator
from sandbox.meta.errors import MetaError, invalid_param
from sandbox.meta.media import VERSION
from sandbox.meta.objects import resolve_waba
from sandbox.meta.params import graph_params, text

OVERRIDE_BEFORE_SUBSCRIBE = (
    "(#100) Before override the current callback uri, your app must be subscribed to receive messages for "
    "WhatsApp Business Account"
)


def add_subscription_routes(app: web.Application) -> None:
    path = f"/{VERSION}/{{waba_id}}/subscribed_apps"
    app.router.add_post(path, subscribe)
    app.router.add_get(path, list_subscriptions)
    app.router.add_delete(path, unsubscribe)


async def verify_callback(emulator: Emulator, url: str, verify_token: str) -> None:
    """Meta's verification request: the endpoint must answer 200 with the challenge as its body."""
    if emulator.http is None or not emulator.settings.sandbox_verify_callbacks:
        return
    challenge = str(secrets.randbelow(10**9))
    params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
    try:
        async with emulator.http.get(url, params=params, timeout=aiohttp.ClientTimeout(total=6)) as response:
            body = (await response.text()).strip()
            problem = f"HTTP Status Code = {response.status}; HTTP Message = {response.reason}"
            if response.status == 200 and body == challenge:
                return
            if response.status == 200:
                problem = "The response does not match the challenge; " + problem
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        problem = f"curl_error = {type(exc).__name__}: {exc}"
    raise MetaError(2200, message=f"(#2200) Callback verification failed with the following errors: {problem}")


async def subscribe(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    waba = resolve_waba(request, emulator, request.match_info["waba_id"])
    params = await graph_params(request)
    uri, verify_token = text(params, "override_callback_uri"), text(params, "verify_token")
    emulator.faults.refuse_call("subscribed_apps", waba.id)
    if uri is None and verify_token is None:
        waba.subscribed = True
        waba.override_callback_uri = waba.verify_token = None
        return web.json_response({"success": True})
    if not waba.subscribed:
        raise MetaError(100, message=OVERRIDE_BEFORE_SUBSCRIBE, with_error_data=False)
    if uri is None or verify_token is None:
        missing = "override_callback_uri" if uri is None else "verify_token"
        raise invalid_param(f"The parameter {missing} is required when overriding the callback")
    if not uri.startswith(("https://", "http://")):
        raise invalid_param("Param override_callback_uri must be a valid URL")
    await verify_callback(emulator, uri, verify_token)
    waba.override_callback_uri, waba.verify_token = uri, verify_token
    return web.json_response({"success": True})


def subscription_json(emulator: Emulator, waba: Waba) -> dict[str, Any]:
    settings = emulator.settings
    entry: dict[str, Any] = {
        "whatsapp_business_api_data": {
            "id": settings.app_id,
            "name": settings.app_name,
            "link": f"https://www.facebook.com/games/?app_id={settings.app_id}",
        }
    }
    if waba.override_callback_uri:
        entry["override_callback_uri"] = waba.override_callback_uri
    return entry


async def list_subscriptions(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    waba = resolve_waba(request, emulator, request.match_info["waba_id"])
    return web.json_response({"data": [subscription_json(emulator, waba)] if waba.subscribed else []})


async def unsubscribe(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    waba = resolve_waba(request, emulator, request.match_info["waba_id"])
    waba.subscribed = False
    waba.override_callback_uri = waba.verify_token = None
    return web.json_response({"success": True})
