-- Amazon's "Request a Review" (the Solicitations API) as a campaign channel. Such a
-- campaign has no template (Amazon writes and translates the message), and its messages
-- have no template version and, since Amazon hides its buyers, often no buyer record.
ALTER TABLE campaigns ALTER COLUMN template_id DROP NOT NULL;
ALTER TABLE campaigns ADD COLUMN channel TEXT NOT NULL DEFAULT 'email'; -- email | amazon
ALTER TABLE messages ALTER COLUMN template_version_id DROP NOT NULL;
ALTER TABLE messages ALTER COLUMN customer_id DROP NOT NULL;
-- 1 on an Amazon order: Amazon allows one proactive contact per order in all, by e-mail
-- or by its own request, whatever the purpose.
ALTER TABLE messages ADD COLUMN one_per_order BIGINT NOT NULL DEFAULT 0;
-- The first message of each Amazon order holds its one contact (older databases may hold
-- more than one; those stay as they were).
UPDATE messages SET one_per_order = 1 WHERE id IN (
    SELECT MIN(m.id) FROM messages m JOIN orders o ON o.id = m.order_id JOIN stores s ON s.id = o.store_id
    WHERE s.platform = 'amazon' GROUP BY m.order_id);
CREATE UNIQUE INDEX messages_one_per_order ON messages (order_id) WHERE one_per_order = 1;

-- Token buckets shared by every process on the database: a platform's rate limit per
-- (seller, operation), e.g. the Solicitations API's 1 request/s with a burst of 5.
CREATE TABLE rate_buckets (
    bucket     TEXT   PRIMARY KEY, -- e.g. amazon:<selling partner>:createProductReviewAndSellerFeedbackSolicitation
    tokens     DOUBLE PRECISION NOT NULL,
    rate       DOUBLE PRECISION NOT NULL, -- tokens per second
    burst      DOUBLE PRECISION NOT NULL,
    updated_at BIGINT NOT NULL -- epoch ms of the last take
);
