-- The dashboard's conversations, v2: which number each is on, the customer's last message as the preview, every
-- message's own content (Meta's object for its type), who wrote it and what Meta last reported of it. The views
-- of 0016 keep their columns; what changes shape is new.

-- router_read.messages gains, appended: `content`, Meta's object named after the message's type (``audio``,
-- ``location``, …; for contacts an array) as Meta sent it, NULL for what the sender sent (plain text); and
-- `context_wamid`, the message it answers or reacts to.
CREATE OR REPLACE VIEW router_read.messages AS
SELECT wamid, client_id, phone_number_id, wa_id, direction, message_type, body, sent_at, recorded_at, seq,
       media_id, media_mime_type, media_sha256,
       CASE WHEN payload->>'send_id' ~ '^[0-9a-f-]{36}$' THEN (payload->>'send_id')::uuid END AS send_id,
       CASE WHEN jsonb_typeof(payload->message_type) IN ('object', 'array') THEN payload->message_type END AS content,
       payload->'context'->>'id' AS context_wamid
  FROM router.messages;

-- ai_worker_read: which sends were the AI's replies (each part of a reply is one message.send), so a reader can
-- tell the AI's messages from those a CRM sent through the same command.
CREATE SCHEMA IF NOT EXISTS ai_worker_read;

CREATE VIEW ai_worker_read.reply_sends AS
SELECT p.send_id, r.id AS reply_id, r.client_id, r.phone_number_id, r.wa_id, p.part, r.created_at
  FROM ai_worker.reply_parts p
  JOIN ai_worker.replies r ON r.id = p.reply_id;

-- One row per message for the thread. `author`: the customer (inbound); the AI (a send the ai-worker recorded as a
-- reply part); a CRM (any other message.send: the ai-worker and external systems are its only publishers); a
-- person (a coexistence echo: typed in the WhatsApp Business app, no send behind it). `status`: Meta's furthest
-- status of an outbound message (failed wins), NULL while Meta has reported none.
CREATE VIEW dashboard.thread_messages AS
SELECT m.client_id, m.phone_number_id, m.wa_id, m.wamid, m.direction, m.message_type, m.body, m.media_id,
       m.media_mime_type, m.sent_at, m.seq, m.content, m.context_wamid,
       CASE WHEN m.direction = 'inbound' THEN 'customer'
            WHEN m.send_id IS NULL THEN 'person'
            WHEN EXISTS (SELECT 1 FROM ai_worker_read.reply_sends r
                          WHERE r.send_id = m.send_id AND r.client_id = m.client_id) THEN 'ai'
            ELSE 'crm' END AS author,
       CASE WHEN m.direction = 'outbound' THEN
           (SELECT s.status FROM router_read.statuses s
             WHERE s.wamid = m.wamid AND s.client_id = m.client_id
             ORDER BY CASE s.status WHEN 'failed' THEN 4 WHEN 'read' THEN 3 WHEN 'delivered' THEN 2
                                    WHEN 'sent' THEN 1 ELSE 0 END DESC, s.occurred_at DESC
             LIMIT 1) END AS status
  FROM router_read.messages m;

-- One row per conversation for the list: the business number it is on (the number's phone_number, or the one it
-- had when it moved away from this client), the newest message (`last_message_at`, `last_seq`: the list's order
-- and its cursor; seq is unique) and the customer's newest message (`preview_*`), whatever the business said after.
CREATE VIEW dashboard.conversation_list AS
SELECT s.client_id, s.phone_number_id, s.wa_id, s.profile_name,
       COALESCE(n.phone_number, moved.phone_number) AS phone_number,
       n.display_name,
       s.messages, s.messages_in, s.last_message_at, s.last_seq, s.last_body, s.last_direction,
       p.message_type AS preview_type, p.body AS preview_body, p.content AS preview_content, p.sent_at AS preview_at
  FROM (SELECT m.client_id, m.phone_number_id, m.wa_id, c.profile_name,
               count(*)::integer AS messages,
               count(*) FILTER (WHERE m.direction = 'inbound')::integer AS messages_in,
               max(m.sent_at) AS last_message_at,
               (array_agg(m.seq ORDER BY m.sent_at DESC, m.seq DESC))[1] AS last_seq,
               (array_agg(m.body ORDER BY m.sent_at DESC, m.seq DESC))[1] AS last_body,
               (array_agg(m.direction ORDER BY m.sent_at DESC, m.seq DESC))[1] AS last_direction
          FROM router_read.messages m
          LEFT JOIN router_read.contacts c
            ON c.client_id = m.client_id AND c.phone_number_id = m.phone_number_id AND c.wa_id = m.wa_id
         GROUP BY m.client_id, m.phone_number_id, m.wa_id, c.profile_name) s
  LEFT JOIN LATERAL (SELECT i.message_type, i.body, i.content, i.sent_at FROM router_read.messages i
                      WHERE i.client_id = s.client_id AND i.phone_number_id = s.phone_number_id
                        AND i.wa_id = s.wa_id AND i.direction = 'inbound'
                      ORDER BY i.sent_at DESC, i.seq DESC LIMIT 1) p ON true
  LEFT JOIN directory_read.numbers n ON n.client_id = s.client_id AND n.phone_number_id = s.phone_number_id
  LEFT JOIN LATERAL (SELECT v.phone_number FROM directory_read.number_moves v
                      WHERE v.phone_number_id = s.phone_number_id AND v.from_client_id = s.client_id
                      ORDER BY v.moved_at DESC LIMIT 1) moved ON n.id IS NULL;
