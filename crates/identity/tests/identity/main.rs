//! Integration tests with real keys (see `tests/fixtures/README.md`).

mod environment;
mod grpc;
mod helpers;
mod http;
mod minter;
mod throttle;
mod verifier;
mod websocket;
