"""One customer's conversation with one client's number, as the ai-worker sees it: the router's messages
(``router_read.messages``) and the ai-worker's own replies (``ai_worker``), always scoped by client, number and customer
(a number can move to another client; its past stays with the owner it was written to).

Order within Meta's one-second timestamps is the router's ``seq``. Which messages still wait for an answer is
the ledger's record, not a position: with two router replicas ``seq`` order need not be commit order, so a
watermark would skip a message that committed late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from ai_worker.ledger import Reply
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


def scope(received: MessageReceived) -> tuple[object, ...]:
    """The statement parameters $1 to $4: client, number, customer, the message."""
    return received.client_id, received.phone_number_id, received.wa_id, received.wamid


@dataclass(frozen=True)
class Standing:
    """Where a customer message stands in its conversation, read in one statement under the conversation's turn."""

    previous: Reply | None  # the reply that answered it already
    waiting: list[Pending]  # the unanswered messages up to it, oldest first: what its reply answers (it last)
    newer_pending: bool  # a later unanswered message whose reply will answer this one too
    earlier: list[Turn]  # the conversation before the waiting messages, oldest first (at most the history's length)

    def history(self, limit: int) -> list[Turn]:
        """The conversation before the waiting messages, then each of them once, as the last customer turns."""
        last = [Turn("customer", text) for p in self.waiting if (text := turn_text(p.message_type, p.body))][-limit:]
        before = max(limit - len(last), 0)
        return (self.earlier[-before:] if before else []) + last


# A row ``{o}`` of the conversation of ``q``, the message asked about.
_ITS = "{o}.client_id = q.client_id AND {o}.phone_number_id = q.phone_number_id AND {o}.wa_id = q.wa_id"

