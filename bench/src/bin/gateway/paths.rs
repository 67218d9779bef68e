//! The reads under measurement (REST `GET /applications/{id}` and gRPC `GetApplication`, each
//! directly to application-service or through the gateway) and how they are measured: paths
//! compared with each other take turns, in alternating order, so that whatever else the machine
//! does falls on both alike.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use futures::{FutureExt, future::BoxFuture};
use reqwest::{
    StatusCode,
    header::{AUTHORIZATION, HeaderValue},
};
use zayavki_bench::{
    load::{LoadPlan, LoadReport, run_bounded},
    service::{Bearer, BearerClient, connect_channels},
};
use zayavki_proto::applications::v1::{
    self as pb, application_service_client::ApplicationServiceClient,
};

use crate::meters::{CpuTime, Meters};

/// How one read is made.
#[derive(Clone)]
pub enum Read {
    /// `GET {base}/applications/{id}` over HTTP/1.1 keep-alive connections, one per caller.
    Rest {
        client: reqwest::Client,
        base: Arc<str>,
        authorization: HeaderValue,
    },
    /// `GetApplication` over a few HTTP/2 connections shared round-robin by the callers.
    Grpc { clients: Vec<BearerClient> },
}

/// One way to read, with the ids it rotates through.
#[derive(Clone)]
pub struct Path {
    read: Read,
    ids: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
}

impl Path {
    pub fn rest(
        address: SocketAddr,
        token: &str,
        ids: Arc<Vec<String>>,
        connections: usize,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(connections)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .context("cannot build an HTTP client")?;
        let authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("a token is a header value")?;
        Ok(Self::new(
            Read::Rest {
                client,
                base: format!("http://{address}").into(),
                authorization,
            },
            ids,
        ))
    }

    pub async fn grpc(
        address: SocketAddr,
        token: &str,
        ids: Arc<Vec<String>>,
        connections: usize,
    ) -> anyhow::Result<Self> {
        let bearer = Bearer::new(token)?;
        let clients = connect_channels(address, connections)
            .await?
            .into_iter()
            .map(|channel| ApplicationServiceClient::with_interceptor(channel, bearer.clone()))
            .collect();
        Ok(Self::new(Read::Grpc { clients }, ids))
    }

    fn new(read: Read, ids: Arc<Vec<String>>) -> Self {
        Self {
            read,
            ids,
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Reads every id once and checks the answer is that application: the path reaches the
    /// service, with this token, before any load goes through it.
    pub async fn check(&self) -> anyhow::Result<()> {
        for id in self.ids.iter() {
            let read = match &self.read {
                Read::Rest {
                    client,
                    base,
                    authorization,
                } => {
                    let answer = client
                        .get(format!("{base}/applications/{id}"))
                        .header(AUTHORIZATION, authorization.clone())
                        .send()
                        .await?
                        .error_for_status()?
                        .json::<serde_json::Value>()
                        .await?;
                    answer["id"].as_str().unwrap_or_default().to_owned()
                }
                Read::Grpc { clients } => {
                    clients[0]
                        .clone()
                        .get_application(pb::GetApplicationRequest { id: id.clone() })
                        .await?
                        .into_inner()
                        .id
                }
            };
            anyhow::ensure!(&read == id, "asked for {id}, got {read:?}");
        }
        Ok(())
    }

    /// One read of the next id; `caller` picks the gRPC connection.
    fn call(&self, caller: usize) -> BoxFuture<'static, anyhow::Result<()>> {
        let id = self.ids[self.next.fetch_add(1, Ordering::Relaxed) % self.ids.len()].clone();
        match &self.read {
            Read::Rest {
                client,
                base,
                authorization,
            } => {
                let request = client
                    .get(format!("{base}/applications/{id}"))
                    .header(AUTHORIZATION, authorization.clone());
                async move {
                    let answer = request.send().await?;
                    let status = answer.status();
                    // Read to the end, so the connection is reused.
                    let body = answer.bytes().await?;
                    anyhow::ensure!(
                        status == StatusCode::OK && !body.is_empty(),
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                    Ok(())
                }
                .boxed()
            }
            Read::Grpc { clients } => {
                let mut client = clients[caller % clients.len()].clone();
                async move {
                    client
                        .get_application(pb::GetApplicationRequest { id })
                        .await?;
                    Ok(())
                }
                .boxed()
            }
        }
    }

    async fn run(&self, plan: LoadPlan) -> anyhow::Result<LoadReport> {
        let path = self.clone();
        run_bounded(plan, move |caller| path.call(caller)).await
    }
}

/// A path under measurement and what it has measured so far.
pub struct Contestant {
    pub label: String,
    path: Path,
    pub report: LoadReport,
    pub cpu: CpuTime,
    /// Requests per second in each turn.
    pub per_turn: Vec<f64>,
}

impl Contestant {
    pub fn new(label: impl Into<String>, path: Path) -> Self {
        Self {
            label: label.into(),
            path,
            report: LoadReport::empty(),
            cpu: CpuTime::default(),
            per_turn: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Requests per second over every turn.
    pub fn throughput(&self) -> f64 {
        self.report.throughput()
    }

    /// CPU microseconds per successful request, by process.
    pub fn cpu_per_request(&self) -> CpuTime {
        let per = |seconds: f64| seconds * 1e6 / (self.report.succeeded.max(1) as f64);
        CpuTime {
            client: per(self.cpu.client),
            gateway: per(self.cpu.gateway),
            supervisor: per(self.cpu.supervisor),
            service: per(self.cpu.service),
            postgres: per(self.cpu.postgres),
        }
    }
}

/// How much load each contestant gets, in all.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Callers, each with one request in flight.
    pub concurrency: usize,
    pub duration: Duration,
    pub max_requests: u64,
    pub turns: usize,
}

impl Load {
    fn turn(&self) -> LoadPlan {
        let turns = self.turns.max(1);
        LoadPlan::new(
            self.concurrency,
            self.duration / u32::try_from(turns).unwrap_or(1),
        )
        .with_max_requests((self.max_requests / turns as u64).max(1))
    }
}

/// Runs every contestant unmeasured for `duration` at `concurrency`: connections, caches.
pub async fn warm_up(
    contestants: &[Contestant],
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<()> {
    if duration.is_zero() {
        return Ok(());
    }
    for contestant in contestants {
        let report = contestant
            .path
            .run(LoadPlan::new(concurrency, duration))
            .await?;
        if let Some(error) = report.first_error {
            anyhow::bail!(
                "{}: {} of the warm-up's requests failed, first: {error}",
                contestant.label,
                report.failed
            );
        }
    }
    Ok(())
}

/// Measures `pairs` in `load.turns` turns: in each turn both of a pair run, one after the
/// other, the first first in even turns and the second first in odd ones.
pub async fn measure_in_turns(
    pairs: &mut [[Contestant; 2]],
    load: Load,
    meters: &Meters,
) -> anyhow::Result<()> {
    let plan = load.turn();
    for turn in 0..load.turns.max(1) {
        for pair in pairs.iter_mut() {
            let order = if turn % 2 == 0 { [0, 1] } else { [1, 0] };
            for index in order {
                let contestant = &mut pair[index];
                let before = meters.read().await;
                let report = contestant.path.run(plan).await?;
                let after = meters.read().await;
                contestant.cpu += before.until(&after);
                contestant.per_turn.push(report.throughput());
                contestant.report.absorb(report);
            }
        }
    }
    Ok(())
}
