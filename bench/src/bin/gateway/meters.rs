//! CPU time of every process a request passes through, so a measurement can say where the two
//! cores went: this process (the load), HAProxy, the start command (which relays the gateway's
//! access log line by line), application-service's replicas and their PostgreSQL backends.

use std::ops::AddAssign;

use sqlx::PgPool;
use zayavki_bench::cpu::{CpuSample, TICKS_PER_SECOND, process_ticks};

use crate::system::StartedSystem;

/// CPU seconds, by process.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTime {
    pub client: f64,
    pub gateway: f64,
    pub supervisor: f64,
    pub service: f64,
    pub postgres: f64,
}

impl AddAssign for CpuTime {
    fn add_assign(&mut self, later: CpuTime) {
        self.client += later.client;
        self.gateway += later.gateway;
        self.supervisor += later.supervisor;
        self.service += later.service;
        self.postgres += later.postgres;
    }
}

/// The processes of one start, and a pool on the service's database to find its backends.
pub struct Meters {
    supervisor: u32,
    gateway: u32,
    services: Vec<u32>,
    pool: PgPool,
}

/// CPU time so far.
pub struct Reading {
    own_and_postgres: CpuSample,
    supervisor: u64,
    gateway: u64,
    services: u64,
}

impl Meters {
    pub fn new(system: &StartedSystem, pool: PgPool) -> anyhow::Result<Self> {
        Ok(Self {
            supervisor: system.pid,
            gateway: system.service_pid("gateway")?,
            services: system.application_pids()?,
            pool,
        })
    }

    pub fn service_pids(&self) -> &[u32] {
        &self.services
    }

    pub async fn read(&self) -> Reading {
        let ticks = |pid: u32| process_ticks(Some(pid)).unwrap_or(0);
        Reading {
            own_and_postgres: CpuSample::take(&self.pool).await,
            supervisor: ticks(self.supervisor),
            gateway: ticks(self.gateway),
            services: self.services.iter().copied().map(ticks).sum(),
        }
    }
}

impl Reading {
    /// CPU used from `self` to `later`.
    pub fn until(&self, later: &Reading) -> CpuTime {
        let seconds =
            |before: u64, after: u64| after.saturating_sub(before) as f64 / TICKS_PER_SECOND;
        let own = self.own_and_postgres.until(&later.own_and_postgres);
        CpuTime {
            client: own.process,
            gateway: seconds(self.gateway, later.gateway),
            supervisor: seconds(self.supervisor, later.supervisor),
            service: seconds(self.services, later.services),
            postgres: own.database.unwrap_or(0.0),
        }
    }
}
