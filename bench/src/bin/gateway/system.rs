//! The system under measurement as people run it: the release `zayavki start` as a child process,
//! with application-service (one or more replicas) behind the HAProxy gateway, on a database and
//! a RabbitMQ virtual host of this run's own, every address a free loopback port, throttling off
//! at the edge and in the service. Its addresses and process ids come from the state file.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    str::FromStr,
    time::{Duration, Instant},
};

use anyhow::Context;
use rustix::process::{Pid, Signal, kill_process, test_kill_process};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, postgres::PgConnectOptions};
use tokio::process::{Child, Command};
use zayavki::{
    instance::{RunState, StateFile},
    start::READY_LINE,
};
use zayavki_identity::{IdentityConfig, Role, TokenMinter};
use zayavki_testkit::TestBroker;

/// Long enough for the services and HAProxy to start on a loaded machine.
const READY_PATIENCE: Duration = Duration::from_secs(150);
/// The services' own grace (`SHUTDOWN_GRACE_SECONDS` below) and the start command's margin.
const STOP_PATIENCE: Duration = Duration::from_secs(30);
const SHUTDOWN_GRACE_SECONDS: &str = "5";
const POLL: Duration = Duration::from_millis(100);
/// HAProxy checks a replica that is down every second and needs two passes.
const ROUTED_PATIENCE: Duration = Duration::from_secs(30);
/// Longer than any run, so no token expires halfway.
const TOKEN_LIFETIME: Duration = Duration::from_secs(6 * 3600);

/// Variables a developer's shell may hold that would change what `zayavki start` runs or how
/// much it logs; the benchmark sets its own or leaves the defaults.
const INHERITED_SETTINGS: &[&str] = &[
    "JWT_SECRET",
    "JWT_PUBLIC_KEY_FILE",
    "JWT_JWKS_FILE",
    "JWT_PRIVATE_KEY_FILE",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "ZAYAVKI_ENV",
    "ZAYAVKI_SERVICES",
    "ZAYAVKI_REPLICAS",
    "ZAYAVKI_BIN_DIR",
    "NOTIFIER_URL",
    "GATEWAY_EDGE_LIMIT",
    "GATEWAY_TLS_CERT",
    "TRUSTED_PROXIES",
    "RUST_LOG",
    "LOG_FORMAT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "RATE_LIMIT_PER_SECOND",
    "RATE_LIMIT_BURST",
];

/// Every listener, on a port the start command picks.
const LISTENERS: &[&str] = &[
    "APPLICATION_GRPC_ADDR",
    "APPLICATION_HTTP_ADDR",
    "PROCESS_GRPC_ADDR",
    "PROCESS_HTTP_ADDR",
    "REPORT_HTTP_ADDR",
    "NOTIFICATION_SINK_ADDR",
    "WEB_ADDR",
    "GATEWAY_ADDR",
    "GATEWAY_TLS_ADDR",
    "GATEWAY_STATS_ADDR",
];

/// What outlives each start: the database, the virtual host, the files and the key. Remove it
/// with [`RunResources::remove`]; the virtual host also goes when it is dropped.
pub struct RunResources {
    pub zayavki: PathBuf,
    pub database: RunDatabase,
    secret: String,
    minter: TokenMinter,
    files: tempfile::TempDir,
    broker: TestBroker,
}

impl RunResources {
    pub async fn create(zayavki: PathBuf) -> anyhow::Result<Self> {
        anyhow::ensure!(
            zayavki.is_file(),
            "{} is missing: run `cargo build --release -p zayavki -p application-service` first",
            zayavki.display()
        );
        let broker = TestBroker::fresh()
            .await
            .context("cannot create a RabbitMQ virtual host (is the management API on 15672?)")?;
        let (identity, key) = IdentityConfig::development();
        let minter = TokenMinter::new(&identity).context("cannot mint tokens")?;
        let files = tempfile::Builder::new()
            .prefix("zayavki-bench-gateway-")
            .tempdir()
            .context("cannot create the run's directory")?;
        Ok(Self {
            zayavki,
            database: RunDatabase::named_for_this_run()?,
            secret: key.expose_secret().to_owned(),
            minter,
            files,
            broker,
        })
    }

    /// A bearer token for `subject` with `roles`, signed with the run's key.
    pub fn token(&self, subject: &str, roles: &[Role]) -> anyhow::Result<String> {
        self.minter
            .mint(subject, Some(subject), roles, TOKEN_LIFETIME)
    }

