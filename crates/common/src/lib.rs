//! Pieces every zayavki service needs in the same shape: reading configuration from the
//! environment, structured logs, graceful shutdown, error codes that mean the same on gRPC and
//! REST, opaque page tokens, and PostgreSQL connection helpers.

pub mod amqp;
pub mod binary_copy;
pub mod config;
pub mod cors;
pub mod database;
pub mod error_code;
pub mod fallback;
pub mod listen;
pub mod metrics;
pub mod money;
pub mod outbox;
pub mod page_token;
pub mod problem;
pub mod report;
pub mod shutdown;
pub mod telemetry;
pub mod validation;

pub use error_code::ErrorCode;
