-- A send carries its idempotency key to Meta as biz_opaque_callback_data, and Meta echoes it on the statuses:
-- after a crash between Meta's answer and our record, the sender learns from them whether the message left.
ALTER TABLE router.statuses ADD COLUMN callback_data text;
CREATE INDEX statuses_callback_idx ON router.statuses (callback_data) WHERE callback_data IS NOT NULL;

ALTER TABLE sender.sends DROP CONSTRAINT sends_state_check;
ALTER TABLE sender.sends ADD CONSTRAINT sends_state_check CHECK (state IN ('sending', 'sent', 'failed'));
ALTER TABLE sender.sends ADD COLUMN started_at timestamptz NOT NULL DEFAULT now();
