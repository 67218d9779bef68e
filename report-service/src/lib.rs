//! report-service: the worker that consumes report jobs from RabbitMQ, builds the reports,
//! stores them for download, and pushes report and application events to browsers over
//! WebSocket.
//!
//! - `worker/` consumes `reports.jobs` (competing consumers, manual acks), claims each report
//!   in PostgreSQL, retries passing failures through the delay queues and dead-letters the rest;
//! - `build/` streams the rows from application-service (`clients/`) into a CSV, JSON or XLSX
//!   file with bounded memory; `content/` keeps the files (a directory or S3);
//! - `storage/` holds the report rows and the outbox; `event_log/` the durable log that the
//!   WebSocket (`ws/`) follows;
//! - `http/` serves the report listing, the downloads (`download/` signs their URLs), the
//!   probes and the metrics.

pub mod build;
pub mod clients;
pub mod config;
pub mod content;
pub mod domain;
pub mod download;
pub mod event_log;
pub mod http;
pub mod startup;
pub mod state;
pub mod storage;
pub mod worker;
pub mod ws;
