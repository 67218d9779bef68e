//! The start command as people run it: the real `zayavki` binary, started as a child process of
//! the test, which starts the services' own binaries as its children. Each system gets fresh
//! databases, a RabbitMQ virtual host, a state directory and files of its own, listens on free
//! loopback ports (port 0 everywhere: the start command claims concrete ports and records them),
//! and has no JWT key, so the start command generates one and prints tokens for it.
//!
//! The services' binaries are found where cargo put `zayavki` (`target/<profile>/`). Cargo
//! builds a test's own package's binaries, not those of its dependencies, so they are built
//! first: `cargo build -p application-service -p business-process -p report-service` (as
//! scripts/test-all does).

use std::{
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use rustix::process::{Pid, Signal, kill_process, test_kill_process};
use tempfile::TempDir;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::watch,
};
use tonic::{Request, transport::Channel};
use zayavki::{
    instance::{RunState, StateFile},
    start::READY_LINE,
};
use zayavki_testkit::{TestBroker, TestDatabase};

/// Long enough for four processes starting on a loaded machine; tests end as soon as what they
/// wait for happens.
pub const PATIENCE: Duration = Duration::from_secs(120);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const SERVICE_BINARIES: [&str; 3] = ["application-service", "business-process", "report-service"];

/// Variables a developer's shell may hold that would change what the tests start.
const INHERITED_SETTINGS: [&str; 17] = [
    "JWT_SECRET",
    "JWT_PUBLIC_KEY_FILE",
    "JWT_JWKS_FILE",
    "JWT_PRIVATE_KEY_FILE",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "ZAYAVKI_ENV",
    "ZAYAVKI_SERVICES",
    "ZAYAVKI_BIN_DIR",
    "NOTIFIER_URL",
    "RABBITMQ_MANAGEMENT_URL",
    "LOG_FORMAT",
    "ZAYAVKI_REPLICAS",
    "GATEWAY_EDGE_LIMIT",
    "GATEWAY_TLS_CERT",
    "TRUSTED_PROXIES",
    "WEB_DIR",
];

/// The `zayavki` binary under test.
pub fn zayavki() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_zayavki"))
}

/// A system started by `zayavki start`, ready; stopped (killed) when dropped if a test did not
/// stop it.
pub struct StartedSystem {
    process: Option<Child>,
    /// The start command's process id.
    pub pid: u32,
    pub stdout: Lines,
    pub stderr: Lines,
    /// The environment it was started with (a second start reuses it).
    pub env: Vec<(String, String)>,
    pub state_dir: PathBuf,
    // Dropped after the processes: the databases, the virtual host and the files outlive them.
    _files: TempDir,
    broker: TestBroker,
    _databases: [TestDatabase; 3],
}

/// Starts every service.
pub async fn start_system() -> StartedSystem {
    start_system_with(&[]).await
}

/// Starts the system with `settings` on top of the test's own, and waits until it says it is
/// ready.
pub async fn start_system_with(settings: &[(&str, &str)]) -> StartedSystem {
    start_system_reaching_broker(settings, TestBroker::url).await
}

