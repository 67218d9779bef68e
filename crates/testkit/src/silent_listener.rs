//! A TCP listener that accepts connections and never says anything: a broker on a half-dead
//! host, or behind a route that swallows replies.

use std::net::SocketAddr;

use tokio::{net::TcpListener, task::JoinHandle};

/// Accepts on a free loopback port and holds every connection open, silent, until dropped.
pub struct SilentListener {
    address: SocketAddr,
    holder: JoinHandle<()>,
}

impl SilentListener {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let holder = tokio::spawn(async move {
            let mut connections = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                connections.push(connection);
            }
        });
        Ok(Self { address, holder })
    }

    /// An AMQP URL pointing at it.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.address)
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.holder.abort();
    }
}
