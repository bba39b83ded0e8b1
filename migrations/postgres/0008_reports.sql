-- Reports, reviews, alerts and SLA (issue "Reports"). Reviews are attributed to the
-- message that asked for them; a 1-3 star review opens one alert; SLA breaches are
-- stored once, when they happen, with their evidence.

CREATE TABLE reviews (
    id                BIGSERIAL PRIMARY KEY,
    client_id         BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    brand_id          BIGINT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    store_id          BIGINT REFERENCES stores (id) ON DELETE SET NULL,
    order_id          BIGINT REFERENCES orders (id) ON DELETE SET NULL,
    customer_id       BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    message_id        BIGINT REFERENCES messages (id) ON DELETE SET NULL, -- the request it answers
    source_key        TEXT   NOT NULL, -- the platform's review id, or a digest of the review
    platform_order_id TEXT   NOT NULL DEFAULT '',
    rating            BIGINT NOT NULL,
    title             TEXT   NOT NULL DEFAULT '',
    body              TEXT   NOT NULL DEFAULT '',
    author            TEXT   NOT NULL DEFAULT '',
    reviewed_at       BIGINT NOT NULL,
    received_at       BIGINT NOT NULL,
    via               TEXT   NOT NULL -- import | api
);
CREATE UNIQUE INDEX reviews_source ON reviews (brand_id, source_key);
CREATE INDEX reviews_client ON reviews (client_id, reviewed_at);
CREATE INDEX reviews_message ON reviews (message_id);

CREATE TABLE alerts (
    id           BIGSERIAL PRIMARY KEY,
    client_id    BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    brand_id     BIGINT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    review_id    BIGINT NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    owner_id     BIGINT REFERENCES users (id) ON DELETE SET NULL,
    status       TEXT   NOT NULL, -- open | responded | resolved
    opened_at    BIGINT NOT NULL,
    responded_at BIGINT,
    resolved_at  BIGINT,
    note         TEXT   NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX alerts_review ON alerts (review_id);
CREATE INDEX alerts_client ON alerts (client_id, status);

CREATE TABLE sla_contracts (
    client_id             BIGINT PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    min_delivery_rate_bp  BIGINT NOT NULL, -- basis points: 9500 = 95.00 %
    unsubscribe_hours     BIGINT NOT NULL,
    review_response_hours BIGINT NOT NULL,
    approval_hours        BIGINT NOT NULL,
    launch_grace_hours    BIGINT NOT NULL,
    attribution_days      BIGINT NOT NULL, -- a review answers a request sent at most this long before
    updated_at            BIGINT NOT NULL,
    updated_by            TEXT   NOT NULL
);

CREATE TABLE sla_breaches (
    id          BIGSERIAL PRIMARY KEY,
    client_id   BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    rule        TEXT   NOT NULL, -- delivery_rate | unsubscribe | review_response | approval | launch
    subject     TEXT   NOT NULL, -- what breached, once: "2026-11-30", "alert 12", "version 4", …
    measured    TEXT   NOT NULL,
    target      TEXT   NOT NULL,
    evidence    TEXT   NOT NULL, -- JSON: [{"label": …, "href": …}]
    happened_at BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sla_breaches_subject ON sla_breaches (client_id, rule, subject);

-- Reports read a client's messages by send time.
CREATE INDEX messages_client_sent ON messages (client_id, sent_at);

-- Unsubscribes: when the request was processed (the event's `at` is when it was made).
ALTER TABLE message_events ADD COLUMN processed_at BIGINT;
-- "Launched on schedule": the launch the account manager planned, and the real one.
ALTER TABLE campaigns ADD COLUMN scheduled_at BIGINT;
ALTER TABLE campaigns ADD COLUMN launched_at BIGINT;

-- The monthly report e-mail, once per client and month.
CREATE TABLE report_mailings (
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    month     TEXT   NOT NULL, -- 2026-11
    sent_at   BIGINT NOT NULL,
    PRIMARY KEY (client_id, month)
);
