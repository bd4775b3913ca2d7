"""The client's conversations and messages through the gateway, own data only: which number each conversation is
on, the customer's last message as its preview, search, both lists paged backwards, every message type's own
fields, and who wrote each outgoing message. Seeded by the owners' own code (router, ai-worker, directory)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ai_worker import ledger
from gateway.app import create_app
from router.deps import Deps
from router.handlers import record_outbound
from sender import handlers as sender
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MessageReceived, MessageSent, SendMessage, SentBy
from shared.graph.client import graph_client
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.payloads import new_wamid, reaction_message, status, text_message
from tests.support.router import (
    business_app_sent,
    business_wrote,
    customer_wrote,
    image_message,
    meta_reported,
    reply_recorded,
)
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant, create_tenant

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


@pytest.fixture
async def client(infra: Infrastructure) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(infra.settings))) as test_client:
        yield test_client


async def say(infra: Infrastructure, tenant: Tenant, wa_id: str, direction: str, body: str, at: datetime) -> str:
    """The router's record of one message of the conversation, written by the router's own handlers."""
    if direction == "inbound":
        return await customer_wrote(infra, tenant, text_message(body, sender=wa_id, timestamp=int(at.timestamp())))
    return await business_wrote(infra, tenant, wa_id, body, at)


def meta_message(wa_id: str, at: datetime, kind: str, part: Any, **extra: Any) -> dict[str, Any]:
    """A customer message of any type, as Meta's webhook carries it."""
    return {"from": wa_id, "id": new_wamid(), "timestamp": str(int(at.timestamp())), "type": kind, kind: part, **extra}


async def ai_replied(infra: Infrastructure, tenant: Tenant, wa_id: str, answers: str, text: str, at: datetime) -> str:
    """The ai-worker's reply to ``answers`` recorded in its ledger (its own code), then sent: the router records
    the sender's message.sent; the wamid."""
    received = MessageReceived(
        client_id=tenant.client_id,
        phone_number_id=tenant.phone_number_id,
        display_phone_number=tenant.phone_number.lstrip("+"),
        wamid=answers,
        wa_id=wa_id,
        message_type="text",
        timestamp=at,
    )
    reply = ledger.Reply(ledger.reply_id(answers, "reply"), answers, "reply", (answers,), (text,), text)
    async with infra.pool.acquire() as conn:
        await ledger.record(conn, received, reply)
    sent = MessageSent(
        client_id=tenant.client_id,
        send_id=reply.send_ids()[0],
        phone_number_id=tenant.phone_number_id,
        to=wa_id,
        wamid=new_wamid(),
        text=text,
        sent_at=at,
    )
    await reply_recorded(infra, sent)
    return sent.wamid


async def get(client: TestClient, tenant: Tenant, path: str = "", **query: str | int) -> Any:
    answer = await client.get(
        f"/api/clients/{tenant.client_id}/conversations{path}",
        params={k: str(v) for k, v in query.items()},
        headers={"Authorization": f"Bearer {tenant.api_key}"},
    )
    assert answer.status == 200, await answer.text()
    return await answer.json()


async def thread(client: TestClient, tenant: Tenant, wa_id: str, **query: str | int) -> Any:
    return await get(client, tenant, f"/{tenant.phone_number_id}/{wa_id}/messages", **query)


async def test_conversations_newest_first_and_a_thread_in_order(
    client: TestClient, infra: Infrastructure, tenant: Tenant
) -> None:
    await say(infra, tenant, "573001110001", "inbound", "Hola", T0)
    await say(infra, tenant, "573001110001", "outbound", "¡Hola! ¿En qué le ayudo?", T0 + timedelta(seconds=2))
    await say(infra, tenant, "573001110002", "inbound", "¿Abren el sábado?", T0 + timedelta(minutes=5))

    listed = await get(client, tenant)
    assert [(c["wa_id"], c["messages"], c["last_body"]) for c in listed["conversations"]] == [
        ("573001110002", 1, "¿Abren el sábado?"),
        ("573001110001", 2, "¡Hola! ¿En qué le ayudo?"),
    ]
    assert listed["next_before"] is None
    messages = (await thread(client, tenant, "573001110001"))["messages"]
    assert [(m["direction"], m["body"]) for m in messages] == [
        ("inbound", "Hola"),
        ("outbound", "¡Hola! ¿En qué le ayudo?"),
    ]


