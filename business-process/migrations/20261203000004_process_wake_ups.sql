-- The driver's workers are woken in-process by the consumer that starts or cancels a process,
-- and go on by themselves from one step to the next; operators' decisions and deadlines send
-- `NOTIFY process_work` themselves. PostgreSQL serialises the commits of every transaction that
-- notifies (server-wide, WAL flush included), so the busy path carries no NOTIFY it can avoid.
DROP TRIGGER processes_with_work_notify ON processes;

-- Processes are announced (`<application id> <state>`) when they come to rest: waiting for an
-- operator or ended.
DROP TRIGGER processes_changed_notify ON processes;
CREATE TRIGGER processes_at_rest_notify AFTER INSERT OR UPDATE OF state ON processes
    FOR EACH ROW WHEN (NEW.state IN ('AWAITING_DECISION', 'COMPLETED', 'REJECTED', 'CANCELLED'))
    EXECUTE FUNCTION notify_process_changed();
