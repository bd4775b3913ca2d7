-- billing: conversation windows and per-number monthly usage. Owner: billing.
CREATE SCHEMA billing;

CREATE TABLE billing.inbox (
    envelope_id  uuid PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- A conversation: a 24-hour window per (number, customer) opened by a business message.
CREATE TABLE billing.conversations (
    id              uuid PRIMARY KEY,
    client_id       uuid NOT NULL,
    phone_number_id text NOT NULL,
    wa_id           text NOT NULL,
    opened_at       timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    month           date NOT NULL,          -- first day of the month, in the client's timezone
    free            boolean NOT NULL,
    opened_by_wamid text NOT NULL UNIQUE
);
CREATE INDEX conversations_window_idx ON billing.conversations (phone_number_id, wa_id, expires_at DESC);

-- One row per number and month: a new month is a new row, which is the monthly reset.
CREATE TABLE billing.usage (
    phone_number_id text NOT NULL,
    month           date NOT NULL,
    client_id       uuid NOT NULL,
    conversations   integer NOT NULL DEFAULT 0,
    free_used       integer NOT NULL DEFAULT 0,
    paid            integer NOT NULL DEFAULT 0,
    messages_in     integer NOT NULL DEFAULT 0,
    messages_out    integer NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (phone_number_id, month)
);

-- Meta's own conversation/pricing data from status webhooks, to reconcile against our count.
CREATE TABLE billing.meta_pricing (
    wamid           text NOT NULL,
    status          text NOT NULL,
    phone_number_id text NOT NULL,
    conversation_id text,
    origin_type     text,
    billable        boolean,
    pricing_model   text,
    category        text,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (wamid, status)
);
