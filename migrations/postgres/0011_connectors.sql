-- Connectors: a client's store connected to its platform's API (Shopify, Amazon, eBay),
-- pulled on a schedule and, for Shopify, pushed by webhooks.

-- The delivery window the platform promised the buyer (review requests are timed by it).
ALTER TABLE orders ADD COLUMN earliest_delivery_at BIGINT;
ALTER TABLE orders ADD COLUMN latest_delivery_at BIGINT;

CREATE TABLE connections (
    id                BIGSERIAL PRIMARY KEY,
    client_id         BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    store_id          BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    platform          TEXT   NOT NULL, -- shopify | amazon | ebay
    account           TEXT   NOT NULL, -- shop domain, selling partner id, eBay user
    region            TEXT   NOT NULL DEFAULT '', -- Amazon: na | eu | fe
    marketplace_ids   TEXT   NOT NULL DEFAULT '', -- Amazon: comma-separated
    secret            TEXT   NOT NULL, -- credentials sealed with the server key (AEAD), base64; '' once disconnected
    state             TEXT   NOT NULL, -- pending | healthy | failing | needs_reauth | disconnected
    cursor_at         BIGINT NOT NULL DEFAULT 0, -- orders updated since then are pulled next (epoch ms)
    interval_secs     BIGINT NOT NULL DEFAULT 300,
    next_sync_at      BIGINT NOT NULL DEFAULT 0,
    lease_owner       TEXT   NOT NULL DEFAULT '',
    lease_until       BIGINT NOT NULL DEFAULT 0,
    failures          BIGINT NOT NULL DEFAULT 0, -- failed pulls in a row
    last_attempt_at   BIGINT,
    last_success_at   BIGINT,
    last_error        TEXT   NOT NULL DEFAULT '',
    received_day      BIGINT NOT NULL DEFAULT 0, -- the UTC day (epoch days) received_today counts
    received_today    BIGINT NOT NULL DEFAULT 0,
    rejected_total    BIGINT NOT NULL DEFAULT 0,
    token_expires_at  BIGINT, -- the cached access token's end
    reauthorize_by    BIGINT, -- Amazon: 365 days after authorization; eBay: the refresh token's end
    reauth_warned_at  BIGINT, -- when the account managers were told the authorization ends soon
    authorized_at     BIGINT NOT NULL,
    created_by        TEXT   NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX connections_store ON connections (store_id);
CREATE INDEX connections_client ON connections (client_id);
CREATE INDEX connections_due ON connections (next_sync_at);

-- Webhook deliveries already taken, by the platform's delivery id: a repeat changes nothing.
CREATE TABLE webhook_deliveries (
    connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    webhook_id    TEXT   NOT NULL,
    received_at   BIGINT NOT NULL,
    PRIMARY KEY (connection_id, webhook_id)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

-- A feed that stopped (no successful pull for too long, or authorization failing): one
-- open alert per connection, closed when the feed recovers.
CREATE TABLE connection_alerts (
    id            BIGSERIAL PRIMARY KEY,
    connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    client_id     BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    reason        TEXT   NOT NULL,
    opened_at     BIGINT NOT NULL,
    closed_at     BIGINT
);
CREATE UNIQUE INDEX connection_alerts_open ON connection_alerts (connection_id) WHERE closed_at IS NULL;
CREATE INDEX connection_alerts_client ON connection_alerts (client_id, opened_at);

-- OAuth authorizations under way: the state parameter sent to the platform, checked on return.
CREATE TABLE oauth_states (
    state      TEXT   PRIMARY KEY,
    store_id   BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    platform   TEXT   NOT NULL,
    account    TEXT   NOT NULL, -- the shop domain asked for (Shopify), the region (Amazon)
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
