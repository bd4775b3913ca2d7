-- billing: messages Meta reports delivered, per number and month (the unit Meta bills service replies by since
-- 2026, reported), beside the conversations; the dashboard shows both.
ALTER TABLE billing.usage ADD COLUMN delivered integer NOT NULL DEFAULT 0;

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
         WHERE a.phone_number_id = n.phone_number_id)::integer AS conversations_total,
       COALESCE(u.delivered, 0) AS messages_delivered
  FROM directory.numbers n
  JOIN directory.clients c ON c.id = n.client_id
 CROSS JOIN LATERAL (SELECT date_trunc('month', now() AT TIME ZONE c.timezone)::date AS month) m
  LEFT JOIN billing.usage u ON u.phone_number_id = n.phone_number_id AND u.month = m.month;
