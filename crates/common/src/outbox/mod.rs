//! The transactional outbox: messages are written in the same transaction as the change that
//! causes them, and a relay publishes them to RabbitMQ afterwards, in commit order, with
//! confirms. A change is never published without being committed, and never committed without
//! being published eventually.
//!
//! A service that uses it has these tables (in its own migrations, exactly so):
//!
//! ```sql
//! CREATE TABLE outbox (
//!     id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
//!     message_id  uuid        NOT NULL,
//!     exchange    text        NOT NULL,
//!     routing_key text        NOT NULL,
//!     body        json        NOT NULL,
//!     traceparent text,
//!     occurred_at timestamptz NOT NULL,
//!     change_xid  xid8        NOT NULL DEFAULT pg_current_xact_id()
//! );
//! CREATE INDEX outbox_in_commit_order ON outbox (change_xid, id);
//! CREATE TABLE outbox_relay (…);  -- one row: the position published up to
//! ```
//!
//! plus a statement trigger that sends `NOTIFY outbox` (see application-service's migrations).

mod relay;
mod store;

pub use relay::{Relay, RelayHandle, RelaySettings, RelayStats};
pub use store::{NOTIFY_CHANNEL, insert_all};
