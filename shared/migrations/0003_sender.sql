-- sender: every send request and what Meta answered; token buckets shared by all sender replicas.
CREATE SCHEMA sender;

CREATE TABLE sender.sends (
    send_id         uuid PRIMARY KEY,       -- the message.send envelope id: the idempotency key
    client_id       uuid NOT NULL,
    phone_number_id text NOT NULL,
    recipient       text NOT NULL,
    state           text NOT NULL CHECK (state IN ('sent', 'failed')),
    wamid           text UNIQUE,
    error_code      integer,
    error_title     text,
    attempts        integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sender.rate_buckets (
    bucket      text PRIMARY KEY,           -- 'number:<phone_number_id>' or 'pair:<phone_number_id>:<wa_id>'
    tokens      double precision NOT NULL,
    refilled_at timestamptz NOT NULL
);

-- Take one token from a bucket refilled continuously at `rate` per second up to `capacity`.
-- Returns 0 when granted, else the seconds until a token will be there. One statement per bucket, so
-- every sender replica shares the same limit and none holds a lock for longer than this call.
CREATE FUNCTION sender.take_token(p_bucket text, p_rate double precision, p_capacity double precision)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    available double precision;
BEGIN
    INSERT INTO sender.rate_buckets (bucket, tokens, refilled_at)
    VALUES (p_bucket, p_capacity, clock_timestamp())
    ON CONFLICT (bucket) DO NOTHING;
    SELECT LEAST(p_capacity, tokens + EXTRACT(EPOCH FROM clock_timestamp() - refilled_at) * p_rate)
      INTO available FROM sender.rate_buckets WHERE bucket = p_bucket FOR UPDATE;
    IF available >= 1 THEN
        UPDATE sender.rate_buckets SET tokens = available - 1, refilled_at = clock_timestamp()
         WHERE bucket = p_bucket;
        RETURN 0;
    END IF;
    UPDATE sender.rate_buckets SET tokens = available, refilled_at = clock_timestamp() WHERE bucket = p_bucket;
    RETURN (1 - available) / p_rate;
END;
$$;
