-- Password attempts counted per account and address, per account and per address
-- (accounts::throttle), replacing the per-account failure rows.
DROP TABLE sign_in_failures;
CREATE TABLE sign_in_attempts (
    id  BIGSERIAL PRIMARY KEY,
    key TEXT   NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX sign_in_attempts_key_at ON sign_in_attempts (key, at);
CREATE INDEX sign_in_attempts_at ON sign_in_attempts (at);

-- Values of imported orders that could not be used (the orders were kept).
ALTER TABLE import_jobs ADD COLUMN values_set_aside BIGINT NOT NULL DEFAULT 0;
