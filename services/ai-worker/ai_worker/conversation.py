"""One customer's conversation with one client's number, as the ai-worker sees it: the router's messages
(``router_read.messages``) and the ai-worker's own replies (``ai_worker``), always scoped by client, number and customer
(a number can move to another client; its past stays with the owner it was written to).

Order within Meta's one-second timestamps is the router's ``seq``. Which messages still wait for an answer is
the ledger's record, not a position: with two router replicas ``seq`` order need not be commit order, so a
watermark would skip a message that committed late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from shared.contracts.messages import MessageReceived
from shared.prompting import Turn

# Types that call for no answer of their own: a reaction, Meta's system notices, what Meta could not read.
SILENT_TYPES = frozenset({"reaction", "system", "unsupported", "unknown", "errors"})
# An unanswered message older than Meta's 24-hour customer-service window is history, not a question waiting.
PENDING_HORIZON = timedelta(hours=24)

# An outbound row of router_read.messages that is one of the ai-worker's own sends (its ``MessageSent.send_id``).
_OURS = "EXISTS (SELECT 1 FROM ai_worker.reply_parts p WHERE p.send_id = {o}.send_id)"
# A customer message ``m`` is answered when a reply of the ledger answers it, or when the business wrote after it
# a message the ai-worker did not write (a person from the WhatsApp Business app, the CRM): not answered twice.
ANSWERED = f"""(EXISTS (SELECT 1 FROM ai_worker.answers a WHERE a.wamid = m.wamid)
    OR EXISTS (SELECT 1 FROM router_read.messages o
                WHERE o.client_id = m.client_id AND o.phone_number_id = m.phone_number_id AND o.wa_id = m.wa_id
                  AND o.direction = 'outbound' AND o.recorded_at > m.recorded_at AND NOT {_OURS.format(o="o")}))"""  # noqa: S608  (constants)


@dataclass(frozen=True)
class Pending:
    """A customer message no reply has answered yet."""

    wamid: str
    message_type: str
    body: str | None


def turn_text(message_type: str, body: str | None) -> str | None:
    """What the customer said, as the model reads it; None when there is nothing to show."""
    if body or message_type in SILENT_TYPES:
        return body or None
    # A photo or voice note without words still deserves an answer; the model is told what arrived.
    return f"[{message_type} from the customer, with no text]"


def _scope(received: MessageReceived) -> tuple[object, ...]:
    return received.client_id, received.phone_number_id, received.wa_id, received.wamid


async def stored_age_s(conn: asyncpg.Connection, received: MessageReceived) -> float | None:
    """Seconds since the router stored this message (the database's clock), or None if it is not visible."""
    age = await conn.fetchval(
        """SELECT EXTRACT(EPOCH FROM clock_timestamp() - recorded_at)::float8 FROM router_read.messages
            WHERE client_id = $1 AND phone_number_id = $2 AND wa_id = $3 AND wamid = $4 AND direction = 'inbound'""",
        *_scope(received),
    )
    return None if age is None else max(float(age), 0.0)


async def newer_pending(conn: asyncpg.Connection, received: MessageReceived) -> bool:
    """A later unanswered message that calls for an answer and whose reply will answer this one too (this one is
    among its :func:`pending`: inside its horizon, stored since the ledger began). A later reaction or system
    notice gets no answer of its own, so it does not take this message's."""
    return bool(
        await conn.fetchval(
            f"""SELECT true FROM router_read.messages m JOIN router_read.messages t ON t.wamid = $4 AND t.client_id = $1
                 CROSS JOIN (SELECT min(started_at) AS started_at FROM ai_worker.ledger_started) l
                 WHERE m.client_id = $1 AND m.phone_number_id = $2 AND m.wa_id = $3 AND m.direction = 'inbound'
                   AND m.message_type <> ALL($5::text[]) AND (m.sent_at, m.seq) > (t.sent_at, t.seq)
                   AND t.sent_at > m.sent_at - $6::interval AND t.recorded_at >= l.started_at
                   AND NOT {ANSWERED} LIMIT 1""",  # noqa: S608  (the fragments are this module's, not input)
            *_scope(received),
            sorted(SILENT_TYPES),
            PENDING_HORIZON,
        )
    )


async def pending(conn: asyncpg.Connection, received: MessageReceived) -> list[Pending]:
    """The unanswered messages up to this one, oldest first: what its reply answers (this one last, unless it
    is answered already)."""
    rows = await conn.fetch(
        f"""SELECT m.wamid, m.message_type, m.body
             FROM router_read.messages m JOIN router_read.messages t ON t.wamid = $4 AND t.client_id = $1
            CROSS JOIN (SELECT min(started_at) AS started_at FROM ai_worker.ledger_started) l
            WHERE m.client_id = $1 AND m.phone_number_id = $2 AND m.wa_id = $3 AND m.direction = 'inbound'
              AND (m.sent_at, m.seq) <= (t.sent_at, t.seq) AND m.sent_at > t.sent_at - $5::interval
              AND (m.recorded_at >= l.started_at OR m.wamid = t.wamid)
              AND NOT {ANSWERED}
            ORDER BY m.sent_at, m.seq""",  # noqa: S608  (the fragments are this module's, not input)
        *_scope(received),
        PENDING_HORIZON,
    )
    return [Pending(r["wamid"], r["message_type"], r["body"]) for r in rows]


async def history(
    conn: asyncpg.Connection, received: MessageReceived, waiting: list[Pending], limit: int
) -> list[Turn]:
    """The conversation before the waiting messages, then each of them once, as the last customer turns.

    A reply is read from the ledger, in its place after the message that triggered it, whether or not the sender
    has sent it and the router recorded it yet; the router's copy of it (its ``send_id``) is left out.
    """
    last = [Turn("customer", text) for p in waiting if (text := turn_text(p.message_type, p.body))][-limit:]
    before = max(limit - len(last), 0)
    rows = await conn.fetch(
        f"""WITH t AS (SELECT sent_at, seq FROM router_read.messages WHERE wamid = $4 AND client_id = $1)
           (SELECT m.sent_at, m.seq, 0 AS after, m.direction, m.body AS text FROM router_read.messages m, t
             WHERE m.client_id = $1 AND m.phone_number_id = $2 AND m.wa_id = $3 AND m.body IS NOT NULL
               AND m.wamid <> ALL($5::text[])
               AND NOT (m.direction = 'inbound' AND (m.sent_at, m.seq) > (t.sent_at, t.seq) AND NOT {ANSWERED})
               AND NOT (m.direction = 'outbound' AND {_OURS.format(o="m")})
             ORDER BY m.sent_at DESC, m.seq DESC LIMIT $6)
           UNION ALL
           (SELECT tm.sent_at, tm.seq, 1, 'outbound', r.text FROM ai_worker.replies r
              JOIN router_read.messages tm ON tm.wamid = r.trigger_wamid AND tm.client_id = r.client_id
             WHERE r.client_id = $1 AND r.phone_number_id = $2 AND r.wa_id = $3 AND r.kind = 'reply'
             ORDER BY tm.sent_at DESC, tm.seq DESC LIMIT $6)
           ORDER BY sent_at DESC, seq DESC, after DESC LIMIT $6""",  # noqa: S608  (this module's fragments)
        *_scope(received),
        [p.wamid for p in waiting],
        before,
    )
    earlier = [Turn("customer" if r["direction"] == "inbound" else "business", r["text"]) for r in reversed(rows)]
    return earlier + last