/// Like [`start_system_with`], with `AMQP_URL` made from the test's virtual host by `amqp_url`
/// (e.g. through a proxy the test owns).
pub async fn start_system_reaching_broker(
    settings: &[(&str, &str)],
    amqp_url: impl FnOnce(&TestBroker) -> String,
) -> StartedSystem {
    zayavki_testkit::init_test_logs();
    require_service_binaries();
    let broker = TestBroker::fresh().await.expect("test vhost");
    let databases = [
        TestDatabase::fresh(),
        TestDatabase::fresh(),
        TestDatabase::fresh(),
    ];
    let files = tempfile::tempdir().expect("temporary directory");
    let state_dir = files.path().join("state");
    let file = |name: &str| files.path().join(name).display().to_string();
    let mut env: Vec<(String, String)> = [
        ("DATABASE_URL", databases[0].url().to_owned()),
        ("PROCESS_DATABASE_URL", databases[1].url().to_owned()),
        ("REPORT_DATABASE_URL", databases[2].url().to_owned()),
        ("AMQP_URL", amqp_url(&broker)),
        ("ZAYAVKI_STATE_DIR", state_dir.display().to_string()),
        ("SEARCH_INDEX_DIR", file("search-index")),
        ("REPORT_STORAGE", file("reports")),
        (
            "REPORT_WORK_DIR",
            std::env::temp_dir().display().to_string(),
        ),
        (
            "ZAYAVKI_READY_TIMEOUT_SECONDS",
            PATIENCE.as_secs().to_string(),
        ),
        ("SHUTDOWN_GRACE_SECONDS", "5".to_owned()),
        ("NO_COLOR", "1".to_owned()),
        ("APPLICATION_GRPC_ADDR", "127.0.0.1:0".to_owned()),
        ("APPLICATION_HTTP_ADDR", "127.0.0.1:0".to_owned()),
        ("PROCESS_GRPC_ADDR", "127.0.0.1:0".to_owned()),
        ("PROCESS_HTTP_ADDR", "127.0.0.1:0".to_owned()),
        ("REPORT_HTTP_ADDR", "127.0.0.1:0".to_owned()),
        ("NOTIFICATION_SINK_ADDR", "127.0.0.1:0".to_owned()),
        ("WEB_ADDR", "127.0.0.1:0".to_owned()),
        ("WEB_DIR", file("web")),
        ("GATEWAY_ADDR", "127.0.0.1:0".to_owned()),
        ("GATEWAY_TLS_ADDR", "127.0.0.1:0".to_owned()),
        ("GATEWAY_STATS_ADDR", "127.0.0.1:0".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    for (name, value) in settings {
        env.retain(|(set, _)| set != name);
        env.push(((*name).to_owned(), (*value).to_owned()));
    }

    let mut process = start_command(&env)
        .kill_on_drop(true)
        .spawn()
        .expect("zayavki starts");
    let pid = process.id().expect("a running process");
    let stdout = Lines::follow(process.stdout.take().expect("piped stdout"), "stdout");
    let stderr = Lines::follow(process.stderr.take().expect("piped stderr"), "stderr");
    let system = StartedSystem {
        process: Some(process),
        pid,
        stdout,
        stderr,
        env,
        state_dir,
        _files: files,
        broker,
        _databases: databases,
    };
    let ready = system
        .stdout
        .wait_for(|line| line.starts_with(READY_LINE))
        .await;
    assert!(
        ready.is_some(),
        "zayavki did not say it was ready within {PATIENCE:?}\n{}",
        system.transcript()
    );
    system
}

/// `zayavki start` with `env` on top of the test's environment, its output piped.
pub fn start_command(env: &[(String, String)]) -> Command {
    let mut command = Command::new(zayavki());
    command
        .arg("start")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in INHERITED_SETTINGS {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(name, value)| (name, value)));
    command
}

fn require_service_binaries() {
    let dir = zayavki().parent().expect("zayavki is in a directory");
    let missing: Vec<&str> = SERVICE_BINARIES
        .into_iter()
        .filter(|binary| !dir.join(binary).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{missing:?} not found in {}: build them first with \
         `cargo build -p application-service -p business-process -p report-service`",
        dir.display()
    );
}

impl StartedSystem {
    /// The test's RabbitMQ virtual host.
    pub fn broker(&self) -> &TestBroker {
        &self.broker
    }

    /// The value of `name` in the environment it was started with.
    pub fn setting(&self, name: &str) -> &str {
        self.env
            .iter()
            .find(|(set, _)| set == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("{name} is set"))
    }

    /// The state the start command records now.
    pub fn state(&self) -> RunState {
        StateFile::in_dir(&self.state_dir)
            .read()
            .unwrap_or_else(|| panic!("no state recorded\n{}", self.transcript()))
    }

    /// The process id of `service`, which runs.
    pub fn service_pid(&self, service: &str) -> u32 {
        self.state()
            .service(service)
            .and_then(|service| service.pid)
            .unwrap_or_else(|| panic!("{service} runs"))
    }

    /// Reads the recorded state until `done` holds, for at most [`PATIENCE`].
    pub async fn wait_for_state(&self, what: &str, done: impl Fn(&RunState) -> bool) -> RunState {
        let file = StateFile::in_dir(&self.state_dir);
        let found = eventually(what, || {
            let state = file.read().filter(|state| done(state));
            async move { state }
        })
        .await;
        found.unwrap_or_else(|| panic!("{what} did not happen\n{}", self.transcript()))
    }

    /// The ready-to-paste token printed for `subject` (`alice` the applicant, `olga` the
    /// operator).
    pub fn printed_token(&self, subject: &str) -> String {
        let lines = self.stdout.snapshot();
        let heading = format!("token ({subject}):");
        lines
            .iter()
            .position(|line| line.contains(&heading))
            .and_then(|index| lines.get(index + 1))
            .map(|token| token.trim().to_owned())
            .unwrap_or_else(|| panic!("no token printed for {subject}\n{}", self.transcript()))
    }

    /// The example command lines printed under "Try:".
    pub fn printed_examples(&self) -> Vec<String> {
        let lines = self.stdout.snapshot();
        let start = lines
            .iter()
            .position(|line| line == "Try:")
            .unwrap_or_else(|| panic!("no examples printed\n{}", self.transcript()));
        lines[start + 1..]
            .iter()
            .take_while(|line| line.starts_with("  "))
            .map(|line| line.trim().to_owned())
            .collect()
    }

    /// Sends `signal` to the start command and waits for it to exit.
    pub async fn stop_with(mut self, signal: Signal) -> ExitStatus {
        let mut process = self.process.take().expect("the start command runs");
        send(self.pid, signal);
        let status = tokio::time::timeout(PATIENCE, process.wait()).await;
        match status {
            Ok(status) => status.expect("the start command is watched"),
            Err(_) => {
                self.process = Some(process);
                panic!(
                    "zayavki did not stop within {PATIENCE:?}\n{}",
                    self.transcript()
                )
            }
        }
    }

    /// Everything the start command printed, for failure messages.
    pub fn transcript(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout.snapshot().join("\n"),
            self.stderr.snapshot().join("\n")
        )
    }
}

