-- The planner writes a decision per (campaign, order), hundreds of thousands per pass on a
-- large brand: kept in the primary key's own B-tree (WITHOUT ROWID), each is one insert
-- instead of a table row plus an index entry.
CREATE TABLE campaign_decisions_clustered (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    order_id    BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    outcome     TEXT   NOT NULL,
    rule        TEXT   NOT NULL DEFAULT '',
    detail      TEXT   NOT NULL DEFAULT '',
    decided_at  BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, order_id)
) WITHOUT ROWID;
INSERT INTO campaign_decisions_clustered SELECT campaign_id, order_id, outcome, rule, detail, decided_at FROM campaign_decisions;
DROP TABLE campaign_decisions;
ALTER TABLE campaign_decisions_clustered RENAME TO campaign_decisions;