    /// Drops the database; the virtual host and the files go with `self`.
    pub async fn remove(self) -> anyhow::Result<()> {
        self.database.drop_database().await
    }

    /// The environment of `zayavki start`, on top of this process's (minus
    /// [`INHERITED_SETTINGS`]).
    fn environment(&self) -> Vec<(String, String)> {
        let file = |name: &str| self.files.path().join(name).display().to_string();
        let mut environment: Vec<(String, String)> = [
            ("ZAYAVKI_SERVICES", "application,gateway".to_owned()),
            ("DATABASE_URL", self.database.url.clone()),
            ("AMQP_URL", self.broker.url()),
            ("JWT_SECRET", self.secret.clone()),
            ("GATEWAY_EDGE_LIMIT", "0".to_owned()),
            ("RATE_LIMIT_ENABLED", "false".to_owned()),
            ("ZAYAVKI_STATE_DIR", file("state")),
            ("SEARCH_INDEX_DIR", file("search-index")),
            ("SHUTDOWN_GRACE_SECONDS", SHUTDOWN_GRACE_SECONDS.to_owned()),
            (
                "ZAYAVKI_READY_TIMEOUT_SECONDS",
                READY_PATIENCE.as_secs().to_string(),
            ),
            ("NO_COLOR", "1".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        environment.extend(
            LISTENERS
                .iter()
                .map(|name| ((*name).to_owned(), "127.0.0.1:0".to_owned())),
        );
        environment
    }

    /// Runs `zayavki start --replicas <replicas>` and waits until it says it is ready. Its output
    /// (the gateway's access log among it) goes to files in the run's directory.
    pub async fn start(&self, replicas: usize) -> anyhow::Result<StartedSystem> {
        let started = Instant::now();
        let state_dir = self.files.path().join("state");
        std::fs::create_dir_all(&state_dir).context("cannot create the state directory")?;
        let stdout_path = self.files.path().join(format!("zayavki-{replicas}.out"));
        let stderr_path = self.files.path().join(format!("zayavki-{replicas}.err"));
        let stdout = std::fs::File::create(&stdout_path)?;
        let stderr = std::fs::File::create(&stderr_path)?;
        let mut command = Command::new(&self.zayavki);
        command
            .args(["start", "--replicas", &replicas.to_string()])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        for name in INHERITED_SETTINGS {
            command.env_remove(name);
        }
        command.envs(self.environment());
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.zayavki.display()))?;
        let pid = child.id().context("zayavki exited at once")?;
        let mut system = StartedSystem {
            child: Some(child),
            pid,
            replicas,
            state_file: StateFile::in_dir(&state_dir),
            stdout_path,
            stderr_path,
            state: None,
        };
        system.wait_until_ready().await?;
        system.wait_until_routed().await?;
        eprintln!(
            "zayavki start --replicas {replicas}: ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(system)
    }
}

/// application-service's database, named for this benchmark and the run; the service creates it
/// when it first starts.
pub struct RunDatabase {
    pub name: String,
    pub url: String,
    server: PgConnectOptions,
}

impl RunDatabase {
    fn named_for_this_run() -> anyhow::Result<Self> {
        // The server the tests use; `TEST_DATABASE_URL` overrides it.
        let server_url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let server = PgConnectOptions::from_str(&server_url)
            .context("TEST_DATABASE_URL is not a PostgreSQL URL")?;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("zayavki_bench_gateway_{}", &run[..12]);
        let url = server.clone().database(&name).to_url_lossy().to_string();
        Ok(Self { name, url, server })
    }

    async fn drop_database(&self) -> anyhow::Result<()> {
        let mut connection = PgConnection::connect_with(&self.server)
            .await
            .context("cannot reach PostgreSQL to drop the run's database")?;
        connection
            .execute(format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name).as_str())
            .await
            .with_context(|| format!("cannot drop database {}", self.name))?;
        Ok(())
    }
}

/// A running `zayavki start`. Stop it with [`StartedSystem::stop`]; dropping it instead stops it
/// the same way, blocking.
pub struct StartedSystem {
    child: Option<Child>,
    /// The start command's process id.
    pub pid: u32,
    pub replicas: usize,
    state_file: StateFile,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    /// The state recorded once every service was ready.
    state: Option<RunState>,
}

