-- The dashboard's usage chart: every conversation billing opened and every message the router recorded, one row
-- apiece, with the day it fell on in the client's timezone (its current one, directory_read.clients.timezone).
-- The gateway sums the rows per day. Rows rather than daily sums so that a reader bounded by `at` reaches the
-- owners' (client_id, time) indexes through the view instead of summing a client's whole history first.
-- Scoped by client: a number the client handed on keeps its past days here, and its next owner starts from none.
CREATE VIEW dashboard.usage_events AS
SELECT c.client_id,
       c.phone_number_id,
       c.opened_at AS at,
       (c.opened_at AT TIME ZONE k.timezone)::date AS day,
       1 AS conversations,
       0 AS messages_in,
       0 AS messages_out
  FROM billing_read.conversations c
  JOIN directory_read.clients k ON k.id = c.client_id
UNION ALL
SELECT m.client_id,
       m.phone_number_id,
       m.sent_at,
       (m.sent_at AT TIME ZONE k.timezone)::date,
       0,
       (m.direction = 'inbound')::integer,
       (m.direction = 'outbound')::integer
  FROM router_read.messages m
  JOIN directory_read.clients k ON k.id = m.client_id;
