//! A TCP proxy a test owns, to cut the connections between a service and what it talks to.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// Forwards every connection accepted on a loopback port to `target`. [`TcpProxy::cut`] closes
/// every open connection and refuses new ones until [`TcpProxy::restore`];
/// [`TcpProxy::freeze`] keeps them open and stops carrying bytes either way, like a network
/// that drops packets instead of resetting connections.
pub struct TcpProxy {
    address: SocketAddr,
    open: Arc<AtomicBool>,
    /// Bumped at every cut; each forwarded connection ends when it changes.
    generation: watch::Sender<u64>,
    /// Bumped at every freeze; each forwarded connection stops forwarding when it changes.
    frozen: watch::Sender<u64>,
    accepted: Arc<AtomicU64>,
    acceptor: JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let open = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0_u64);
        let (frozen, _) = watch::channel(0_u64);
        let accepted = Arc::new(AtomicU64::new(0));
        let acceptor = tokio::spawn(accept(
            listener,
            target,
            open.clone(),
            generation.clone(),
            frozen.clone(),
            accepted.clone(),
        ));
        Ok(Self {
            address,
            open,
            generation,
            frozen,
            accepted,
            acceptor,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Connections forwarded so far.
    pub fn connections_accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.send_modify(|generation| *generation += 1);
    }

    /// Stops carrying bytes on every open connection while keeping it open (until a cut or
    /// the proxy's end): neither side hears from the other again, and neither is told.
    pub fn freeze(&self) {
        self.frozen.send_modify(|generation| *generation += 1);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.acceptor.abort();
    }
}

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    open: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    frozen: watch::Sender<u64>,
    accepted: Arc<AtomicU64>,
) {
    while let Ok((client, _)) = listener.accept().await {
        if !open.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        accepted.fetch_add(1, Ordering::SeqCst);
        let mut cuts = generation.subscribe();
        let mut freezes = frozen.subscribe();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(target).await else {
                return;
            };
            let mut client = client;
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = cuts.changed() => {}
                _ = freezes.changed() => {
                    // Both sockets stay open, carrying nothing, until a cut.
                    drop(cuts.changed().await);
                }
            }
        });
    }
}
