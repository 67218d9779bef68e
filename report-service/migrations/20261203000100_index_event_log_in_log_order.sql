-- Readers follow the event log in (xid, id) order from any position: the replicas' followers,
-- each reconnecting WebSocket's replay, and the pruning of the oldest rows.
CREATE INDEX event_log_in_log_order ON event_log (xid, id);
