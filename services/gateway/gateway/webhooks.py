"""Meta's webhook endpoint: verify the handshake, check the signature, publish the raw body, then 200.

Nothing is parsed or processed here: the answer is given only once the broker has confirmed the publish,
and a broker that cannot confirm means 503 (Meta retries for days). The body is read within a memory budget
and refused as early as it can be (gateway/signed_body.py). It is published as itself, in the wire's props form
(shared/messaging/wire.py): the exact signed bytes as the message body, the envelope's fields in its properties —
with the webhooks that arrive while the broker confirms earlier ones, in one message (gateway/group_commit.py).
An accepted webhook costs no log line (``WEBHOOK_COUNTS`` counts them for ``/metrics``); refusals and failed
publishes are logged.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from aiohttp import web

from gateway.group_commit import GroupCommit
from gateway.keys import SETTINGS
from gateway.signed_body import Refused, signed_body
from shared.logging import get_logger
from shared.messaging import wire
from shared.messaging.broker import PublishFailed

log = get_logger(__name__)
routes = web.RouteTableDef()


@dataclass
class WebhookCounts:
    """Webhooks answered since start-up, by outcome (``/metrics`` shows them)."""

    accepted: int = 0
    not_utf8: int = 0  # accepted too: counted in both
    refused: int = 0
    publish_failed: int = 0


WEBHOOK_GROUPS = web.AppKey("webhook_groups", GroupCommit)  # webhook.received, the role's contract checked once
WEBHOOK_COUNTS = web.AppKey("webhook_counts", WebhookCounts)
WEBHOOK_IDS = web.AppKey("webhook_ids", wire.EnvelopeIds)
ACCEPTED = "EVENT_RECEIVED"
UNAVAILABLE = "broker unavailable, retry later"


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
    app = request.app
    try:
        body = await signed_body(request, app[SETTINGS])
    except Refused as refused:
        app[WEBHOOK_COUNTS].refused += 1
        log.warning("webhook.refused", status=refused.status, declared_bytes=request.content_length)
        return web.Response(status=refused.status, text=refused.text)
    try:
        return await _publish(app, body.bytes)
    finally:
        body.release()  # its bytes stayed reserved until published (or not)


async def _publish(app: web.Application, body: bytes) -> web.Response:
    counts, envelope_id = app[WEBHOOK_COUNTS], app[WEBHOOK_IDS]()
    if wire.content_type(body) == wire.BYTES_TYPE:
        # Signed by Meta yet not UTF-8: accepted and kept byte for byte (the router parks it), since
        # refusing would only make Meta retry the same bytes for days.
        counts.not_utf8 += 1
        log.warning("webhook.not_utf8", bytes=len(body), correlation_id=envelope_id)
    try:
        await app[WEBHOOK_GROUPS].publish(wire.Part(body, envelope_id, time.time_ns() // 1000))
    except PublishFailed as exc:
        counts.publish_failed += 1
        log.error("webhook.publish_failed", reason=exc.reason, correlation_id=envelope_id)
        return web.Response(status=503, text=UNAVAILABLE)
    counts.accepted += 1
    return web.Response(text=ACCEPTED)
