-- Onboarding carried out (issue 8): the directory drives each onboarding through Meta's calls one step at a time
-- (directory/onboarding/driver.py), keeps what Meta reported of a number, the client's business tokens and the
-- numbers' PINs encrypted, and the signup links it issued.

-- Every change of an onboarding bumps its version; a step message names the version it was sent for, so a
-- repeated or stale one changes nothing. step_input holds what the next call needs from the client's command
-- (the signup code, the SMS code, the code method), cleared once the call is made; attempts counts tries of the
-- current step (retryable failures), reset when the step changes.
ALTER TABLE directory.onboardings ADD COLUMN version integer NOT NULL DEFAULT 0;
ALTER TABLE directory.onboardings ADD COLUMN step_input jsonb;
ALTER TABLE directory.onboardings ADD COLUMN business_id text;
ALTER TABLE directory.onboardings ADD COLUMN suspended_reason text;
ALTER TABLE directory.onboardings ALTER COLUMN step DROP DEFAULT;
CREATE INDEX onboardings_in_progress_idx ON directory.onboardings (updated_at)
    WHERE state NOT IN ('active', 'failed', 'suspended');

-- What Meta said of the number when it was read back (GET /{phone_number_id}).
ALTER TABLE directory.numbers ADD COLUMN verified_name text NOT NULL DEFAULT '';
ALTER TABLE directory.numbers ADD COLUMN name_status text;
ALTER TABLE directory.numbers ADD COLUMN quality_rating text;
ALTER TABLE directory.numbers ADD COLUMN platform_type text;
ALTER TABLE directory.numbers ADD COLUMN throughput_level text;
ALTER TABLE directory.numbers ADD COLUMN coexistence boolean NOT NULL DEFAULT false;
ALTER TABLE directory.numbers ADD COLUMN suspended_reason text;
ALTER TABLE directory.numbers ADD COLUMN read_back_at timestamptz;

-- Secrets the directory obtained or chose, AES-GCM encrypted (shared/secretbox.py) under the key named key_id:
-- a client's business token (subject: its WABA id) and a number's two-step verification PIN (subject: its
-- phone_number_id). Never in a read view but directory_read.number_tokens, which holds only ciphertext.
CREATE TABLE directory.credentials (
    kind        text NOT NULL CHECK (kind IN ('business_token', 'pin')),
    subject     text NOT NULL,
    key_id      text NOT NULL,
    nonce       bytea NOT NULL,
    ciphertext  bytea NOT NULL,
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, subject)
);

-- A signed link the client opens (or scans as a QR code) to go through Embedded Signup; one live link per
-- onboarding: issuing a new one revokes the old; completing the signup uses it up.
CREATE TABLE directory.signup_links (
    id             uuid PRIMARY KEY,
    onboarding_id  uuid NOT NULL REFERENCES directory.onboardings (id),
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    used_at        timestamptz
);
CREATE INDEX signup_links_onboarding_idx ON directory.signup_links (onboarding_id);

CREATE OR REPLACE VIEW directory_read.numbers AS
SELECT id, client_id, phone_number, phone_number_id, waba_id, display_name, status, free_quota, created_at,
       verified_name, name_status, quality_rating, platform_type, throughput_level, coexistence, suspended_reason,
       read_back_at
  FROM directory.numbers;

CREATE OR REPLACE VIEW directory_read.onboardings AS
SELECT id, client_id, phone_number, display_name, method, coexistence, state, step, phone_number_id, waba_id,
       last_error, attempts, created_at, updated_at, version, business_id, suspended_reason
  FROM directory.onboardings;

CREATE VIEW directory_read.signup_links AS
SELECT l.id, l.onboarding_id, o.client_id, l.expires_at, l.created_at, l.revoked_at, l.used_at
  FROM directory.signup_links l JOIN directory.onboardings o ON o.id = l.onboarding_id;

-- The sender sends from a number with its client's business token when there is one (encrypted: the sender
-- holds the key), else with the system-user token.
CREATE VIEW directory_read.number_tokens AS
SELECT n.phone_number_id, n.client_id, n.waba_id, c.key_id, c.nonce, c.ciphertext, c.expires_at
  FROM directory.numbers n JOIN directory.credentials c ON c.kind = 'business_token' AND c.subject = n.waba_id;