/// Where the benchmark sends its load.
#[derive(Clone, Copy, Debug)]
pub struct Addresses {
    pub gateway: SocketAddr,
    /// HAProxy's stats page.
    pub gateway_stats: SocketAddr,
    /// The first replica's REST and gRPC ports.
    pub application_http: SocketAddr,
    pub application_grpc: SocketAddr,
}

impl StartedSystem {
    async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_PATIENCE;
        loop {
            let printed = std::fs::read_to_string(&self.stdout_path).unwrap_or_default();
            if printed.lines().any(|line| line.starts_with(READY_LINE)) {
                break;
            }
            if printed.contains("but not ready yet") {
                anyhow::bail!(
                    "zayavki started, but not every service is ready{}",
                    self.tail()
                );
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                anyhow::bail!("zayavki exited with {status}{}", self.tail());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "zayavki did not say it was ready within {READY_PATIENCE:?}{}",
                self.tail()
            );
            tokio::time::sleep(POLL).await;
        }
        let state = self
            .state_file
            .read()
            .with_context(|| format!("no state recorded{}", self.tail()))?;
        self.state = Some(state);
        Ok(())
    }

    /// The start command is ready once each service answers its own readiness check; HAProxy
    /// may have checked a replica before it listened, and takes it into rotation only after two
    /// passing checks of its own. Waits until every application-service replica is UP in every
    /// backend on HAProxy's stats page.
    async fn wait_until_routed(&self) -> anyhow::Result<()> {
        let stats = self.addresses()?.gateway_stats;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + ROUTED_PATIENCE;
        let mut last = String::new();
        loop {
            if let Ok(answer) = client.get(format!("http://{stats}/stats;csv")).send().await
                && let Ok(csv) = answer.text().await
            {
                if replicas_up(&csv, self.replicas) {
                    return Ok(());
                }
                last = csv;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the gateway did not take every replica into rotation within \
                 {ROUTED_PATIENCE:?}; its stats:\n{last}{}",
                self.tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    fn state(&self) -> &RunState {
        self.state
            .as_ref()
            .expect("the state is read once the system is ready")
    }

    pub fn addresses(&self) -> anyhow::Result<Addresses> {
        let addresses = &self.state().addresses;
        let gateway = addresses.gateway.as_ref().context("the gateway runs")?;
        let application = addresses.application.context("application-service runs")?;
        Ok(Addresses {
            gateway: gateway.http,
            gateway_stats: gateway.stats,
            application_http: application.http,
            application_grpc: application.grpc,
        })
    }

    /// The process id of the service named `name` (`gateway`, `application-service`,
    /// `application-service-2`, …).
    pub fn service_pid(&self, name: &str) -> anyhow::Result<u32> {
        self.state()
            .service(name)
            .and_then(|service| service.pid)
            .with_context(|| format!("{name} runs"))
    }

    /// Every replica of application-service.
    pub fn application_pids(&self) -> anyhow::Result<Vec<u32>> {
        (1..=self.replicas)
            .map(|replica| match replica {
                1 => self.service_pid("application-service"),
                _ => self.service_pid(&format!("application-service-{replica}")),
            })
            .collect()
    }

    /// Everything the start command printed so far: its lines, the services' and the gateway's
    /// access log (`gateway … | {json}`).
    pub fn stdout_path(&self) -> &Path {
        &self.stdout_path
    }

    /// The end of what it printed, for error messages.
    fn tail(&self) -> String {
        let last = |path: &Path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        };
        format!(
            "\n--- zayavki stdout (end)\n{}\n--- zayavki stderr (end)\n{}",
            last(&self.stdout_path),
            last(&self.stderr_path)
        )
    }

    /// SIGTERM to the start command, which stops every service and the gateway, then waits for
    /// it; fails (after killing whatever is left) if it does not exit in time.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        send(self.pid, Signal::TERM);
        match tokio::time::timeout(STOP_PATIENCE, child.wait()).await {
            Ok(status) => {
                let status = status?;
                let survivors = self.kill_survivors();
                anyhow::ensure!(
                    survivors.is_empty(),
                    "services {survivors:?} outlived the start command and were killed"
                );
                anyhow::ensure!(status.success(), "zayavki exited with {status}");
                Ok(())
            }
            Err(_) => {
                send(self.pid, Signal::KILL);
                child.wait().await.ok();
                self.kill_survivors();
                anyhow::bail!("zayavki did not stop within {STOP_PATIENCE:?} of SIGTERM")
            }
        }
    }

    /// SIGKILL to every service process still alive; returns their names.
    fn kill_survivors(&self) -> Vec<String> {
        // The file has the latest process ids (a restarted service has a new one); it is gone
        // once the start command has exited cleanly.
        let Some(state) = self.state_file.read().or_else(|| self.state.clone()) else {
            return Vec::new();
        };
        state
            .services
            .iter()
            .filter_map(|service| service.pid.map(|pid| (&service.name, pid)))
            .filter(|(_, pid)| is_alive(*pid))
            .map(|(name, pid)| {
                send(pid, Signal::KILL);
                name.clone()
            })
            .collect()
    }
}

