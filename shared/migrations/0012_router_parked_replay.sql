-- router: parked parts handed back to the router once their number is registered.
ALTER TABLE router.parked ADD COLUMN replayed_at timestamptz;
CREATE INDEX parked_number_idx ON router.parked (phone_number_id) WHERE replayed_at IS NULL;
