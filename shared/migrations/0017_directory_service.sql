-- The directory service (services/directory, `python -m directory`) carries out the CRM's commands (issue 8):
-- its inbox of handled envelopes, a client's language and free quota, and the onboardings of numbers.

-- Envelope ids already carried out, recorded in the same transaction as the effect: a redelivered command is
-- answered again with the same event ids and changes nothing.
CREATE TABLE directory.inbox (
    envelope_id  uuid PRIMARY KEY,
    handled_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_handled_at_idx ON directory.inbox (handled_at);

ALTER TABLE directory.clients ADD COLUMN language text NOT NULL DEFAULT 'es';
-- Free conversations a month given to each new number of the client.
ALTER TABLE directory.clients ADD COLUMN free_quota integer NOT NULL DEFAULT 1000 CHECK (free_quota >= 0);

-- One attempt to connect a number to a client, with the step it is at (directory/onboarding).
CREATE TABLE directory.onboardings (
    id              uuid PRIMARY KEY,
    client_id       uuid NOT NULL REFERENCES directory.clients (id),
    phone_number    text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    display_name    text,
    method          text NOT NULL CHECK (method IN ('signup', 'manual')),
    coexistence     boolean NOT NULL DEFAULT false,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'signup_started', 'code_exchanged',
                        'subscribed', 'code_requested', 'code_verified', 'registered', 'active', 'failed',
                        'suspended')),
    step            text NOT NULL DEFAULT 'registered_with_wamux',
    phone_number_id text,
    waba_id         text,
    last_error      jsonb,
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- A number has at most one onboarding that has not failed: two clients cannot both be connecting it.
CREATE UNIQUE INDEX onboardings_live_number_idx ON directory.onboardings (phone_number) WHERE state <> 'failed';
CREATE INDEX onboardings_client_idx ON directory.onboardings (client_id);

-- The read views gain the new columns (appended: the views built on them stay as they are); the key's hash
-- stays out of directory_read.clients.
CREATE OR REPLACE VIEW directory_read.clients AS
SELECT id, name, personality, timezone, quota_policy, settings, created_at, language, free_quota
  FROM directory.clients;

-- For the gateway's REST (GET /api/onboardings/{id}); scoped by client_id like every read.
CREATE VIEW directory_read.onboardings AS
SELECT id, client_id, phone_number, display_name, method, coexistence, state, step, phone_number_id, waba_id,
       last_error, attempts, created_at, updated_at
  FROM directory.onboardings;