impl Drop for StartedSystem {
    /// A run that failed or was interrupted midway: the same stop, blocking.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            self.kill_survivors();
            return;
        }
        send(self.pid, Signal::TERM);
        let deadline = Instant::now() + STOP_PATIENCE;
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(POLL);
        }
        if matches!(child.try_wait(), Ok(None)) {
            send(self.pid, Signal::KILL);
        }
        self.kill_survivors();
    }
}

/// Whether HAProxy's stats (CSV: `pxname,svname,…,status,…`) show `replicas` servers UP in each
/// application-service backend (`rest_application…`, `grpc_application…`).
fn replicas_up(csv: &str, replicas: usize) -> bool {
    let mut header = csv
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',');
    let Some(status_column) = header.position(|column| column == "status") else {
        return false;
    };
    let mut up: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for line in csv.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (Some(proxy), Some(server), Some(status)) =
            (fields.first(), fields.get(1), fields.get(status_column))
        else {
            continue;
        };
        let application = ["rest_application", "grpc_application"]
            .iter()
            .any(|prefix| proxy.starts_with(prefix));
        if !application || *server == "BACKEND" || *server == "FRONTEND" {
            continue;
        }
        let count = up.entry(proxy).or_default();
        if *status == "UP" {
            *count += 1;
        }
    }
    !up.is_empty() && up.values().all(|count| *count == replicas)
}

/// Sends `signal` to `pid`, a process this benchmark started (directly or through zayavki).
fn send(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        // It may have exited already.
        kill_process(pid, signal).ok();
    }
}

/// Whether a process with this id exists (a reaped child does not).
fn is_alive(pid: u32) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|pid| test_kill_process(pid).is_ok())
}

/// Waits until `pids` together use less than a tenth of a core over half a second (background
/// search indexing after seeding, a new replica catching up), or `limit` passes.
pub async fn wait_until_quiet(pids: &[u32], limit: Duration) {
    const SAMPLE: Duration = Duration::from_millis(500);
    let ticks = || -> u64 {
        pids.iter()
            .filter_map(|pid| zayavki_bench::cpu::process_ticks(Some(*pid)))
            .sum()
    };
    let started = Instant::now();
    let mut previous = ticks();
    while started.elapsed() < limit {
        tokio::time::sleep(SAMPLE).await;
        let current = ticks();
        let busy = current.saturating_sub(previous) as f64
            / zayavki_bench::cpu::TICKS_PER_SECOND
            / SAMPLE.as_secs_f64();
        if busy < 0.10 {
            return;
        }
        previous = current;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns HAProxy 2.6 puts before `status`, shortened to what the parser reads.
    const HEADER: &str = "# pxname,svname,qcur,status,weight\n";

    #[test]
    fn every_replica_must_be_up_in_every_application_backend() {
        let one_down = format!(
            "{HEADER}rest_application,application-http-1,0,UP,1\n\
             rest_application,application-http-2,0,DOWN,1\n\
             rest_application,BACKEND,0,UP,1\n\
             grpc_application,application-grpc-1,0,UP,1\n\
             grpc_application,application-grpc-2,0,UP,1\n\
             reports,BACKEND,0,DOWN,0\n"
        );
        assert!(!replicas_up(&one_down, 2));
        assert!(!replicas_up(&one_down, 1));

        let all_up = one_down.replace("DOWN,1", "UP,1");
        assert!(replicas_up(&all_up, 2));
        assert!(!replicas_up(&all_up, 3));
        assert!(!replicas_up(HEADER, 1), "no application backend at all");
    }
}
