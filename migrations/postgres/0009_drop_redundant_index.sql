-- messages_campaign (campaign_id) is a prefix of messages_campaign_state (campaign_id,
-- state), which serves every lookup by campaign: the narrower index only cost a B-tree
-- write per planned message and per state change.
DROP INDEX messages_campaign;
