"""The client's conversations and their messages, for its dashboard (read-only views, own data only).

Both lists page backwards in time with an opaque ``before`` cursor (the last item's time and the router's ``seq``,
which is unique): ``next_before`` is the next page's cursor, null on the last page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from gateway import conversation_content as content
from gateway.auth import authenticated_client
from gateway.conversation_schema import Conversation, ConversationsPage, Message, MessagesPage
from gateway.keys import POOL

routes = web.RouteTableDef()
MAX_LIMIT = 200
MAX_QUERY = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(-?\d{1,17})\.(\d{1,19})")
_PHONE_LIKE = re.compile(r"[\d\s+().-]*\d[\d\s+().-]*")


def _limit(request: web.Request, default: int) -> int:
    try:
        return max(1, min(int(request.query.get("limit", default)), MAX_LIMIT))
    except ValueError:
        raise web.HTTPBadRequest(text=f"limit must be a number from 1 to {MAX_LIMIT}") from None


def cursor(at: datetime, seq: int) -> str:
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}.{seq}"


def _before(request: web.Request) -> tuple[datetime | None, int | None]:
    raw = request.query.get("before")
    if not raw:
        return None, None
    match = _CURSOR.fullmatch(raw)
    if match is None:
        raise web.HTTPBadRequest(text="before must be the next_before of the previous page, as it was given")
    return _EPOCH + timedelta(microseconds=int(match[1])), int(match[2])


def _search(request: web.Request) -> tuple[str | None, str | None]:
    """(name, digits): the name part matches a customer's name anywhere, case-insensitively; something that
    reads as a phone number (digits, with or without +, spaces, dashes) also matches inside the customer's wa_id."""
    q = request.query.get("q", "").strip()
    if len(q) > MAX_QUERY:
        raise web.HTTPBadRequest(text=f"q must be at most {MAX_QUERY} characters")
    if not q:
        return None, None
    return q, re.sub(r"\D", "", q) if _PHONE_LIKE.fullmatch(q) else None


@routes.get("/api/clients/{client_id}/conversations")
async def list_conversations(request: web.Request) -> web.Response:
    client_id = await authenticated_client(request)
    (name, digits), (at, seq), limit = _search(request), _before(request), _limit(request, 50)
    rows = await request.app[POOL].fetch(
        """SELECT * FROM dashboard.conversation_list
            WHERE client_id = $1
              AND ($2::text IS NULL OR strpos(lower(profile_name), lower($2)) > 0 OR strpos(wa_id, $3) > 0)
              AND ($4::timestamptz IS NULL OR (last_message_at, last_seq) < ($4, $5))
            ORDER BY last_message_at DESC, last_seq DESC LIMIT $6""",
        client_id,
        name,
        digits,
        at,
        seq,
        limit + 1,
    )
    page = [
        Conversation(
            **{k: r[k] for k in Conversation.model_fields if k != "preview"},
            preview=content.preview(r["preview_type"], r["preview_body"], r["preview_content"], r["preview_at"]),
        )
        for r in rows[:limit]
    ]
    last = rows[limit - 1] if len(rows) > limit else None
    answer = ConversationsPage(
        conversations=page, next_before=last and cursor(last["last_message_at"], last["last_seq"])
    )
    return web.json_response(answer.model_dump(mode="json"))


@routes.get("/api/clients/{client_id}/conversations/{phone_number_id}/{wa_id}/messages")
async def conversation_messages(request: web.Request) -> web.Response:
    client_id = await authenticated_client(request)
    (at, seq), limit = _before(request), _limit(request, 100)
    where = (client_id, request.match_info["phone_number_id"], request.match_info["wa_id"])
    pool = request.app[POOL]
    rows = await pool.fetch(
        """SELECT * FROM dashboard.thread_messages
            WHERE client_id = $1 AND phone_number_id = $2 AND wa_id = $3
              AND ($4::timestamptz IS NULL OR (sent_at, seq) < ($4, $5))
            ORDER BY sent_at DESC, seq DESC LIMIT $6""",
        *where,
        at,
        seq,
        limit + 1,
    )
    if not rows and not await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM dashboard.messages WHERE client_id = $1 AND phone_number_id = $2 AND wa_id = $3)",
        *where,
    ):
        raise web.HTTPNotFound(text="no such conversation for this client")
    oldest = rows[limit - 1] if len(rows) > limit else None
    page = [message(r, str(client_id)) for r in reversed(rows[:limit])]
    answer = MessagesPage(messages=page, next_before=oldest and cursor(oldest["sent_at"], oldest["seq"]))
    return web.json_response(answer.model_dump(mode="json"))


_AS_STORED = ("wamid", "direction", "author", "author_name", "message_type", "body", "sent_at", "status")


def message(row: Any, client_id: str) -> Message:
    kind, part = row["message_type"], row["content"] if isinstance(row["content"], dict) else None
    return Message(
        **{k: row[k] for k in _AS_STORED},
        type=kind,
        reply_to=row["context_wamid"],
        media_id=row["media_id"],
        media_mime_type=row["media_mime_type"],
        text=row["body"] if kind == "text" else None,
        media=content.media(row, client_id),
        location=content.location(kind, part),
        reaction=content.reaction(kind, part),
        interactive=content.interactive(kind, part),
        template=content.template(kind, part),
        contacts=content.contacts(kind, row["content"]),
    )
