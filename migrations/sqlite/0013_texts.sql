-- Texts: SMS as a campaign channel beside e-mail. A template version gains its SMS part
-- (approved with the rest of the version); a brand its SMS sender (an alphanumeric sender
-- ID or a number) and a number for where sender IDs are not allowed; the consent ledger the scope and the words the buyer agreed to; a
-- message the provider's id for it, its parts and what it cost; a client's contract its
-- price per 1,000 messages of each channel.
ALTER TABLE template_versions ADD COLUMN sms_body TEXT NOT NULL DEFAULT '';
ALTER TABLE brands ADD COLUMN sms_sender TEXT NOT NULL DEFAULT '';  -- a sender ID or a number
ALTER TABLE brands ADD COLUMN sms_number TEXT NOT NULL DEFAULT '';  -- where sender IDs are not allowed, and for replies
ALTER TABLE consents ADD COLUMN scope TEXT NOT NULL DEFAULT 'marketing'; -- marketing | service
ALTER TABLE consents ADD COLUMN wording TEXT NOT NULL DEFAULT '';        -- what the buyer was shown
ALTER TABLE messages ADD COLUMN provider_ref TEXT;                       -- e.g. Twilio's message SID
ALTER TABLE messages ADD COLUMN segments BIGINT;
ALTER TABLE messages ADD COLUMN cost_micros BIGINT;                      -- millionths of cost_currency
ALTER TABLE messages ADD COLUMN cost_currency TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN cost_source TEXT NOT NULL DEFAULT '';    -- provider | contract
ALTER TABLE messages ADD COLUMN price_checked_at BIGINT;                  -- last time the provider was asked for the price
CREATE UNIQUE INDEX messages_provider_ref ON messages (provider_ref) WHERE provider_ref IS NOT NULL;

CREATE TABLE channel_prices (
    client_id           BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    channel             TEXT   NOT NULL, -- email | sms | amazon
    per_thousand_micros BIGINT NOT NULL,
    currency            TEXT   NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (client_id, channel)
);