async def test_the_preview_is_the_customer_s_last_message_even_when_the_bot_answered_after_and_the_number_is_shown(
    client: TestClient, infra: Infrastructure, tenant: Tenant
) -> None:
    voice = {"id": "media-voice-1", "mime_type": "audio/ogg; codecs=opus", "sha256": "abc", "voice": True}
    note = await customer_wrote(infra, tenant, meta_message("573001110010", T0, "audio", voice))
    await ai_replied(
        infra, tenant, "573001110010", note, "Escuché su nota de voz, ya le confirmo.", T0 + timedelta(seconds=3)
    )
    document = {"id": "media-doc-1", "mime_type": "application/pdf", "filename": "contrato_arriendo.pdf"}
    await customer_wrote(infra, tenant, meta_message("573001110011", T0 + timedelta(minutes=1), "document", document))
    long_text = "Buenas tardes, " + "quisiera saber si el apartamento sigue disponible " * 5
    await say(infra, tenant, "573001110012", "inbound", long_text, T0 + timedelta(minutes=2))

    listed = {c["wa_id"]: c for c in (await get(client, tenant))["conversations"]}
    voiced = listed["573001110010"]
    assert voiced["last_body"] == "Escuché su nota de voz, ya le confirmo." and voiced["last_direction"] == "outbound"
    assert voiced["preview"] == {
        "type": "audio",
        "kind": "voice",
        "text": None,
        "truncated": False,
        "filename": None,
        "at": "2026-11-20T14:00:00Z",
    }
    assert (voiced["phone_number"], voiced["display_name"]) == (tenant.phone_number, "Test")
    assert voiced["profile_name"] == "Ana"
    assert listed["573001110011"]["preview"]["filename"] == "contrato_arriendo.pdf"
    assert listed["573001110011"]["preview"]["kind"] == "document"
    text_preview = listed["573001110012"]["preview"]
    assert text_preview["text"] == long_text[:120] and text_preview["truncated"] is True


async def test_search_finds_a_customer_by_name_or_by_number_with_or_without_plus(
    client: TestClient, infra: Infrastructure, tenant: Tenant
) -> None:
    await customer_wrote(infra, tenant, text_message("Hola", sender="573001110020"), name="Laura Gómez")
    await customer_wrote(infra, tenant, text_message("Buenas", sender="573209990021"), name="Pedro")

    def found(answer: Any) -> list[str]:
        return [c["wa_id"] for c in answer["conversations"]]

    assert found(await get(client, tenant, q="laura")) == ["573001110020"]
    assert found(await get(client, tenant, q="GÓMEZ")) == ["573001110020"]
    assert found(await get(client, tenant, q="+57 320 999")) == ["573209990021"]
    assert found(await get(client, tenant, q="3209990021")) == ["573209990021"]
    assert found(await get(client, tenant, q="+573001110020")) == ["573001110020"]
    assert found(await get(client, tenant, q="nadie")) == []
    assert len(found(await get(client, tenant, q="  "))) == 2  # blank: no filter


