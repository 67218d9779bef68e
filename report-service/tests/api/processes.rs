//! What a test needs to make a worker die mid-build: the report-service binary as a child
//! process (killed with SIGKILL), and a proxy that lets application-service's answers through
//! slowly, so a build is still streaming when the process dies.

use std::{net::SocketAddr, path::Path, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    process::{Child, Command},
    task::JoinHandle,
};

use crate::helpers::{TEST_SECRET, TestSystem};

/// Forwards connections to `target`, passing the answers at about `bytes_per_second`.
pub struct SlowProxy {
    address: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl SlowProxy {
    pub async fn start(target: SocketAddr, bytes_per_second: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("an address");
        let acceptor = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, target, bytes_per_second));
            }
        });
        Self { address, acceptor }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn forward(client: TcpStream, target: SocketAddr, bytes_per_second: usize) {
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let (mut client_reads, mut client_writes) = client.into_split();
    let (mut server_reads, mut server_writes) = server.into_split();
    let upstream = async {
        tokio::io::copy(&mut client_reads, &mut server_writes)
            .await
            .ok();
    };
    // Answers pass in slices of a tenth of the rate, a tenth of a second apart.
    let downstream = async {
        let slice = (bytes_per_second / 10).max(1);
        let mut buffer = vec![0_u8; slice];
        loop {
            match server_reads.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    if client_writes.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    tokio::join!(upstream, downstream);
}

/// Starts the report-service binary on the test's database, broker and file directory,
/// calling application-service at `application_service`.
pub fn spawn_binary(system: &TestSystem, application_service: SocketAddr) -> Child {
    let files: &Path = system.files.path();
    let mut command = Command::new(env!("CARGO_BIN_EXE_report-service"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("REPORT_DATABASE_URL", system.reports_database.url())
        .env("REPORT_HTTP_ADDR", "127.0.0.1:0")
        .env(
            "APPLICATION_SERVICE_URL",
            format!("http://{application_service}"),
        )
        .env("AMQP_URL", system.broker.url())
        .env("JWT_SECRET", TEST_SECRET)
        .env("REPORT_STORAGE", files.join("reports"))
        .env("REPORT_WORK_DIR", files.join("work"))
        .env("REPORT_PREFETCH", "1")
        .env("RATE_LIMIT_ENABLED", "false")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if std::env::var_os("TEST_LOG").is_some() {
        command.env("RUST_LOG", "info");
    } else {
        command.stdout(Stdio::null()).stderr(Stdio::null());
    }
    command.spawn().expect("the report-service binary starts")
}
