-- Campaigns and the planner's durable record (issue "Campaigns"). A decision is recorded
-- once per (campaign, order); a planned message once per (order, purpose), which the
-- unique index enforces even when several planners run at once.

CREATE TABLE campaigns (
    id          BIGSERIAL PRIMARY KEY,
    client_id   BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    brand_id    BIGINT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    template_id BIGINT NOT NULL REFERENCES templates (id),
    name        TEXT   NOT NULL,
    purpose     TEXT   NOT NULL,
    rules       TEXT   NOT NULL, -- JSON: trigger, audience, cap, send window, locales, weights
    state       TEXT   NOT NULL, -- draft | running | paused | halted | cancelled
    created_by  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX campaigns_client ON campaigns (client_id);

CREATE TABLE campaign_decisions (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    order_id    BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    outcome     TEXT   NOT NULL, -- send | exclude
    rule        TEXT   NOT NULL DEFAULT '', -- the exclusion's key
    detail      TEXT   NOT NULL DEFAULT '', -- the exclusion in words
    decided_at  BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, order_id)
);

-- The outbox the Delivery issue consumes: the exact approved version is recorded here.
CREATE TABLE messages (
    id                  BIGSERIAL PRIMARY KEY,
    client_id           BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    brand_id            BIGINT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    campaign_id         BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    order_id            BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    customer_id         BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    purpose             TEXT   NOT NULL,
    channel             TEXT   NOT NULL,
    template_version_id BIGINT NOT NULL REFERENCES template_versions (id),
    locale              TEXT   NOT NULL,
    variant             BIGINT NOT NULL DEFAULT 0,
    send_at             BIGINT NOT NULL,
    state               TEXT   NOT NULL, -- queued | sent | failed | cancelled
    created_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_order_purpose ON messages (order_id, purpose);
CREATE INDEX messages_brand_customer ON messages (brand_id, customer_id, send_at);
CREATE INDEX messages_campaign ON messages (campaign_id);
