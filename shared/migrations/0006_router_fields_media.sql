-- router: non-message webhook fields (account, templates, numbers, coexistence) kept once each, and the
-- media a customer sent (Meta's id, mime type and sha256; the bytes are fetched on demand).
CREATE TABLE router.meta_events (
    digest      text PRIMARY KEY,         -- sha256 of (waba_id, field, value): Meta's redelivery is a no-op
    field       text NOT NULL,
    waba_id     text NOT NULL,
    client_id   uuid,
    value       jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meta_events_client_idx ON router.meta_events (client_id, received_at);

ALTER TABLE router.messages
    ADD COLUMN media_id        text,
    ADD COLUMN media_mime_type text,
    ADD COLUMN media_sha256    text;
CREATE INDEX messages_media_idx ON router.messages (media_id) WHERE media_id IS NOT NULL;
