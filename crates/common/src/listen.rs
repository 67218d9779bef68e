//! Binding a service's ports with an error that names the port's purpose.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

/// Listens on `address`; `purpose` ("gRPC", "HTTP") says in the error which port is taken.
pub async fn listen(address: SocketAddr, purpose: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen for {purpose} on {address}"))
}