# One row per message asked about, in their order: $1-$4 their scope() as arrays (each message's its ``q``), $5 the
# pending horizon, $6 the silent types, $7 the history's length.
# waiting: the unanswered messages up to this one (it, unless answered already), inside its horizon, stored since
# the ledger began. newer: a later unanswered message that calls for an answer and whose reply will answer this one
# too (this one is among its waiting): a later reaction or system notice gets no answer of its own, so it does not
# take this message's. earlier: a reply is read from the ledger, in its place after the message that triggered it,
# whether or not the sender has sent it and the router recorded it yet; the router's copy of it is left out.
# A message is found by its wamid alone (the primary key), its client checked outside an OFFSET 0 fence: a plan made
# while the tables are nearly empty (a generic plan kept up to the statements' lifetime) otherwise walks the
# client's index, every message the client ever had, for each message asked about (`test_plans.py`).
_STANDING = f"""
SELECT s.* FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
                AS q(client_id, phone_number_id, wa_id, wamid, n)
CROSS JOIN LATERAL (
WITH t AS (SELECT sent_at, seq, recorded_at
             FROM (SELECT sent_at, seq, recorded_at, client_id FROM router_read.messages
                    WHERE wamid = q.wamid OFFSET 0) AS by_wamid
            WHERE client_id = q.client_id),
l AS (SELECT min(started_at) AS started_at FROM ai_worker.ledger_started),
previous AS (
    SELECT r.id, r.trigger_wamid, r.kind, r.text,
           ARRAY(SELECT x.wamid FROM ai_worker.answers x WHERE x.reply_id = r.id ORDER BY x.position) AS answers,
           ARRAY(SELECT p.text FROM ai_worker.reply_parts p WHERE p.reply_id = r.id ORDER BY p.part) AS parts
      FROM ai_worker.answers a JOIN ai_worker.replies r ON r.id = a.reply_id
     WHERE a.wamid = q.wamid AND {_ITS.format(o="r")}),
waiting AS (
    SELECT m.wamid, m.message_type, m.body, m.sent_at, m.seq FROM router_read.messages m, t, l
     WHERE {_ITS.format(o="m")} AND m.direction = 'inbound'
       AND (m.sent_at, m.seq) <= (t.sent_at, t.seq) AND m.sent_at > t.sent_at - $5::interval
       AND (m.recorded_at >= l.started_at OR m.wamid = q.wamid)
       AND NOT {ANSWERED}),
newer AS (
    SELECT 1 FROM router_read.messages m, t, l
     WHERE {_ITS.format(o="m")} AND m.direction = 'inbound'
       AND m.message_type <> ALL($6::text[]) AND (m.sent_at, m.seq) > (t.sent_at, t.seq)
       AND t.sent_at > m.sent_at - $5::interval AND t.recorded_at >= l.started_at
       AND NOT {ANSWERED} LIMIT 1),
earlier AS (
    (SELECT m.sent_at, m.seq, 0 AS after, m.direction, m.body AS text FROM router_read.messages m, t
      WHERE {_ITS.format(o="m")} AND m.body IS NOT NULL
        AND m.wamid NOT IN (SELECT wamid FROM waiting)
        AND NOT (m.direction = 'inbound' AND (m.sent_at, m.seq) > (t.sent_at, t.seq) AND NOT {ANSWERED})
        AND NOT (m.direction = 'outbound' AND {_OURS.format(o="m")})
      ORDER BY m.sent_at DESC, m.seq DESC LIMIT $7)
    UNION ALL
    (SELECT tm.sent_at, tm.seq, 1, 'outbound', r.text FROM ai_worker.replies r
       CROSS JOIN LATERAL (SELECT sent_at, seq, client_id FROM router_read.messages
                            WHERE wamid = r.trigger_wamid OFFSET 0) AS tm
      WHERE {_ITS.format(o="r")} AND r.kind = 'reply' AND tm.client_id = r.client_id
      ORDER BY tm.sent_at DESC, tm.seq DESC LIMIT $7)
    ORDER BY sent_at DESC, seq DESC, after DESC LIMIT $7)
SELECT p.id, p.trigger_wamid, p.kind, p.text, p.answers, p.parts,
       (SELECT array_agg(wamid ORDER BY sent_at, seq) FROM waiting) AS waiting_wamids,
       (SELECT array_agg(message_type ORDER BY sent_at, seq) FROM waiting) AS waiting_types,
       (SELECT array_agg(body ORDER BY sent_at, seq) FROM waiting) AS waiting_bodies,
       EXISTS (SELECT 1 FROM newer) AS newer_pending,
       (SELECT array_agg(direction ORDER BY sent_at, seq, after) FROM earlier) AS earlier_directions,
       (SELECT array_agg(text ORDER BY sent_at, seq, after) FROM earlier) AS earlier_texts
  FROM (SELECT) AS one LEFT JOIN previous p ON true) AS s
 ORDER BY q.n"""  # noqa: S608  (the fragments are this module's, not input)


async def standing(conn: asyncpg.Connection, received: MessageReceived, history_messages: int) -> Standing:
    [one] = await standings(conn, [received], history_messages)
    return one


async def standings(
    conn: asyncpg.Connection, received: Sequence[MessageReceived], history_messages: int
) -> list[Standing]:
    """Where each message stands, in their order, read in one statement (one snapshot) under their turns."""
    scopes = [list(column) for column in zip(*(scope(r) for r in received), strict=True)]
    rows = await conn.fetch(_STANDING, *scopes, PENDING_HORIZON, sorted(SILENT_TYPES), history_messages)
    return [_standing(row) for row in rows]


def _standing(row: asyncpg.Record) -> Standing:
    previous = None
    if row["id"] is not None:
        previous = Reply(
            row["id"], row["trigger_wamid"], row["kind"], tuple(row["answers"]), tuple(row["parts"]), row["text"]
        )
    waiting = [
        Pending(*p) for p in zip(*_arrays(row, "waiting_wamids", "waiting_types", "waiting_bodies"), strict=True)
    ]
    earlier = [
        Turn("customer" if direction == "inbound" else "business", text)
        for direction, text in zip(*_arrays(row, "earlier_directions", "earlier_texts"), strict=True)
    ]
    return Standing(previous, waiting, bool(row["newer_pending"]), earlier)


def _arrays(row: asyncpg.Record, *names: str) -> list[list[Any]]:
    return [list(row[name] or ()) for name in names]
