//! Integration tests: each test starts the service in-process on free ports against its own
//! fresh PostgreSQL database and talks to it through real clients.

mod auth_grpc;
mod auth_rest;
mod batch_create;
mod cancel;
mod create;
mod events;
mod export;
mod get;
mod grpc_surface;
mod grpcurl;
mod helpers;
mod lifecycle;
mod list;
mod metrics;
mod rest_batch;
mod rest_cancel;
mod rest_create;
mod rest_helpers;
mod rest_read;
mod rest_search;
mod rest_stats;
mod rest_surface;
mod search;
mod throttle_grpc;
mod trace_context;
