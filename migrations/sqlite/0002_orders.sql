-- Orders in: customers per brand, orders per store (one row per platform order, upserted
-- by (store, platform order id)), their status history, consents, suppression lists,
-- import jobs with their rejected rows, saved column mappings and ingest API keys.

ALTER TABLE clients ADD COLUMN retention_months BIGINT NOT NULL DEFAULT 0; -- 0 = keep

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    client_id   BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    brand_id    BIGINT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    email       TEXT   NOT NULL DEFAULT '', -- trimmed, lower-cased; '' when unknown
    phone       TEXT   NOT NULL DEFAULT '', -- E.164; '' when unknown
    name        TEXT   NOT NULL DEFAULT '',
    country     TEXT   NOT NULL DEFAULT '',
    locale      TEXT   NOT NULL DEFAULT '',
    erased_at   BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX customers_brand_email ON customers (brand_id, email) WHERE email <> '';
CREATE UNIQUE INDEX customers_brand_phone ON customers (brand_id, phone) WHERE email = '' AND phone <> '';

CREATE TABLE consents (
    id          INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel     TEXT   NOT NULL, -- email | sms
    source      TEXT   NOT NULL, -- where the consent was recorded (export column, API, …)
    given_at    BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX consents_once ON consents (customer_id, channel, source);

CREATE TABLE orders (
    id                INTEGER PRIMARY KEY,
    client_id         BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    brand_id          BIGINT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    store_id          BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    platform_order_id TEXT   NOT NULL,
    customer_id       BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    placed_at         BIGINT NOT NULL,
    status            TEXT   NOT NULL,
    status_at         BIGINT NOT NULL, -- when the status was reached (file's date, else import time)
    buyer_name        TEXT   NOT NULL DEFAULT '',
    buyer_email       TEXT   NOT NULL DEFAULT '',
    buyer_phone       TEXT   NOT NULL DEFAULT '',
    country           TEXT   NOT NULL DEFAULT '',
    marketplace       TEXT   NOT NULL DEFAULT '',
    currency          TEXT   NOT NULL DEFAULT '',
    total_minor       BIGINT,
    items             TEXT   NOT NULL, -- JSON array of line items
    source            TEXT   NOT NULL, -- import:<job id> | api
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX orders_store_platform_id ON orders (store_id, platform_order_id);
CREATE INDEX orders_client_placed ON orders (client_id, placed_at);
CREATE INDEX orders_customer ON orders (customer_id);

CREATE TABLE order_status_history (
    id          INTEGER PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status TEXT   NOT NULL,
    to_status   TEXT   NOT NULL,
    reached_at  BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    source      TEXT   NOT NULL
);
CREATE INDEX order_status_history_order ON order_status_history (order_id);

-- Suppression: brand_id NULL = agency-wide. value_hash is an HMAC of the normalised
-- address under the installation's salt (settings 'suppression_salt'), so an erased
-- buyer's address is matched without being kept; value holds the address itself for
-- every other reason ('' once erased).
CREATE TABLE suppressions (
    id          INTEGER PRIMARY KEY,
    client_id   BIGINT REFERENCES clients (id) ON DELETE CASCADE,
    brand_id    BIGINT REFERENCES brands (id) ON DELETE CASCADE,
    value       TEXT   NOT NULL,
    value_hash  TEXT   NOT NULL,
    reason      TEXT   NOT NULL, -- unsubscribed | hard_bounce | complaint | manual | erased
    note        TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    created_by  TEXT   NOT NULL
);
CREATE UNIQUE INDEX suppressions_scope_hash ON suppressions (COALESCE(brand_id, 0), value_hash);
CREATE INDEX suppressions_client ON suppressions (client_id);
CREATE INDEX suppressions_hash ON suppressions (value_hash);
CREATE INDEX suppressions_erased ON suppressions (brand_id) WHERE reason = 'erased';

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE import_jobs (
    id               INTEGER PRIMARY KEY,
    client_id        BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    store_id         BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    file_name        TEXT   NOT NULL,
    size_bytes       BIGINT NOT NULL,
    layout           TEXT   NOT NULL DEFAULT '',
    encoding         TEXT   NOT NULL DEFAULT '',
    state            TEXT   NOT NULL, -- uploaded | needs_mapping | queued | running | done | failed
    bytes_read       BIGINT NOT NULL DEFAULT 0,
    rows_read        BIGINT NOT NULL DEFAULT 0,
    orders_new       BIGINT NOT NULL DEFAULT 0,
    orders_updated   BIGINT NOT NULL DEFAULT 0,
    orders_unchanged BIGINT NOT NULL DEFAULT 0,
    rows_rejected    BIGINT NOT NULL DEFAULT 0,
    message          TEXT   NOT NULL DEFAULT '',
    created_by       TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    heartbeat_at     BIGINT,
    finished_at      BIGINT
);
CREATE INDEX import_jobs_client ON import_jobs (client_id, created_at);
CREATE INDEX import_jobs_state ON import_jobs (state);

CREATE TABLE import_rejects (
    id      INTEGER PRIMARY KEY,
    job_id  BIGINT NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line    BIGINT NOT NULL,
    field   TEXT   NOT NULL,
    reason  TEXT   NOT NULL
);
CREATE INDEX import_rejects_job ON import_rejects (job_id, line);

CREATE TABLE column_mappings (
    store_id   BIGINT PRIMARY KEY REFERENCES stores (id) ON DELETE CASCADE,
    mapping    TEXT   NOT NULL, -- JSON: Starling field -> header
    updated_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    client_id    BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    store_id     BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    label        TEXT   NOT NULL,
    prefix       TEXT   NOT NULL, -- first characters, shown so keys can be told apart
    key_hash     TEXT   NOT NULL, -- SHA-256 of the whole key
    created_by   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE INDEX api_keys_store ON api_keys (store_id);
