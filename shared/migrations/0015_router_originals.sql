-- router: the exact bytes of a webhook whose stored form had to differ from what Meta signed (a NUL or a lone
-- surrogate replaced by U+FFFD, nesting cut, a body that is not JSON), so that nothing Meta sent is lost.
CREATE TABLE router.originals (
    sha256      text PRIMARY KEY,             -- of the body's bytes
    body        bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE router.messages ADD COLUMN original_sha256 text;
ALTER TABLE router.parked ADD COLUMN original_sha256 text;

-- A number can change owner; its customers' names belong to the owner they wrote to.
ALTER TABLE router.contacts DROP CONSTRAINT contacts_pkey;
ALTER TABLE router.contacts ADD PRIMARY KEY (client_id, phone_number_id, wa_id);