async def test_both_lists_page_backwards_without_duplicates_or_gaps(
    client: TestClient, infra: Infrastructure, tenant: Tenant
) -> None:
    # Meta's timestamps are whole seconds: several conversations and messages share one; seq breaks the tie.
    for n in range(7):
        await say(infra, tenant, f"57300111{n:04d}", "inbound", f"hola {n}", T0 + timedelta(seconds=n // 3))
    whole = [c["wa_id"] for c in (await get(client, tenant))["conversations"]]
    paged, before, pages = [], "", 0
    while True:
        answer = await get(client, tenant, limit=3, **({"before": before} if before else {}))
        paged += [c["wa_id"] for c in answer["conversations"]]
        pages += 1
        if answer["next_before"] is None:
            break
        before = answer["next_before"]
    assert paged == whole and len(set(paged)) == 7 and pages == 3

    wa_id = "573001119999"
    for n in range(8):
        await say(infra, tenant, wa_id, "inbound" if n % 2 else "outbound", f"m{n}", T0 + timedelta(seconds=n // 3))
    newest = await thread(client, tenant, wa_id, limit=3)
    assert [m["body"] for m in newest["messages"]] == ["m5", "m6", "m7"]  # the newest page, oldest first
    older = await thread(client, tenant, wa_id, limit=3, before=newest["next_before"])
    oldest = await thread(client, tenant, wa_id, limit=3, before=older["next_before"])
    assert [m["body"] for m in older["messages"]] == ["m2", "m3", "m4"]
    assert [m["body"] for m in oldest["messages"]] == ["m0", "m1"] and oldest["next_before"] is None

    bad = await client.get(
        f"/api/clients/{tenant.client_id}/conversations",
        params={"before": "yesterday"},
        headers={"Authorization": f"Bearer {tenant.api_key}"},
    )
    assert bad.status == 400 and "next_before" in (await bad.json())["error"]


async def test_each_message_type_is_shown_with_its_own_fields(
    client: TestClient, infra: Infrastructure, tenant: Tenant
) -> None:
    wa_id, at = "573001110030", T0
    voice = {"id": "media-voice-2", "mime_type": "audio/ogg; codecs=opus", "voice": True}
    document = {"id": "media-doc-2", "mime_type": "application/pdf", "filename": "planos.pdf", "caption": "Los planos"}
    place = {"latitude": 4.6486, "longitude": -74.0628, "name": "Oficina Chapinero", "address": "Cra 13 #54-20"}
    button = {"type": "button_reply", "button_reply": {"id": "visit-yes", "title": "Sí, agendar visita"}}
    listed = {"type": "list_reply", "list_reply": {"id": "apt-2", "title": "Apto 2", "description": "2 habitaciones"}}
    card = {
        "name": {"formatted_name": "María López"},
        "phones": [{"phone": "+57 300 555 0101", "wa_id": "573005550101"}],
    }
    wamids = [
        await customer_wrote(infra, tenant, meta_message(wa_id, at, "audio", voice)),
        await customer_wrote(infra, tenant, meta_message(wa_id, at + timedelta(seconds=1), "document", document)),
        await customer_wrote(infra, tenant, meta_message(wa_id, at + timedelta(seconds=2), "location", place)),
        await customer_wrote(infra, tenant, meta_message(wa_id, at + timedelta(seconds=3), "interactive", button)),
        await customer_wrote(infra, tenant, meta_message(wa_id, at + timedelta(seconds=4), "interactive", listed)),
        await customer_wrote(infra, tenant, meta_message(wa_id, at + timedelta(seconds=5), "contacts", [card])),
        await customer_wrote(
            infra,
            tenant,
            image_message("media-img-1", sender=wa_id, mime_type="image/jpeg", timestamp=int(at.timestamp()) + 6),
        ),
    ]
    await customer_wrote(
        infra, tenant, reaction_message("👍", to_wamid=wamids[0], sender=wa_id, timestamp=int(at.timestamp()) + 7)
    )
    template = {"name": "visita_confirmada", "language": {"code": "es_CO"}}
    echo = {
        "to": wa_id,
        "id": new_wamid(),
        "timestamp": str(int(at.timestamp()) + 8),
        "type": "template",
        "template": template,
    }
    await business_app_sent(infra, tenant, echo)

    messages = (await thread(client, tenant, wa_id))["messages"]
    assert [m["type"] for m in messages] == [
        "audio",
        "document",
        "location",
        "interactive",
        "interactive",
        "contacts",
        "image",
        "reaction",
        "template",
    ]
    media_url = f"/api/clients/{tenant.client_id}/media/"
    assert messages[0]["media"] == {
        "kind": "voice",
        "mime_type": "audio/ogg; codecs=opus",
        "filename": None,
        "caption": None,
        "url": media_url + "media-voice-2",
    }
    assert messages[1]["media"] == {
        "kind": "document",
        "mime_type": "application/pdf",
        "filename": "planos.pdf",
        "caption": "Los planos",
        "url": media_url + "media-doc-2",
    }
    assert messages[2]["location"] == place and messages[2]["media"] is None
    assert messages[3]["interactive"] == {
        "type": "button_reply",
        "id": "visit-yes",
        "title": "Sí, agendar visita",
        "description": None,
    }
    assert messages[4]["interactive"] == {
        "type": "list_reply",
        "id": "apt-2",
        "title": "Apto 2",
        "description": "2 habitaciones",
    }
    assert messages[5]["contacts"] == [{"name": "María López", "phones": ["+57 300 555 0101"]}]
    assert messages[6]["media"]["kind"] == "image" and messages[6]["media"]["url"] == media_url + "media-img-1"
    assert messages[7]["reaction"] == {"emoji": "👍", "message_id": wamids[0]} and messages[7]["reply_to"] is None
    assert messages[8]["template"] == {"name": "visita_confirmada", "language": "es_CO"}
    assert messages[8]["direction"] == "outbound" and messages[8]["author"] == "person"


async def test_a_template_s_quick_reply_button_reads_as_an_interactive_reply_to_its_message(
    client: TestClient, infra: Infrastructure, tenant: Tenant
) -> None:
    wa_id = "573001110031"
    ours = await say(infra, tenant, wa_id, "outbound", "¿Confirma la visita?", T0)
    quick = {"payload": "CONFIRM", "text": "Confirmo"}
    await customer_wrote(
        infra, tenant, meta_message(wa_id, T0 + timedelta(seconds=5), "button", quick, context={"id": ours})
    )
    answer = (await thread(client, tenant, wa_id))["messages"][-1]
    assert answer["interactive"] == {"type": "button", "id": "CONFIRM", "title": "Confirmo", "description": None}
    assert answer["reply_to"] == ours and answer["author"] == "customer"


async def test_who_wrote_each_outgoing_message_and_what_meta_last_reported_of_it(
    client: TestClient, infra: Infrastructure, tenant: Tenant
) -> None:
    wa_id = "573001110040"
    asked = await say(infra, tenant, wa_id, "inbound", "¿Cuánto cuesta el arriendo?", T0)
    by_ai = await ai_replied(infra, tenant, wa_id, asked, "Son 2.500.000 COP al mes.", T0 + timedelta(seconds=2))
    by_crm = await say(infra, tenant, wa_id, "outbound", "Le escribe Carlos, su asesor.", T0 + timedelta(seconds=4))
    echo = {"to": wa_id, "id": new_wamid(), "timestamp": str(int(T0.timestamp()) + 6), "type": "text"}
    by_person = await business_app_sent(infra, tenant, {**echo, "text": {"body": "Voy en camino"}})
    await meta_reported(
        infra, tenant, status(by_ai, "sent", recipient=wa_id), status(by_ai, "delivered", recipient=wa_id)
    )
    await meta_reported(infra, tenant, status(by_ai, "read", recipient=wa_id))
    await meta_reported(
        infra, tenant, status(by_crm, "sent", recipient=wa_id), status(by_crm, "failed", recipient=wa_id)
    )

    messages = {m["wamid"]: m for m in (await thread(client, tenant, wa_id))["messages"]}
    assert [(messages[w]["author"], messages[w]["status"]) for w in (asked, by_ai, by_crm, by_person)] == [
        ("customer", None),
        ("ai", "read"),
        ("crm", "failed"),
        ("person", None),
    ]
    assert messages[by_ai]["text"] == "Son 2.500.000 COP al mes." and messages[by_person]["text"] == "Voy en camino"


async def crm_sent(
    infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant, wa_id: str, text: str, sent_by: SentBy | None
) -> str:
    """A CRM's message.send, sent by the sender to the Meta emulator, and the router's record of the message.sent
    it announced on the broker: the whole path a CRM's message takes to the thread; the wamid."""
    command = SendMessage(
        client_id=tenant.client_id,
        phone_number_id=tenant.phone_number_id,
        to=wa_id,
        text=text,
        customer_last_message_at=datetime.now(UTC),
        sent_by=sent_by,
    )
    envelope = wrap(command, correlation_id=f"crm-{uuid.uuid4().hex[:8]}", tenant_id=tenant.client_id)
    settings = infra.settings.model_copy(update={"graph_base_url": sandbox.graph_url})
    async with graph_client(settings) as graph:
        await sender.send(envelope, sender.Deps(infra.pool, infra.publisher, graph))
    (announced,) = await tap.wait_for("message.sent", where=lambda m: m["data"]["send_id"] == str(envelope.id))
    await record_outbound(Envelope[MessageSent].model_validate(announced), Deps(infra.pool, infra.publisher))
    return str(announced["data"]["wamid"])


async def test_a_crm_says_which_person_wrote_its_message_and_an_older_crm_s_reads_as_the_crm_s(
    client: TestClient, infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    wa_id = "573001110050"
    await say(infra, tenant, wa_id, "inbound", "¿Me confirman la visita?", datetime.now(UTC))
    by_laura = await crm_sent(
        infra, sandbox, tap, tenant, wa_id, "Confirmada, jueves 10:00.", SentBy(kind="person", name="Laura Gómez")
    )
    by_someone = await crm_sent(infra, sandbox, tap, tenant, wa_id, "Le llamo en 5 min.", SentBy(kind="person"))
    by_flow = await crm_sent(
        infra, sandbox, tap, tenant, wa_id, "Recuerde traer su cédula.", SentBy(kind="system", name="Recordatorios")
    )
    by_old_crm = await crm_sent(infra, sandbox, tap, tenant, wa_id, "Gracias por escribirnos.", None)

    messages = {m["wamid"]: m for m in (await thread(client, tenant, wa_id))["messages"]}
    assert [
        (messages[w]["author"], messages[w]["author_name"]) for w in (by_laura, by_someone, by_flow, by_old_crm)
    ] == [
        ("person", "Laura Gómez"),
        ("person", None),
        ("crm", "Recordatorios"),
        ("crm", None),
    ]
    assert messages[by_laura]["text"] == "Confirmada, jueves 10:00."
    assert {m["author_name"] for m in messages.values() if m["direction"] == "inbound"} == {None}


async def test_a_photo_and_a_document_sent_from_the_business_app_are_shown_as_a_customer_s_media_are(
    client: TestClient, infra: Infrastructure, tenant: Tenant
) -> None:
    wa_id, at = "573001110060", int(T0.timestamp())
    photo = {"id": "echo-img-1", "mime_type": "image/jpeg", "sha256": "abc=", "caption": "Así quedó la cocina"}
    pdf = {"id": "echo-doc-1", "mime_type": "application/pdf", "filename": "cotizacion.pdf"}
    voice = {"id": "echo-voice-1", "mime_type": "audio/ogg; codecs=opus", "voice": True}
    for n, (kind, part) in enumerate((("image", photo), ("document", pdf), ("audio", voice))):
        echo = {"to": wa_id, "id": new_wamid(), "timestamp": str(at + n), "type": kind, kind: part}
        await business_app_sent(infra, tenant, echo)

    messages = (await thread(client, tenant, wa_id))["messages"]
    media_url = f"/api/clients/{tenant.client_id}/media/"
    assert [(m["author"], m["direction"], m["media"]) for m in messages] == [
        (
            "person",
            "outbound",
            {
                "kind": "image",
                "mime_type": "image/jpeg",
                "filename": None,
                "caption": "Así quedó la cocina",
                "url": media_url + "echo-img-1",
            },
        ),
        (
            "person",
            "outbound",
            {
                "kind": "document",
                "mime_type": "application/pdf",
                "filename": "cotizacion.pdf",
                "caption": None,
                "url": media_url + "echo-doc-1",
            },
        ),
        (
            "person",
            "outbound",
            {
                "kind": "voice",
                "mime_type": "audio/ogg; codecs=opus",
                "filename": None,
                "caption": None,
                "url": media_url + "echo-voice-1",
            },
        ),
    ]
    assert messages[0]["body"] == "Así quedó la cocina" and messages[0]["media_id"] == "echo-img-1"


async def test_another_client_sees_none_of_it(
    client: TestClient, infra: Infrastructure, tenant: Tenant, database_url: str
) -> None:
    await say(infra, tenant, "573001110003", "inbound", "privado", datetime.now(UTC))
    other = await create_tenant(database_url)
    auth = {"Authorization": f"Bearer {other.api_key}"}
    assert await get(client, other) == {"conversations": [], "next_before": None}
    assert await get(client, other, q="573001110003") == {"conversations": [], "next_before": None}
    crossed = await client.get(
        f"/api/clients/{tenant.client_id}/conversations/{tenant.phone_number_id}/573001110003/messages", headers=auth
    )
    assert crossed.status == 404
    sneaky = await client.get(
        f"/api/clients/{other.client_id}/conversations/{tenant.phone_number_id}/573001110003/messages", headers=auth
    )
    assert sneaky.status == 404 and "no such conversation" in (await sneaky.json())["error"]
    unknown = uuid.uuid4()
    assert (await client.get(f"/api/clients/{unknown}/conversations", headers=auth)).status == 404


async def test_the_dashboard_page_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    page = await client.get("/dashboard")
    assert page.status == 200 and page.content_type == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script src="/dashboard/dashboard.js"' in await page.text()
    script = await client.get("/dashboard/dashboard.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    assert (await client.get("/dashboard/../app.py")).status == 404
