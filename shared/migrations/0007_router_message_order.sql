-- router: the order messages were stored in. Meta's timestamps have one-second resolution and a batch is
-- stored in one transaction (same recorded_at), so ties between a customer's messages are broken by seq.
ALTER TABLE router.messages ADD COLUMN seq bigserial;
CREATE INDEX messages_conversation_seq_idx ON router.messages (phone_number_id, wa_id, sent_at DESC, seq DESC);
DROP INDEX router.messages_conversation_idx;
