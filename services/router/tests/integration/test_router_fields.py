"""Media messages and the webhook fields other than ``messages``, routed with the real database and broker."""

from __future__ import annotations

import time
from typing import Any

from router.deps import Deps
from router.handlers import route_webhook
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.payloads import new_wamid, notification
from tests.support.router import raw_webhook
from tests.support.tenants import Tenant


def field_change(field: str, value: dict[str, Any], waba_id: str = "200000000000009") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"field": field, "value": value}]}],
    }


async def test_media_message_is_recorded_with_id_mime_and_sha256(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    wamid = new_wamid()
    image = {
        "from": "573001112233",
        "id": wamid,
        "timestamp": str(int(time.time())),
        "type": "image",
        "image": {
            "id": "1479537139650973",
            "mime_type": "image/jpeg",
            "caption": "¿Este apartamento?",
            "sha256": "Yqk0cLmBqDxsPhBNMtm6Lz3UqmUiRNJ3tMmwZ0mmc8M=",
        },
    }
    await route_webhook(
        raw_webhook(notification(tenant.phone_number_id, messages=[image])), Deps(infra.pool, infra.publisher)
    )
    (event,) = await tap.wait_for("message.received")
    assert event["data"]["message_type"] == "image" and event["data"]["text"] == "¿Este apartamento?"
    assert event["data"]["media"] == {
        "id": "1479537139650973",
        "mime_type": "image/jpeg",
        "filename": None,
        "sha256": "Yqk0cLmBqDxsPhBNMtm6Lz3UqmUiRNJ3tMmwZ0mmc8M=",
        "caption": "¿Este apartamento?",
    }
    row = await infra.pool.fetchrow(
        "SELECT media_id, media_mime_type, media_sha256 FROM router.messages WHERE wamid = $1", wamid
    )
    assert tuple(row) == ("1479537139650973", "image/jpeg", "Yqk0cLmBqDxsPhBNMtm6Lz3UqmUiRNJ3tMmwZ0mmc8M=")


async def test_quality_update_reaches_the_number_s_tenant_once(infra: Infrastructure, tap: Tap, tenant: Tenant) -> None:
    value = {"display_phone_number": tenant.phone_number.lstrip("+"), "event": "FLAGGED", "current_limit": "TIER_1K"}
    deps = Deps(infra.pool, infra.publisher)
    await route_webhook(raw_webhook(field_change("phone_number_quality_update", value)), deps)
    await route_webhook(raw_webhook(field_change("phone_number_quality_update", value)), deps)
    (event,) = await tap.wait_for("number.quality_changed")
    assert event["tenant_id"] == str(tenant.client_id)
    assert event["data"]["phone_number_id"] == tenant.phone_number_id
    assert event["data"]["event"] == "FLAGGED" and event["data"]["value"]["current_limit"] == "TIER_1K"
    stored = await infra.pool.fetchval(
        "SELECT count(*) FROM router.meta_events WHERE field = 'phone_number_quality_update' AND client_id = $1",
        tenant.client_id,
    )
    assert stored == 1


async def test_template_status_of_a_shared_waba_has_no_tenant_but_is_published(
    infra: Infrastructure, tap: Tap, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    await make_tenant(), await make_tenant()  # two clients under the same WABA: the template is not one client's
    value = {
        "event": "APPROVED",
        "message_template_id": 12345678,
        "message_template_name": "visita_confirmada",
        "message_template_language": "es",
        "reason": None,
    }
    await route_webhook(
        raw_webhook(field_change("message_template_status_update", value)), Deps(infra.pool, infra.publisher)
    )
    (event,) = await tap.wait_for("template.status_changed")
    assert event["tenant_id"] is None and event["data"]["event"] == "APPROVED"
    assert event["data"]["value"]["message_template_name"] == "visita_confirmada"


async def test_coexistence_echo_joins_the_conversation_as_the_business_s_message(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    wamid = new_wamid()
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": tenant.phone_number.lstrip("+"),
            "phone_number_id": tenant.phone_number_id,
        },
        "message_echoes": [
            {
                "from": tenant.phone_number.lstrip("+"),
                "to": "573001112233",
                "id": wamid,
                "timestamp": "1764000000",
                "type": "text",
                "text": {"body": "Le escribo yo, Marta, desde la oficina."},
            }
        ],
    }
    await route_webhook(raw_webhook(field_change("smb_message_echoes", value)), Deps(infra.pool, infra.publisher))
    (event,) = await tap.wait_for("message.echoed")
    assert event["tenant_id"] == str(tenant.client_id)
    row = await infra.pool.fetchrow("SELECT direction, wa_id, body FROM router.messages WHERE wamid = $1", wamid)
    assert tuple(row) == ("outbound", "573001112233", "Le escribo yo, Marta, desde la oficina.")


async def test_a_photo_sent_from_the_business_app_is_kept_with_its_media_like_a_customer_s(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    business = tenant.phone_number.lstrip("+")
    photo, document, odd = new_wamid(), new_wamid(), new_wamid()

    def echo(wamid: str, kind: str, part: dict[str, Any]) -> dict[str, Any]:
        return {
            "from": business,
            "to": "573001112233",
            "id": wamid,
            "timestamp": "1764000000",
            "type": kind,
            kind: part,
        }

    image = {"id": "1601234567890123", "mime_type": "image/jpeg", "sha256": "q1w2e3=", "caption": "El plano del 301"}
    pdf = {"id": "1609876543210987", "mime_type": "application/pdf", "filename": "contrato.pdf"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": business, "phone_number_id": tenant.phone_number_id},
        # Read leniently as Meta's webhooks are: a media object whose id is not a string keeps no media.
        "message_echoes": [echo(photo, "image", image), echo(document, "document", pdf), echo(odd, "video", {"id": 7})],
    }
    await route_webhook(raw_webhook(field_change("smb_message_echoes", value)), Deps(infra.pool, infra.publisher))
    await tap.wait_for("message.echoed", count=3)
    rows = await infra.pool.fetch(
        """SELECT wamid, direction, message_type, body, media_id, media_mime_type, media_sha256
             FROM router.messages WHERE wamid = ANY($1::text[])""",
        [photo, document, odd],
    )
    stored = {r["wamid"]: tuple(r)[1:] for r in rows}
    assert stored == {
        photo: ("outbound", "image", "El plano del 301", "1601234567890123", "image/jpeg", "q1w2e3="),
        document: ("outbound", "document", None, "1609876543210987", "application/pdf", None),
        odd: ("outbound", "video", None, None, None, None),
    }


async def test_a_field_never_seen_before_is_published_as_is(infra: Infrastructure, tap: Tap) -> None:
    value = {"something": "new", "nested": {"a": [1, 2]}}
    await route_webhook(
        raw_webhook(field_change("quantum_update", value, waba_id="999")), Deps(infra.pool, infra.publisher)
    )
    (event,) = await tap.wait_for("meta.field_received")
    assert event["data"]["field"] == "quantum_update" and event["data"]["value"] == value
