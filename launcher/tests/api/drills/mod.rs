//! Fault drills against the system as `zayavki start` runs it: a service stopped, killed or cut
//! off while work is under way. Each drill prints what it sent, what was acknowledged, what is
//! present afterwards and what is there twice, and fails if anything was lost or duplicated.

mod application_killed;
mod broker_cut;
mod notifier_down;
mod report_service_killed;
mod reports_wait;

use std::time::Duration;

use sqlx::PgPool;
use zayavki_identity::{IdentityConfig, Role, TokenMinter};
use zayavki_proto::applications::v1::{ApplicationItem, NewApplication};

use crate::helpers::StartedSystem;

/// The key every drill's system shares with the test, which mints its own tokens.
const SECRET: &str = "the fault drills share this secret, 32 bytes or more";
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Settings every drill starts with: the shared key, and no per-user rate limit (the drills
/// send bursts on purpose).
fn drill_settings<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut settings = vec![("JWT_SECRET", SECRET), ("RATE_LIMIT_ENABLED", "off")];
    settings.extend_from_slice(extra);
    settings
}

fn token(subject: &str, role: Role) -> String {
    let config = IdentityConfig {
        secret: Some(SECRET.to_owned().into()),
        ..IdentityConfig::default()
    };
    TokenMinter::new(&config)
        .and_then(|minter| minter.mint(subject, None, &[role], TOKEN_LIFETIME))
        .expect("a token")
}

/// A small application that is approved at once.
fn small_application(title: String) -> NewApplication {
    NewApplication {
        title,
        description: None,
        items: vec![ApplicationItem {
            name: "Карандаш".to_owned(),
            quantity: 1,
            unit_price: "1.00".to_owned(),
        }],
    }
}

/// A connection pool to the database `variable` names.
async fn database(system: &StartedSystem, variable: &str) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(system.setting(variable))
        .await
        .unwrap_or_else(|error| panic!("{variable} accepts connections: {error}"))
}

/// One number from `sql`.
async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// What a drill counted.
#[derive(Debug)]
struct Tally {
    drill: &'static str,
    sent: usize,
    acknowledged: usize,
    present: usize,
    duplicated: usize,
}

impl Tally {
    /// Prints the counts, then fails unless everything sent was acknowledged and is present
    /// exactly once.
    fn check(&self) {
        println!(
            "{}: sent {}, acknowledged {}, present {}, duplicated {}",
            self.drill, self.sent, self.acknowledged, self.present, self.duplicated
        );
        assert_eq!(self.acknowledged, self.sent, "{self:?}");
        assert_eq!(self.present, self.acknowledged, "lost: {self:?}");
        assert_eq!(self.duplicated, 0, "duplicated: {self:?}");
    }
}

/// How long a drill waits for a backlog of work to drain once the fault is over.
const DRAIN_PATIENCE: Duration = Duration::from_secs(300);
const DRAIN_POLL: Duration = Duration::from_millis(250);

/// Asks `check` every [`DRAIN_POLL`] until it answers `Some`, for at most [`DRAIN_PATIENCE`].
async fn drained<T, F, Fut>(what: &str, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DRAIN_PATIENCE;
    let attempts = DRAIN_PATIENCE.as_millis() / DRAIN_POLL.as_millis();
    for _ in 0..attempts {
        if let Some(found) = check().await {
            return Some(found);
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
    eprintln!("{what} did not happen within {DRAIN_PATIENCE:?}");
    None
}

/// Steps a process takes once: one of them twice means an event was applied twice.
const ONCE_ONLY_STEPS: &str = "('application.created', 'processing.started', 'budget.reserved', \
     'approved.automatically', 'application.completed')";

/// (Application, step) pairs of [`ONCE_ONLY_STEPS`] recorded more than once.
async fn repeated_steps(process_pool: &PgPool) -> i64 {
    count(
        process_pool,
        &format!(
            "SELECT count(*) FROM (SELECT application_id, step FROM process_steps \
             WHERE step IN {ONCE_ONLY_STEPS} GROUP BY 1, 2 HAVING count(*) > 1) AS repeated"
        ),
    )
    .await
}
