-- router: events staged in the same transaction as what they announce, published once it has committed.
CREATE TABLE router.outbox (
    id         uuid PRIMARY KEY,             -- the envelope id
    type       text NOT NULL,
    envelope   jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_created_idx ON router.outbox (created_at);
