-- SQLite keeps campaign decisions in their primary key's B-tree from this migration on;
-- PostgreSQL's heap with its primary key index needs no change.
ANALYZE campaign_decisions;
