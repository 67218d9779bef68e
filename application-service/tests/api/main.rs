//! Integration tests: each test starts the service in-process on free ports against its own
//! fresh PostgreSQL database and talks to it through real clients.

mod auth_grpc;
mod batch_create;
mod cancel;
mod create;
mod get;
mod grpc_surface;
mod grpcurl;
mod helpers;
mod lifecycle;
mod throttle_grpc;
mod list;
mod search;
