"""Reading Meta's webhook: every entry, change, message and status; nothing bad hides the good."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from router.webhook.notification import FieldUpdate, MessageUpdate, Notification, StatusUpdate, Unparsed, updates


def change(phone_number_id: str, **value: Any) -> dict[str, Any]:
    return {
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "576015550100", "phone_number_id": phone_number_id},
            **value,
        },
    }


def text(wamid: str, body: str, sender: str = "573001112233", ts: int = 1764000000) -> dict[str, Any]:
    return {"from": sender, "id": wamid, "timestamp": str(ts), "type": "text", "text": {"body": body}}


def test_reads_every_entry_change_and_message_not_just_the_first() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "W1",
                "changes": [
                    change("P1", messages=[text("wamid.a", "uno"), text("wamid.b", "dos")]),
                    change("P2", messages=[text("wamid.c", "tres")]),
                ],
            },
            {"id": "W2", "changes": [change("P3", messages=[text("wamid.d", "cuatro")])]},
        ],
    }
    found = list(updates(Notification.model_validate(payload)))
    assert [(u.metadata.phone_number_id, u.message.id) for u in found if isinstance(u, MessageUpdate)] == [
        ("P1", "wamid.a"),
        ("P1", "wamid.b"),
        ("P2", "wamid.c"),
        ("P3", "wamid.d"),
    ]


def test_text_message_fields_and_contact_profile() -> None:
    payload = {
        "entry": [
            {
                "id": "W",
                "changes": [
                    change(
                        "P1",
                        contacts=[{"profile": {"name": "Ana"}, "wa_id": "573001112233"}],
                        messages=[text("wamid.x", "Hola, ¿tienen apartamentos en Chapinero?")],
                    )
                ],
            }
        ]
    }
    (update,) = updates(Notification.model_validate(payload))
    assert isinstance(update, MessageUpdate)
    assert update.message.body == "Hola, ¿tienen apartamentos en Chapinero?"
    assert update.message.from_ == "573001112233"
    assert update.message.timestamp == datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    assert update.contact is not None and update.contact.profile.name == "Ana"
    assert update.waba_id == "W"


def test_status_with_conversation_and_pricing() -> None:
    status = {
        "id": "wamid.s",
        "status": "delivered",
        "timestamp": "1764000000",
        "recipient_id": "573001112233",
        "conversation": {"id": "conv1", "origin": {"type": "service"}, "expiration_timestamp": "1764086400"},
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "service"},
    }
    (update,) = updates(Notification.model_validate({"entry": [{"changes": [change("P1", statuses=[status])]}]}))
    assert isinstance(update, StatusUpdate)
    assert update.status.status == "delivered"
    assert update.status.conversation is not None and update.status.conversation.origin["type"] == "service"
    assert update.status.pricing == {"billable": True, "pricing_model": "PMP", "category": "service"}


def test_broken_message_is_kept_aside_and_its_neighbours_still_read() -> None:
    payload = {"entry": [{"changes": [change("P1", messages=[{"type": "text"}, text("wamid.ok", "bien")])]}]}
    found = list(updates(Notification.model_validate(payload)))
    assert [type(u) for u in found] == [Unparsed, MessageUpdate]
    assert found[0].phone_number_id == "P1" and "unreadable message" in found[0].reason


def test_unknown_type_and_unknown_fields_are_kept_not_rejected() -> None:
    future = {
        "from": "57300",
        "id": "wamid.f",
        "timestamp": "1764000000",
        "type": "hologram",
        "hologram": {"caption": "3D"},
        "brand_new_field": 1,
    }
    (update,) = updates(Notification.model_validate({"entry": [{"changes": [change("P1", messages=[future])]}]}))
    assert isinstance(update, MessageUpdate)
    assert update.message.type == "hologram" and update.message.body == "3D"
    assert update.message.model_extra is not None and update.message.model_extra["brand_new_field"] == 1


def test_other_fields_are_their_own_updates_and_changes_without_metadata_are_set_aside() -> None:
    payload = {
        "entry": [
            {
                "id": "W",
                "changes": [
                    {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}},
                    {"field": "messages", "value": {"messages": [text("wamid.z", "x")]}},
                ],
            }
        ]
    }
    field, unparsed = updates(Notification.model_validate(payload))
    assert field == FieldUpdate("W", "account_update", {"event": "VERIFIED_ACCOUNT"})
    assert isinstance(unparsed, Unparsed) and unparsed.reason == "change without metadata.phone_number_id"