impl Drop for StartedSystem {
    fn drop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        if process.try_wait().ok().flatten().is_some() {
            return;
        }
        // A test that failed midway: kill the start command first, so it restarts nothing, then
        // the services it started.
        let children = StateFile::in_dir(&self.state_dir).read();
        send(self.pid, Signal::KILL);
        for service in children.iter().flat_map(|state| &state.services) {
            if let Some(pid) = service.pid {
                send(pid, Signal::KILL);
            }
        }
    }
}

/// Sends `signal` to `pid`, a process this test started (directly or through zayavki).
pub fn send(pid: u32, signal: Signal) {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .expect("a process id");
    // It may have exited already.
    kill_process(pid, signal).ok();
}

/// Whether a process with this id exists (a reaped process does not).
pub fn is_alive(pid: u32) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|pid| test_kill_process(pid).is_ok())
}

/// The lines a process writes to one of its streams, as they come.
#[derive(Clone)]
pub struct Lines {
    lines: Arc<Mutex<Vec<String>>>,
    /// How many lines there are, and whether the stream ended.
    progress: watch::Receiver<(usize, bool)>,
}

impl Lines {
    pub fn follow(stream: impl AsyncRead + Unpin + Send + 'static, name: &'static str) -> Self {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (progress, receiver) = watch::channel((0, false));
        let collected = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if std::env::var_os("TEST_LOG").is_some() {
                    eprintln!("zayavki {name}: {line}");
                }
                let count = {
                    let mut lines = collected.lock().expect("lines");
                    lines.push(line);
                    lines.len()
                };
                progress.send_replace((count, false));
            }
            progress.send_modify(|(_, ended)| *ended = true);
        });
        Self {
            lines,
            progress: receiver,
        }
    }

    pub fn snapshot(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Waits for a line that `matches`, for at most [`PATIENCE`]; `None` when none came in time
    /// or the stream ended without one.
    pub async fn wait_for(&self, matches: impl Fn(&str) -> bool) -> Option<String> {
        let mut progress = self.progress.clone();
        let mut seen = 0;
        let search = async {
            loop {
                let (count, ended) = *progress.borrow_and_update();
                let found = self.lines.lock().expect("lines")[seen..count]
                    .iter()
                    .find(|line| matches(line))
                    .cloned();
                if found.is_some() {
                    return found;
                }
                seen = count;
                if ended || progress.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(PATIENCE, search).await.ok().flatten()
    }
}

/// A gRPC channel to `address`.
pub async fn channel(address: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .expect("valid uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("gRPC port accepts connections")
}

/// `message` with `authorization: Bearer <token>`.
pub fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// Asks `check` until it answers `Some`, every 100 ms for at most [`PATIENCE`]; `None` then.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let attempts = PATIENCE.as_millis() / POLL_INTERVAL.as_millis();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for _ in 0..attempts {
        if let Some(found) = check().await {
            return Some(found);
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    eprintln!("{what} did not happen within {PATIENCE:?}");
    None
}

/// An HTTP client that never goes through a proxy (everything is on loopback).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client")
}
