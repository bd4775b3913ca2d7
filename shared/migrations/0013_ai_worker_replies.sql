-- ai_worker: which customer messages each reply answers. Owner: ai-worker. Meta's timestamps are whole seconds,
-- so "answered" cannot be inferred from times (two messages 1 ms apart were answered twice); it is recorded.
CREATE SCHEMA ai_worker;

-- One row per customer message that was answered (or, under the pause_ai policy, deliberately not).
CREATE TABLE ai_worker.replies (
    -- The envelope id of what was published: the (first) message.send of a reply, the reply.paused of a pause.
    -- Derived from trigger_wamid, so a redelivered message.received publishes the same ids again.
    id              uuid PRIMARY KEY,
    client_id       uuid NOT NULL,
    phone_number_id text NOT NULL,
    wa_id           text NOT NULL,
    -- The customer message whose handler wrote the reply: the newest of those it answers.
    trigger_wamid   text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('reply', 'paused')),
    text            text,                   -- the whole reply as the model wrote it; NULL when paused
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX replies_conversation_idx ON ai_worker.replies (client_id, phone_number_id, wa_id, created_at DESC);

-- What was sent: WhatsApp takes at most 4,096 characters, so a longer reply goes as several messages, in order.
CREATE TABLE ai_worker.reply_parts (
    send_id  uuid PRIMARY KEY,              -- the message.send envelope id; part 1's is the reply's id
    reply_id uuid NOT NULL REFERENCES ai_worker.replies (id),
    part     integer NOT NULL CHECK (part >= 1),
    text     text NOT NULL,
    UNIQUE (reply_id, part)
);

-- The customer messages a reply answers. The primary key is the rule: a message is answered at most once.
CREATE TABLE ai_worker.answers (
    wamid    text PRIMARY KEY,
    reply_id uuid NOT NULL REFERENCES ai_worker.replies (id),
    position integer NOT NULL              -- the router's order of the answered messages, oldest first
);
CREATE INDEX answers_reply_idx ON ai_worker.answers (reply_id);

-- Customer messages stored before the ledger existed were handled by the worker that kept none: they are not
-- answered again (a customer's next reply would otherwise re-answer the day's conversation).
CREATE TABLE ai_worker.ledger_started (started_at timestamptz NOT NULL);
INSERT INTO ai_worker.ledger_started (started_at) VALUES (now());
