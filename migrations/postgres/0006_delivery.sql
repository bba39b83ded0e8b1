-- Delivery (issue "Delivery"): DKIM keys per brand, the sender's claims and retries on the
-- outbox, and one row per try so a send interrupted by a crash can be settled.

CREATE TABLE dkim_keys (
    id          BIGSERIAL PRIMARY KEY,
    brand_id    BIGINT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    domain      TEXT   NOT NULL,
    selector    TEXT   NOT NULL,
    algorithm   TEXT   NOT NULL, -- rsa-sha256 | ed25519-sha256
    private_key TEXT   NOT NULL, -- base64 PKCS#8; never leaves the server
    public_key  TEXT   NOT NULL, -- base64, the record's p=
    active      BIGINT NOT NULL DEFAULT 1,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX dkim_keys_brand_selector ON dkim_keys (brand_id, selector);

ALTER TABLE messages ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN claimed_by TEXT;
ALTER TABLE messages ADD COLUMN claimed_at BIGINT;
ALTER TABLE messages ADD COLUMN last_error TEXT NOT NULL DEFAULT '';

CREATE TABLE delivery_attempts (
    id          BIGSERIAL PRIMARY KEY,
    message_id  BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    attempt     TEXT   NOT NULL, -- "<message id>-<try>"
    worker      TEXT   NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT   NOT NULL DEFAULT 'pending', -- pending | sent | retry | failed | unknown
    reply       TEXT   NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX delivery_attempts_attempt ON delivery_attempts (attempt);
CREATE INDEX delivery_attempts_message ON delivery_attempts (message_id);
