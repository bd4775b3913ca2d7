-- dashboard: each client's conversations (one row per number and customer) and their messages, read-only.
CREATE VIEW dashboard.conversations AS
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
  LEFT JOIN router.contacts c ON c.phone_number_id = m.phone_number_id AND c.wa_id = m.wa_id
 GROUP BY m.client_id, m.phone_number_id, m.wa_id, c.profile_name;

CREATE VIEW dashboard.messages AS
SELECT client_id, phone_number_id, wa_id, wamid, direction, message_type, body, media_id, media_mime_type,
       sent_at, seq
  FROM router.messages;
