-- The W3C trace context of what last started or advanced each process (an application event, an
-- operator's decision, a step of the driver), so its next step continues that trace.
ALTER TABLE processes ADD COLUMN traceparent text;
