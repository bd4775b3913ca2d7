-- Reads through owners' views. Each owner publishes what others may read as views in a read schema of its own,
-- `<owner>_read`; no service reads another owner's tables, so an owner can change its tables without breaking
-- anyone as long as its views keep their columns. A read view reads only its owner's tables (or other read
-- views); the gateway's `dashboard` views read only read views. tests/unit/test_boundaries.py checks both, and
-- every service's SQL. The directory schema's owner is now the directory service (services/directory).

-- directory_read: clients and their numbers, for the router, billing, the ai-worker and the gateway.
CREATE SCHEMA directory_read;

CREATE VIEW directory_read.numbers AS
SELECT id, client_id, phone_number, phone_number_id, waba_id, display_name, status, free_quota, created_at
  FROM directory.numbers;

-- Everything of a client but its key's hash: that is only for the gateway's check, below.
CREATE VIEW directory_read.clients AS
SELECT id, name, personality, timezone, quota_policy, settings, created_at
  FROM directory.clients;

CREATE VIEW directory_read.number_moves AS
SELECT id, phone_number_id, phone_number, from_client_id, to_client_id, from_free_quota, moved_at
  FROM directory.number_moves;

-- The gateway finds the client of an API key by its hash (shared/api_keys.py: the same function as the writer's).
CREATE VIEW directory_read.api_keys AS
SELECT id AS client_id, api_key_hash
  FROM directory.clients
 WHERE api_key_hash IS NOT NULL;

-- router_read: what customers and the business said, and what Meta reported of it.
CREATE SCHEMA router_read;

-- The ai-worker's conversations and the dashboard. `send_id` is the sender's idempotency key echoed on an
-- outbound message (MessageSent.send_id), when it is one: the payload itself stays the router's.
CREATE VIEW router_read.messages AS
SELECT wamid, client_id, phone_number_id, wa_id, direction, message_type, body, sent_at, recorded_at, seq,
       media_id, media_mime_type, media_sha256,
       CASE WHEN payload->>'send_id' ~ '^[0-9a-f-]{36}$' THEN (payload->>'send_id')::uuid END AS send_id
  FROM router.messages;

CREATE VIEW router_read.contacts AS
SELECT client_id, phone_number_id, wa_id, profile_name, first_seen_at, last_seen_at
  FROM router.contacts;

-- The sender learns from Meta's statuses (their callback data) whether a send left before a crash.
CREATE VIEW router_read.statuses AS
SELECT wamid, status, client_id, phone_number_id, occurred_at, recorded_at, callback_data
  FROM router.statuses;

-- What the router set aside, for the gateway's /metrics (the payloads stay the router's).
CREATE VIEW router_read.parked AS
SELECT id, reason, phone_number_id, parked_at, replayed_at
  FROM router.parked;

-- billing_read: conversation windows and usage, by client, number and month.
CREATE SCHEMA billing_read;

CREATE VIEW billing_read.conversations AS
SELECT id, client_id, phone_number_id, wa_id, opened_at, expires_at, month, free, opened_by_wamid
  FROM billing.conversations;

CREATE VIEW billing_read.usage AS
SELECT client_id, phone_number_id, month, conversations, free_used, paid, messages_in, messages_out, delivered,
       updated_at
  FROM billing.usage;

-- Each number's month so far for the client that holds it (the month in the client's timezone), and what is left
-- of its free conversations: the one place that counts it, for the ai-worker's quota check and the dashboard.
CREATE VIEW billing_read.current_usage AS
SELECT n.client_id,
       n.phone_number_id,
       m.month,
       n.free_quota,
       COALESCE(u.conversations, 0) AS conversations,
       COALESCE(u.free_used, 0) AS free_used,
       GREATEST(n.free_quota - COALESCE(u.free_used, 0), 0) AS free_remaining,
       COALESCE(u.paid, 0) AS paid,
       COALESCE(u.messages_in, 0) AS messages_in,
       COALESCE(u.messages_out, 0) AS messages_out,
       COALESCE(u.delivered, 0) AS delivered
  FROM directory_read.numbers n
  JOIN directory_read.clients c ON c.id = n.client_id
 CROSS JOIN LATERAL (SELECT date_trunc('month', now() AT TIME ZONE c.timezone)::date AS month) m
  LEFT JOIN billing.usage u ON u.client_id = n.client_id AND u.phone_number_id = n.phone_number_id
                           AND u.month = m.month;

-- dashboard: the same columns as before (0005, 0009, 0014), now read from the owners' read views only.
CREATE OR REPLACE VIEW dashboard.number_usage AS
SELECT n.client_id,
       n.id AS number_id,
       n.phone_number,
       n.phone_number_id,
       n.display_name,
       n.status,
       n.free_quota,
       u.month,
       u.conversations AS conversations_this_month,
       u.free_used,
       u.free_remaining,
       u.paid AS paid_conversations,
       u.messages_in,
       u.messages_out,
       u.messages_in + u.messages_out AS messages_this_month,
       (SELECT COALESCE(SUM(a.conversations), 0) FROM billing_read.usage a
         WHERE a.client_id = n.client_id AND a.phone_number_id = n.phone_number_id)::integer AS conversations_total,
       u.delivered AS messages_delivered
  FROM directory_read.numbers n
  JOIN billing_read.current_usage u ON u.client_id = n.client_id AND u.phone_number_id = n.phone_number_id;

CREATE OR REPLACE VIEW dashboard.former_number_usage AS
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
       (SELECT max(v.moved_at) FROM directory_read.number_moves v
         WHERE v.phone_number_id = u.phone_number_id AND v.from_client_id = u.client_id) AS moved_at
  FROM billing_read.usage u
  JOIN directory_read.clients c ON c.id = u.client_id
 WHERE u.month = date_trunc('month', now() AT TIME ZONE c.timezone)::date
   AND NOT EXISTS (SELECT 1 FROM directory_read.numbers n
                    WHERE n.phone_number_id = u.phone_number_id AND n.client_id = u.client_id);

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
  FROM router_read.messages m
  LEFT JOIN router_read.contacts c
    ON c.client_id = m.client_id AND c.phone_number_id = m.phone_number_id AND c.wa_id = m.wa_id
 GROUP BY m.client_id, m.phone_number_id, m.wa_id, c.profile_name;

CREATE OR REPLACE VIEW dashboard.messages AS
SELECT client_id, phone_number_id, wa_id, wamid, direction, message_type, body, media_id, media_mime_type,
       sent_at, seq
  FROM router_read.messages;
