"""Meta's webhook endpoint: verify the handshake, check the signature, publish the raw body, then 200.

Nothing is parsed or processed here: the answer is given only once the broker has confirmed the publish,
and a broker that cannot confirm means 503 (Meta retries for days). The body is read within a memory budget
and refused as early as it can be (gateway/signed_body.py).
"""

from __future__ import annotations

import base64
import hmac
import uuid
from datetime import UTC, datetime

from aiohttp import web

from gateway.keys import PUBLISHER, SETTINGS
from gateway.signed_body import Refused, signed_body
from shared.contracts.envelope import wrap
from shared.contracts.messages import WebhookReceived
from shared.logging import bind_context, get_logger
from shared.messaging.broker import PublishFailed

log = get_logger(__name__)
routes = web.RouteTableDef()


@routes.get("/webhook/whatsapp")
async def verify(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    expected = settings.verify_token.get_secret_value()
    query = request.query
    given = query.get("hub.verify_token", "")
    if query.get("hub.mode") == "subscribe" and expected and hmac.compare_digest(given.encode(), expected.encode()):
        return web.Response(text=query.get("hub.challenge", ""), content_type="text/plain")
    log.warning("webhook.verify_refused", mode=query.get("hub.mode"))
    return web.Response(status=403, text="verification token mismatch")


@routes.post("/webhook/whatsapp")
async def receive(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    correlation_id = uuid.uuid4().hex
    with bind_context(correlation_id=correlation_id):
        try:
            async with signed_body(request, settings) as body:  # its bytes stay reserved until published
                return await _publish(request, body, correlation_id)
        except Refused as refused:
            log.warning("webhook.refused", status=refused.status, declared_bytes=request.content_length)
            return web.Response(status=refused.status, text=refused.text)


async def _publish(request: web.Request, body: bytes, correlation_id: str) -> web.Response:
    try:
        received = WebhookReceived(body=body.decode("utf-8"), received_at=datetime.now(UTC))
    except UnicodeDecodeError:
        # Signed by Meta yet not UTF-8: accepted and kept byte for byte (the router parks it), since
        # refusing would only make Meta retry the same bytes for days.
        log.warning("webhook.not_utf8", bytes=len(body))
        received = WebhookReceived(
            body=body.decode("utf-8", errors="replace"),
            body_base64=base64.b64encode(body).decode(),
            received_at=datetime.now(UTC),
        )
    envelope = wrap(received, correlation_id=correlation_id)
    try:
        await request.app[PUBLISHER].publish(envelope)
    except PublishFailed as exc:
        log.error("webhook.publish_failed", reason=exc.reason)
        return web.Response(status=503, text="broker unavailable, retry later")
    log.info("webhook.accepted", bytes=len(body))
    return web.Response(text="EVENT_RECEIVED")
