-- A number can change owner; its past cannot. Usage and conversation windows are the client's, not the number's:
-- keyed by (client, number, month) and (client, number, customer), and every dashboard view joins on the client
-- too, so a number's new owner starts from nothing and the old owner keeps its month. Rows are kept as they are.
ALTER TABLE billing.usage DROP CONSTRAINT usage_pkey;
ALTER TABLE billing.usage ADD PRIMARY KEY (client_id, phone_number_id, month);

CREATE INDEX conversations_client_window_idx ON billing.conversations (client_id, phone_number_id, wa_id, expires_at DESC);
DROP INDEX billing.conversations_window_idx;

-- Meta's pricing data, by the tenant the status was routed to (rows recorded before this migration have none).
ALTER TABLE billing.meta_pricing ADD COLUMN client_id uuid;

-- Who held a number, from when: the directory's record of every move (``gateway.admin move-number``). Its id is
-- the source of the ``number.moved`` event's id, so a retried move announces the same event.
CREATE TABLE directory.number_moves (
    id              uuid PRIMARY KEY,
    phone_number_id text NOT NULL,
    phone_number    text NOT NULL,
    from_client_id  uuid NOT NULL REFERENCES directory.clients (id),
    to_client_id    uuid NOT NULL REFERENCES directory.clients (id),
    -- The number's free quota while the previous owner held it: billing counts the previous owner's late
    -- events (a reply sent just before the move, a replayed dead letter) against it, not the new owner's.
    from_free_quota integer NOT NULL,
    moved_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX number_moves_number_idx ON directory.number_moves (phone_number_id, moved_at DESC);

CREATE OR REPLACE VIEW dashboard.number_usage AS
SELECT n.client_id,
       n.id AS number_id,
       n.phone_number,
       n.phone_number_id,
       n.display_name,
       n.status,
       n.free_quota,
       m.month,
       COALESCE(u.conversations, 0) AS conversations_this_month,
       COALESCE(u.free_used, 0) AS free_used,
       GREATEST(n.free_quota - COALESCE(u.free_used, 0), 0) AS free_remaining,
       COALESCE(u.paid, 0) AS paid_conversations,
       COALESCE(u.messages_in, 0) AS messages_in,
       COALESCE(u.messages_out, 0) AS messages_out,
       COALESCE(u.messages_in, 0) + COALESCE(u.messages_out, 0) AS messages_this_month,
       (SELECT COALESCE(SUM(a.conversations), 0) FROM billing.usage a
         WHERE a.client_id = n.client_id AND a.phone_number_id = n.phone_number_id)::integer AS conversations_total,
       COALESCE(u.delivered, 0) AS messages_delivered
  FROM directory.numbers n
  JOIN directory.clients c ON c.id = n.client_id
 CROSS JOIN LATERAL (SELECT date_trunc('month', now() AT TIME ZONE c.timezone)::date AS month) m
  LEFT JOIN billing.usage u ON u.client_id = n.client_id AND u.phone_number_id = n.phone_number_id
                           AND u.month = m.month;

-- This month's usage of numbers a client held earlier in the month and has since handed to another client: the
-- old owner keeps seeing what it used (and pays for). Nothing of the number's new owner is in it.
CREATE VIEW dashboard.former_number_usage AS
SELECT u.client_id,
       u.phone_number_id,
       u.month,
       u.conversations AS conversations_this_month,
       u.free_used,
       u.paid AS paid_conversations,
       u.messages_in,
       u.messages_out,
       u.messages_in + u.messages_out AS messages_this_month,
       u.delivered AS messages_delivered,
       (SELECT max(v.moved_at) FROM directory.number_moves v
         WHERE v.phone_number_id = u.phone_number_id AND v.from_client_id = u.client_id) AS moved_at
  FROM billing.usage u
  JOIN directory.clients c ON c.id = u.client_id
 WHERE u.month = date_trunc('month', now() AT TIME ZONE c.timezone)::date
   AND NOT EXISTS (SELECT 1 FROM directory.numbers n
                    WHERE n.phone_number_id = u.phone_number_id AND n.client_id = u.client_id);

-- The customer's profile name as this client's contact: a number's previous owner's customers stay its own.
CREATE OR REPLACE VIEW dashboard.conversations AS
SELECT m.client_id,
       m.phone_number_id,
       m.wa_id,
       c.profile_name,
       count(*)::integer AS messages,
       count(*) FILTER (WHERE m.direction = 'inbound')::integer AS messages_in,
       max(m.sent_at) AS last_message_at,
       (array_agg(m.body ORDER BY m.sent_at DESC, m.seq DESC))[1] AS last_body,
       (array_agg(m.direction ORDER BY m.sent_at DESC, m.seq DESC))[1] AS last_direction
  FROM router.messages m
  LEFT JOIN router.contacts c
    ON c.client_id = m.client_id AND c.phone_number_id = m.phone_number_id AND c.wa_id = m.wa_id
 GROUP BY m.client_id, m.phone_number_id, m.wa_id, c.profile_name;
