-- The client's personality, versioned (issue 9): every saved version kept with who saved it and when, the form's
-- fields beside the text the prompt carries; each reply records the version that wrote it.
CREATE TABLE directory.personality_versions (
    client_id    uuid NOT NULL REFERENCES directory.clients (id),
    version      integer NOT NULL CHECK (version >= 1),
    personality  text NOT NULL,
    profile      jsonb,                      -- the dashboard form's fields (description, tone, offer, hours, never_say)
    language     text NOT NULL,
    changed_by   text NOT NULL,              -- 'operator', 'client', a CRM's user, 'migration' for what existed before
    changed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, version)
);
ALTER TABLE directory.clients ADD COLUMN personality_version integer NOT NULL DEFAULT 0;
ALTER TABLE directory.clients ADD COLUMN personality_profile jsonb;

-- What a client had before versions: its version 1.
INSERT INTO directory.personality_versions (client_id, version, personality, language, changed_by, changed_at)
SELECT id, 1, personality, language, 'migration', created_at FROM directory.clients WHERE personality <> '';
UPDATE directory.clients SET personality_version = 1 WHERE personality <> '';

CREATE OR REPLACE VIEW directory_read.clients AS
SELECT id, name, personality, timezone, quota_policy, settings, created_at, language, free_quota,
       personality_version, personality_profile
  FROM directory.clients;

CREATE VIEW directory_read.personality_versions AS
SELECT client_id, version, personality, profile, language, changed_by, changed_at
  FROM directory.personality_versions;

ALTER TABLE ai_worker.replies ADD COLUMN personality_version integer;
