-- The dashboard's thread says who wrote a CRM's message and shows what a person sent from the WhatsApp Business app
-- (issue 9, item 4). The views of 0020 keep their columns; what is new is appended.

-- A coexistence echo stored before the router kept its media: Meta's id, mime type and sha256, read from the echo
-- itself (what the router now stores as it arrives). Only echoes are outbound media: the sender sends text.
UPDATE router.messages
   SET media_id = payload->message_type->>'id',
       media_mime_type = payload->message_type->>'mime_type',
       media_sha256 = payload->message_type->>'sha256'
 WHERE direction = 'outbound' AND media_id IS NULL
   AND message_type IN ('image', 'audio', 'video', 'document', 'sticker')
   AND jsonb_typeof(payload->message_type->'id') = 'string'
   AND NOT payload ? 'send_id';

-- router_read.messages gains, appended: `sent_by_kind` (person or system) and `sent_by_name`, message.send's
-- `sent_by` as message.sent carried it, for what the sender sent; NULL for everything else (an echo, a customer's
-- message, a send that did not say).
CREATE OR REPLACE VIEW router_read.messages AS
SELECT wamid, client_id, phone_number_id, wa_id, direction, message_type, body, sent_at, recorded_at, seq,
       media_id, media_mime_type, media_sha256,
       CASE WHEN payload->>'send_id' ~ '^[0-9a-f-]{36}$' THEN (payload->>'send_id')::uuid END AS send_id,
       CASE WHEN jsonb_typeof(payload->message_type) IN ('object', 'array') THEN payload->message_type END AS content,
       payload->'context'->>'id' AS context_wamid,
       CASE WHEN direction = 'outbound' AND payload->>'send_id' ~ '^[0-9a-f-]{36}$'
                 AND payload->'sent_by'->>'kind' IN ('person', 'system')
            THEN payload->'sent_by'->>'kind' END AS sent_by_kind,
       CASE WHEN direction = 'outbound' AND payload->>'send_id' ~ '^[0-9a-f-]{36}$'
                 AND payload->'sent_by'->>'kind' IN ('person', 'system')
            THEN payload->'sent_by'->>'name' END AS sent_by_name
  FROM router.messages;

-- One row per message for the thread. `author`: the customer (inbound); the AI (a send the ai-worker recorded as a
-- reply part); a person (a coexistence echo: typed in the WhatsApp Business app, no send behind it; or a
-- message.send whose `sent_by` says a person wrote it in the CRM); a CRM (any other message.send). Appended:
-- `author_name`, the name the CRM gave in `sent_by` (a person's, or its automated flow's), NULL otherwise.
-- `status`: Meta's furthest status of an outbound message (failed wins), NULL while Meta has reported none.
CREATE OR REPLACE VIEW dashboard.thread_messages AS
SELECT m.client_id, m.phone_number_id, m.wa_id, m.wamid, m.direction, m.message_type, m.body, m.media_id,
       m.media_mime_type, m.sent_at, m.seq, m.content, m.context_wamid,
       CASE WHEN m.direction = 'inbound' THEN 'customer'
            WHEN m.send_id IS NULL THEN 'person'
            WHEN a.ai THEN 'ai'
            WHEN m.sent_by_kind = 'person' THEN 'person'
            ELSE 'crm' END AS author,
       CASE WHEN m.direction = 'outbound' THEN
           (SELECT s.status FROM router_read.statuses s
             WHERE s.wamid = m.wamid AND s.client_id = m.client_id
             ORDER BY CASE s.status WHEN 'failed' THEN 4 WHEN 'read' THEN 3 WHEN 'delivered' THEN 2
                                    WHEN 'sent' THEN 1 ELSE 0 END DESC, s.occurred_at DESC
             LIMIT 1) END AS status,
       CASE WHEN NOT a.ai THEN m.sent_by_name END AS author_name
  FROM router_read.messages m
  CROSS JOIN LATERAL (SELECT m.send_id IS NOT NULL AND EXISTS (
                          SELECT 1 FROM ai_worker_read.reply_sends r
                           WHERE r.send_id = m.send_id AND r.client_id = m.client_id) AS ai) a;
