"""The WhatsApp Cloud API emulator: ``POST /{version}/{phone_number_id}/messages``, media, onboarding
(numbers, registration, subscriptions, coexistence's sync, the code exchange, the hosted signup page),
sandbox controls.

Checks run in the order Meta's would: token, body, then delivery-side refusals (injected faults,
throughput, pair rate). A refused send consumes no pair-rate quota, as a message that never left.
A number onboarded through the emulator sends once it is on the Cloud API (registered, or coexistence);
before that Meta answers 133010.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.config import SandboxSettings
from sandbox.meta.admin import add_admin_routes
from sandbox.meta.auth import check_token
from sandbox.meta.emulator_state import EMULATOR, Emulator
from sandbox.meta.errors import MetaError, error_middleware
from sandbox.meta.ids import new_wamid
from sandbox.meta.js_sdk import add_js_sdk_routes
from sandbox.meta.media import add_media_routes
from sandbox.meta.oauth import add_oauth_routes
from sandbox.meta.onboarding_admin import add_onboarding_admin_routes
from sandbox.meta.phone_numbers import add_phone_number_routes
from sandbox.meta.registration import add_registration_routes
from sandbox.meta.signup_page import add_signup_routes
from sandbox.meta.smb_app_data import add_smb_app_data_routes
from sandbox.meta.state import OutboxEntry, ReadMark
from sandbox.meta.subscriptions import add_subscription_routes
from sandbox.meta.validation import ReadRequest, parse_messages_body
from sandbox.meta.webhooks import WebhookPoster

MESSAGES_ROUTE = r"/{version:v\d+\.\d+}/{phone_number_id}/messages"


def create_app(settings: SandboxSettings) -> web.Application:
    # Customers' media arrives base64-encoded in JSON (4/3 of its size); uploads stream past this limit.
    max_body = max(1024**2, settings.sandbox_media_store_bytes * 4 // 3 + 64 * 1024)
    app = web.Application(middlewares=[error_middleware], client_max_size=max_body)
    app[EMULATOR] = Emulator.from_settings(settings)
    app.router.add_post(MESSAGES_ROUTE, send_message)
    add_oauth_routes(app)
    add_phone_number_routes(app)  # before the media routes: it answers GET /{id} for numbers and WABAs
    add_registration_routes(app)
    add_subscription_routes(app)
    add_smb_app_data_routes(app)  # coexistence's contact and history sync
    add_media_routes(app)
    add_signup_routes(app)
    add_js_sdk_routes(app)  # Meta's JS SDK (FB.login's Embedded Signup popup) at /sdk.js
    add_admin_routes(app)
    add_onboarding_admin_routes(app)
    app.cleanup_ctx.append(_webhook_delivery)
    return app


async def _webhook_delivery(app: web.Application) -> AsyncIterator[None]:
    emulator = app[EMULATOR]
    settings = emulator.settings
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        emulator.http = session
        if settings.sandbox_webhook_url:
            emulator.poster = WebhookPoster(
                session,
                settings.sandbox_webhook_url,
                settings.app_secret.get_secret_value().encode(),
                settings.sandbox_webhook_attempts,
                settings.sandbox_webhook_backoff_s,
                overrides=emulator.accounts.override_for,
            )
        yield
        # Background deliveries use the session, so they end before it closes.
        await emulator.cancel_tasks()
        emulator.poster = None
        emulator.http = None


async def send_message(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    phone_number_id = request.match_info["phone_number_id"]
    check_token(request, emulator.settings, emulator.accounts, phone_number_id)
    try:
        body: Any = await request.json()
    except ValueError as exc:
        raise MetaError(100, "The request body is not valid JSON.") from exc
    parsed = parse_messages_body(body)
    onboarded = emulator.accounts.numbers.get(phone_number_id)
    if onboarded is not None and not onboarded.on_cloud_api:
        raise MetaError(133010)
    now = datetime.now(UTC)
    if isinstance(parsed, ReadRequest):
        emulator.reads.append(ReadMark(phone_number_id, parsed.message_id, parsed.typing_indicator, now))
        return web.json_response({"success": True})

    fault = emulator.faults.take(phone_number_id, parsed.wa_id)
    if fault is not None:
        raise fault
    if not emulator.throughput.take(phone_number_id):
        raise MetaError(130429)
    if not emulator.pair_rate.take((phone_number_id, parsed.wa_id)):
        raise MetaError(131056)

    wamid = new_wamid(parsed.wa_id)
    emulator.outbox.add(OutboxEntry(wamid, phone_number_id, parsed.wa_id, parsed.type, parsed.text, body, now))
    # The emulator cannot know a template's category; utility is the common case for replies.
    category = "utility" if parsed.type == "template" else "service"
    callback = body.get("biz_opaque_callback_data") if isinstance(body, dict) else None
    emulator.schedule_statuses(
        emulator.numbers.get(phone_number_id),
        wamid,
        parsed.wa_id,
        category,
        callback if isinstance(callback, str) else None,
    )

    message: dict[str, str] = {"id": wamid}
    if parsed.type == "template":
        message["message_status"] = "accepted"  # Meta adds this for template sends only
    return web.json_response(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": parsed.to, "wa_id": parsed.wa_id}],
            "messages": [message],
        }
    )
