-- directory: the clients (tenants) and their WhatsApp numbers. Owner: gateway (the CRM/REST API).
-- Read by the other services to resolve a tenant; written only by its owner.
CREATE SCHEMA directory;

CREATE TABLE directory.clients (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    personality   text NOT NULL DEFAULT '',
    timezone      text NOT NULL DEFAULT 'UTC',
    -- What happens when the month's free conversations are used up.
    quota_policy  text NOT NULL DEFAULT 'count_paid' CHECK (quota_policy IN ('count_paid', 'pause_ai')),
    settings      jsonb NOT NULL DEFAULT '{}',
    -- sha256 of the client's dashboard/API key; the key itself is shown once and never stored.
    api_key_hash  bytea UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE directory.numbers (
    id              uuid PRIMARY KEY,
    client_id       uuid NOT NULL REFERENCES directory.clients (id),
    phone_number    text NOT NULL UNIQUE CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    phone_number_id text NOT NULL UNIQUE,
    waba_id         text NOT NULL,
    display_name    text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'suspended')),
    free_quota      integer NOT NULL DEFAULT 1000 CHECK (free_quota >= 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX numbers_client_idx ON directory.numbers (client_id);
