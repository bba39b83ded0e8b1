-- Canary rollouts, A/B winners and message events (issue "Campaigns"; the Delivery issue
-- writes the events). A canary campaign plans its canary share as `queued` and the rest as
-- `held` until the canary passes; `halt_reason` says which threshold stopped it.

ALTER TABLE campaigns ADD COLUMN phase TEXT NOT NULL DEFAULT 'full'; -- canary | full
ALTER TABLE campaigns ADD COLUMN halt_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN winner BIGINT; -- the A/B variant declared the winner, once
ALTER TABLE campaigns ADD COLUMN winner_at BIGINT;
-- Rates are judged over messages sent from here on (moved forward when a halted campaign
-- is resumed: the breach was seen and accepted).
ALTER TABLE campaigns ADD COLUMN monitor_from BIGINT NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN canary BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN sent_at BIGINT;
CREATE INDEX messages_campaign_state ON messages (campaign_id, state);
CREATE INDEX messages_state_send_at ON messages (state, send_at);

-- What happened to a message: sent, bounced, complained, unsubscribed, opened, clicked.
-- `source` identifies the report an event came from (a webhook's DSN, a click's token…):
-- replaying it changes nothing.
CREATE TABLE message_events (
    id         BIGSERIAL PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    kind       TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    detail     TEXT   NOT NULL DEFAULT '',
    source     TEXT   NOT NULL
);
CREATE UNIQUE INDEX message_events_source ON message_events (message_id, kind, source);
CREATE INDEX message_events_kind ON message_events (kind, at);
