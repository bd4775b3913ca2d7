"""Webhook fields other than ``messages``: each becomes one stored record and one event for the CRM.

The tenant is found from what the field carries: ``metadata.phone_number_id`` (coexistence echoes, history),
a ``display_phone_number`` (quality and name updates), or the WABA when all its numbers are one client's.
Coexistence echoes (the business answering from the WhatsApp Business app) also join the conversation
history, so the AI reads what the person said.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import asyncpg

from router.inbound import store_collected_messages
from router.store import UNSTORABLE, tenants
from router.store.messages import insert_echo
from router.store.meta_events import insert_meta_event
from router.webhook.notification import FieldUpdate, Unparsed
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import WebhookReceived
from shared.contracts.meta_events import MessageEchoed, event_for
from shared.logging import get_logger
from shared.messaging.batch import Outgoing

log = get_logger(__name__)


async def route_field(
    conn: asyncpg.Connection, out: Outgoing, update: FieldUpdate, cause: Envelope[WebhookReceived]
) -> list[Unparsed]:
    """Store and announce the field (its event staged on ``out``); return what cannot be, for parking: what
    PostgreSQL refused (undone alone, in a savepoint), and what a number that is not active wrote (each echo on
    its own, kept so that it can be replayed)."""
    if update.field != "smb_message_echoes":
        return await _publish_once(conn, out, update, update.value, update.value, cause)
    metadata = update.value.get("metadata") or {}
    refused: list[Unparsed] = []
    for echo in update.value.get("message_echoes") or []:
        if isinstance(echo, dict):
            alone = {**update.value, "message_echoes": [echo]}
            refused += await _publish_once(conn, out, update, {"metadata": metadata, **echo}, alone, cause)
    return refused


async def _publish_once(
    conn: asyncpg.Connection,
    out: Outgoing,
    update: FieldUpdate,
    value: dict[str, Any],
    replayable: dict[str, Any],
    cause: Envelope[WebhookReceived],
) -> list[Unparsed]:
    try:
        async with out.savepoint(conn):
            waiting = await _store_and_announce(conn, out, update, value, cause)
    except UNSTORABLE as exc:
        reason = f"{update.field} could not be stored: {type(exc).__name__}: {str(exc)[:200]}"
        return [Unparsed(reason, {"waba_id": update.waba_id, "field": update.field, "value": value})]
    if waiting is None:
        return []
    reason, phone_number_id = waiting
    return [Unparsed(reason, {"waba_id": update.waba_id, "field": update.field, "value": replayable}, phone_number_id)]


async def _store_and_announce(
    conn: asyncpg.Connection,
    out: Outgoing,
    update: FieldUpdate,
    value: dict[str, Any],
    cause: Envelope[WebhookReceived],
) -> tuple[str, str] | None:
    """None once stored and announced (or already); else why it waits and for which number."""
    digest = hashlib.sha256(
        json.dumps([update.waba_id, update.field, value], sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    event_type = event_for(update.field)
    client_id, phone_number_id, waiting = await _tenant(conn, update.waba_id, value)
    if waiting is not None and phone_number_id is not None:
        return waiting, phone_number_id
    if not await insert_meta_event(conn, digest, update, client_id, value):
        return None
    if event_type is MessageEchoed and client_id is not None and phone_number_id is not None:
        # After the customer messages the batch has collected so far, as it would be stored alone: an echo often
        # shares their second (an instant greeting), and their order within it is the order they are stored in.
        await store_collected_messages(conn, out)
        await insert_echo(conn, client_id, phone_number_id, value)
    event = event_type(
        waba_id=update.waba_id,
        field=update.field,
        event=_meta_event_name(value),
        client_id=client_id,
        phone_number_id=phone_number_id,
        value=value,
    )
    staged = wrap(event, id=derived_id(event.TYPE, digest), tenant_id=client_id, correlation_id=cause.correlation_id)
    out.publish(staged)
    log.debug("meta_field.routed", field=update.field, event_type=event.TYPE)
    return None


def _meta_event_name(value: dict[str, Any]) -> str | None:
    for key in ("event", "decision", "type"):
        if isinstance(value.get(key), str):
            return str(value[key])
    return None


async def _tenant(
    conn: asyncpg.Connection, waba_id: str, value: dict[str, Any]
) -> tuple[uuid.UUID | None, str | None, str | None]:
    """(client, number, why it waits). A field naming its number by ``phone_number_id`` (echoes, history, app
    state) is that number's conversation, so it waits while the number is not active, as its messages do; a notice
    about a number or a WABA (quality, name review, account) reaches the CRM whatever the number's status: that is
    when onboarding needs it."""
    metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    phone_number_id = metadata.get("phone_number_id") if metadata else None
    if isinstance(phone_number_id, str):
        numbers = await tenants.numbers(conn, {phone_number_id})
        if phone_number_id in numbers.waiting:
            return None, phone_number_id, numbers.reason(phone_number_id)
        return numbers.active.get(phone_number_id), phone_number_id, None
    display = value.get("display_phone_number")
    if isinstance(display, str) and display:
        row = await tenants.number_by_phone(conn, "+" + "".join(ch for ch in display if ch.isdigit()))
        if row is not None:
            return (*row, None)
    return await tenants.client_for_waba(conn, waba_id), None, None
