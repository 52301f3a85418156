-- Every audit event is written with the operation it records, so each index on audit_events is
-- paid for on the hottest write path. Keep the two that serve the common queries (by target,
-- which also serves the failed-login count, and by time); filters by actor or action scan the
-- workspace's events in sequence order.
DROP INDEX audit_events_actor;
DROP INDEX audit_events_action;
