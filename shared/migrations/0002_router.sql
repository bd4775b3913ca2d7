-- router: what customers and the business said, deduplicated by Meta's wamid. Owner: router.
CREATE SCHEMA router;

CREATE TABLE router.contacts (
    phone_number_id text NOT NULL,
    wa_id           text NOT NULL,
    client_id       uuid NOT NULL,
    profile_name    text,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (phone_number_id, wa_id)
);

CREATE TABLE router.messages (
    wamid           text PRIMARY KEY,
    client_id       uuid NOT NULL,
    phone_number_id text NOT NULL,
    wa_id           text NOT NULL,
    direction       text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    message_type    text NOT NULL,
    body            text,
    payload         jsonb NOT NULL,
    sent_at         timestamptz NOT NULL,  -- Meta's timestamp (inbound) or the send time (outbound)
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON router.messages (phone_number_id, wa_id, sent_at DESC);
CREATE INDEX messages_client_idx ON router.messages (client_id, sent_at);

CREATE TABLE router.statuses (
    wamid           text NOT NULL,
    status          text NOT NULL,
    client_id       uuid NOT NULL,
    phone_number_id text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    payload         jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (wamid, status)
);

-- Parts of webhooks that could not be routed (unknown phone_number_id, unparseable), kept for an operator.
CREATE TABLE router.parked (
    id              bigserial PRIMARY KEY,
    payload_sha256  text NOT NULL UNIQUE,
    reason          text NOT NULL,
    phone_number_id text,
    payload         jsonb NOT NULL,
    parked_at       timestamptz NOT NULL DEFAULT now()
);
