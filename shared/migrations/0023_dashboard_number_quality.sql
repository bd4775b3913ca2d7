-- The dashboard's numbers show what Meta said of each when it was read back (issue 9, item 2): its quality rating,
-- name review and throughput; appended to the view (its earlier columns stay as they are).
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
       u.delivered AS messages_delivered,
       n.quality_rating,
       n.name_status,
       n.throughput_level,
       n.verified_name
  FROM directory_read.numbers n
  JOIN billing_read.current_usage u ON u.client_id = n.client_id AND u.phone_number_id = n.phone_number_id;
