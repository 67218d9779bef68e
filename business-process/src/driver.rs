//! The driver: takes the next step of every process that has one, from its stored state.
//!
//! A worker claims one process with work to do (`FOR UPDATE SKIP LOCKED`, so replicas and
//! workers never take the same one), calls application-service when the step needs it, and
//! records the outcome — state, budget, timer, notification, report job, history — in the same
//! transaction. A crash anywhere leaves the process in its last committed state and the step is
//! taken again; every call it makes is safe to repeat. A step that fails for a passing reason
//! (application-service away) is postponed with a growing backoff; nothing is kept only in
//! memory.
//!
//! Waking: workers are woken in this process ([`tokio::sync::Notify`], one sleeping worker per
//! signal) by the application-event consumer when a process starts or is cancelled, and through
//! `NOTIFY process_work` by operators' decisions and deadlines (from any replica). Neither the
//! consumer's commits nor the driver's own carry a `NOTIFY`: PostgreSQL serialises the commits
//! of all notifying transactions of the server, their WAL flush included, so the busiest path
//! stays free of it. A worker that took a step goes on while its process or another has a step
//! due, waking one more worker to help when another has, so a burst recruits workers one by one
//! and a single change costs one claim, not one per worker. A worker that finds nothing due
//! sleeps until the earliest postponed step, or [`IDLE_CHECK`], which is also how a replica
//! takes over steps left by one that died.
//!
//! Each step runs in a span continuing the trace stored with the process, so its calls and
//! messages stay in the trace of the event that started it.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, field::Empty};
use uuid::Uuid;
use zayavki_common::{
    amqp::{OutgoingMessage, topology},
    money::Money,
    outbox,
    telemetry::{continue_trace, current_traceparent},
};

use crate::{
    clients::applications::{ApplicationsClient, Outcome},
    domain::{Process, ProcessState, ReportFormat, ReportKind},
    events::application_events::apply_deferred,
    storage::{
        budgets::{self, Reserved},
        notifications::{self, NewNotification},
        processes::{self, Claimed},
        reports::{self, NewReportRequest},
        steps, timers,
    },
};

/// The longest a worker sleeps without being woken: the safety net, and how soon a replica picks
/// up the steps of one that died.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// What the driver decides with.
#[derive(Clone, Debug)]
pub struct Policy {
    pub auto_approve_limit: Money,
    pub default_monthly_budget: Money,
    pub decision_timeout: Duration,
    pub purchase_report_format: ReportFormat,
    pub max_retry_backoff: Duration,
}

pub struct Driver {
    pool: PgPool,
    applications: ApplicationsClient,
    policy: Policy,
}

impl Driver {
    pub fn new(pool: PgPool, applications: ApplicationsClient, policy: Policy) -> Arc<Self> {
        Arc::new(Self {
            pool,
            applications,
            policy,
        })
    }

    /// One worker: steps until `shutdown`, woken through `work` (see the module's notes).
    pub async fn run_worker(self: Arc<Self>, work: Arc<Notify>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let wait = match self.step_once().await {
                Ok(Stepped::Took {
                    next_in,
                    next_other_at,
                }) => {
                    let other_in = until(next_other_at);
                    if other_in == Some(Duration::ZERO) {
                        work.notify_one();
                    }
                    match next_in.into_iter().chain(other_in).min() {
                        Some(Duration::ZERO) => continue,
                        wait => wait.map_or(IDLE_CHECK, |wait| wait.min(IDLE_CHECK)),
                    }
                }
                Ok(Stepped::NothingDue) => self.until_next_step().await,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "process driver cannot reach its database");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = work.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// How long to sleep when nothing is due: until the earliest postponed step.
    async fn until_next_step(&self) -> Duration {
        match processes::next_postponed_at(&self.pool).await {
            Ok(at) => until(at).unwrap_or(IDLE_CHECK),
            Err(_) => IDLE_CHECK,
        }
    }

    /// Takes the step of one process whose step is due.
    pub async fn step_once(&self) -> anyhow::Result<Stepped> {
        let mut transaction = self.pool.begin().await?;
        let Some(Claimed {
            process,
            traceparent,
            next_other_at,
        }) = processes::claim_work(&mut transaction).await?
        else {
            return Ok(Stepped::NothingDue);
        };
        let span = tracing::info_span!(
            "process_step",
            application = %process.application_id,
            state = %process.state,
            trace_id = Empty,
        );
        continue_trace(&span, traceparent.as_deref());
        let next_in = self
            .take_step(transaction, process)
            .instrument(span)
            .await?;
        Ok(Stepped::Took {
            next_in,
            next_other_at,
        })
    }

    /// The step of the claimed `process`, committed with its outcome, or postponed; how soon
    /// its next step is due (None: it waits for an event, an operator or its deadline, or has
    /// ended).
    async fn take_step(
        &self,
        mut transaction: Transaction<'static, Postgres>,
        mut process: Process,
    ) -> anyhow::Result<Option<Duration>> {
        let before = process.state;
        match self.step(&mut transaction, &mut process).await {
            Ok(()) => {
                apply_deferred(&mut transaction, &mut process).await?;
                processes::save(&mut transaction, &process).await?;
                transaction.commit().await?;
                tracing::info!(application = %process.application_id, from = %before, to = %process.state, "process stepped");
                Ok(process.state.has_work().then_some(Duration::ZERO))
            }
            Err(error) => {
                transaction.rollback().await?;
                let attempts = processes::attempts(&self.pool, process.application_id).await?;
                let delay = backoff(attempts, self.policy.max_retry_backoff);
                tracing::warn!(
                    application = %process.application_id,
                    state = %before,
                    error = %format!("{error:#}"),
                    retry_in = ?delay,
                    "process step postponed"
                );
                processes::postpone(
                    &self.pool,
                    process.application_id,
                    delay,
                    &format!("{error:#}"),
                )
                .await?;
                Ok(Some(delay))
            }
        }
    }

    /// The step of `process` in its current state; an `Err` postpones it.
    async fn step(
        &self,
        connection: &mut PgConnection,
        process: &mut Process,
    ) -> anyhow::Result<()> {
        match process.state {
            ProcessState::Starting => self.start(connection, process).await,
            ProcessState::Approving => self.complete(connection, process).await,
            ProcessState::Rejecting => self.reject(connection, process).await,
            ProcessState::Cancelling => cancel(connection, process).await,
            ProcessState::AwaitingDecision
            | ProcessState::Completed
            | ProcessState::Rejected
            | ProcessState::Cancelled => Ok(()),
        }
    }

    /// NEW → PROCESSING, then the budget, then approve at once or wait for an operator. The
    /// steps are recorded together at the end.
    async fn start(
        &self,
        connection: &mut PgConnection,
        process: &mut Process,
    ) -> anyhow::Result<()> {
        let id = process.application_id;
        match self.applications.start_processing(id).await? {
            Outcome::Moved(moved) => process.saw_version(moved.version),
            outcome => return refused(connection, process, "processing", outcome).await,
        }
        let mut history = vec![("processing.started", json!({}))];
        let reserved = budgets::reserve(
            connection,
            id,
            &process.applicant,
            process.budget_month(),
            process.total_amount,
            self.policy.default_monthly_budget,
        )
        .await?;
        let amount = process.total_amount.to_string();
        let month = process.budget_month().to_string();
        if let Reserved::OverBudget { limit, used } = reserved {
            let reason = format!(
                "over budget: {amount} does not fit into the {month} budget of {limit} ({used} already used)"
            );
            history.push((
                "budget.refused",
                json!({"amount": amount, "month": month, "limit": limit.to_string(), "used": used.to_string()}),
            ));
            process.move_to(ProcessState::Rejecting, Some(reason));
            return steps::record_all(connection, id, history).await;
        }
        history.push(("budget.reserved", json!({"amount": amount, "month": month})));
        if process.total_amount <= self.policy.auto_approve_limit {
            history.push((
                "approved.automatically",
                json!({"autoApproveLimit": self.policy.auto_approve_limit.to_string()}),
            ));
            process.move_to(ProcessState::Approving, None);
        } else {
            let due_at = Utc::now()
                + chrono::Duration::from_std(self.policy.decision_timeout)
                    .unwrap_or(chrono::Duration::MAX);
            timers::schedule(connection, id, timers::DECISION_DEADLINE, due_at).await?;
            process.decision_due_at = Some(due_at);
            history.push(("decision.awaited", json!({"dueAt": due_at})));
            process.move_to(ProcessState::AwaitingDecision, None);
        }
        steps::record_all(connection, id, history).await
    }

    /// PROCESSING → COMPLETED; the reservation is committed, the applicant told and the
    /// purchase report requested.
    async fn complete(
        &self,
        connection: &mut PgConnection,
        process: &mut Process,
    ) -> anyhow::Result<()> {
        let id = process.application_id;
        match self.applications.complete(id).await? {
            Outcome::Moved(moved) => process.saw_version(moved.version),
            outcome => return refused(connection, process, "completion", outcome).await,
        }
        budgets::commit(connection, id).await?;
        if process.decision_due_at.is_some() {
            timers::cancel(connection, id).await?;
        }
        notify(
            connection,
            process,
            "Заявка одобрена",
            &format!(
                "Заявка «{}» на сумму {} одобрена и выполнена.",
                process.title, process.total_amount
            ),
        )
        .await?;
        let completed = ("application.completed", json!({}));
        let report_id = self
            .request_purchase_report(connection, process, completed)
            .await?;
        process.purchase_report_id = Some(report_id);
        process.move_to(ProcessState::Completed, None);
        Ok(())
    }

    /// PROCESSING → REJECTED with the process's reason; the reservation is released.
    async fn reject(
        &self,
        connection: &mut PgConnection,
        process: &mut Process,
    ) -> anyhow::Result<()> {
        let id = process.application_id;
        let reason = process
            .reason
            .clone()
            .unwrap_or_else(|| "rejected".to_owned());
        match self.applications.reject(id, &reason).await? {
            Outcome::Moved(moved) => process.saw_version(moved.version),
            outcome => return refused(connection, process, "rejection", outcome).await,
        }
        release(connection, process).await?;
        steps::record(
            connection,
            id,
            "application.rejected",
            json!({"reason": reason}),
        )
        .await?;
        notify(
            connection,
            process,
            "Заявка отклонена",
            &format!("Заявка «{}» отклонена: {reason}.", process.title),
        )
        .await?;
        process.move_to(ProcessState::Rejected, None);
        Ok(())
    }

    /// Publishes (through the outbox) the job of the purchase report of a completed application;
    /// `last_step`, recorded with the request, ends the history the job carries.
    async fn request_purchase_report(
        &self,
        connection: &mut PgConnection,
        process: &Process,
        last_step: (&str, Value),
    ) -> anyhow::Result<Uuid> {
        let report_id = Uuid::now_v7();
        let format = self.policy.purchase_report_format;
        reports::insert(
            connection,
            &NewReportRequest {
                report_id,
                kind: ReportKind::Purchase,
                format,
                owner: &process.applicant,
                owner_role: "applicant",
                application_id: Some(process.application_id),
            },
        )
        .await?;
        let requested_at = Utc::now();
        let mut history: Vec<Value> = steps::history(&mut *connection, process.application_id)
            .await?
            .into_iter()
            .map(|step| json!({"step": step.step, "at": step.at, "details": step.details.0}))
            .collect();
        history.push(json!({"step": last_step.0, "at": requested_at, "details": last_step.1}));
        let job = json!({
            "reportId": report_id,
            "kind": ReportKind::Purchase.as_str(),
            "format": format.as_str(),
            "owner": process.applicant,
            "ownerRole": "applicant",
            "applicationId": process.application_id,
            "history": history,
            "requestedAt": requested_at,
        });
        publish_report_job(connection, report_id, &job, requested_at).await?;
        steps::record_all(
            connection,
            process.application_id,
            vec![
                last_step,
                (
                    "report.requested",
                    json!({"reportId": report_id, "format": format.as_str()}),
                ),
            ],
        )
        .await?;
        Ok(report_id)
    }
}

/// Writes a `report.job` message to the outbox, on the caller's transaction.
pub async fn publish_report_job(
    connection: &mut PgConnection,
    report_id: Uuid,
    job: &Value,
    requested_at: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let message = OutgoingMessage {
        message_id: report_id,
        exchange: topology::REPORTS.to_owned(),
        routing_key: topology::REPORT_JOB_KEY.to_owned(),
        body: serde_json::to_string(job)?,
        traceparent: Some(current_traceparent()),
        occurred_at: requested_at,
    };
    outbox::insert_all(connection, &[message]).await
}

/// The reservation is released, the timer dropped, the applicant told: CANCELLED.
async fn cancel(connection: &mut PgConnection, process: &mut Process) -> anyhow::Result<()> {
    release(connection, process).await?;
    steps::record(
        connection,
        process.application_id,
        "process.cancelled",
        json!({}),
    )
    .await?;
    notify(
        connection,
        process,
        "Заявка отменена",
        &format!("Заявка «{}» отменена.", process.title),
    )
    .await?;
    process.move_to(ProcessState::Cancelled, None);
    Ok(())
}

/// Releases what is held for the process (the compensation) and drops its deadline.
async fn release(connection: &mut PgConnection, process: &Process) -> anyhow::Result<()> {
    let id = process.application_id;
    timers::cancel(connection, id).await?;
    if budgets::release(connection, id).await? {
        steps::record(
            connection,
            id,
            "budget.released",
            json!({"amount": process.total_amount.to_string(), "month": process.budget_month().to_string()}),
        )
        .await?;
    }
    Ok(())
}

/// application-service did not make the move: the application was cancelled meanwhile (it
/// decides races: whichever transition it committed first wins), or it does not exist.
async fn refused(
    connection: &mut PgConnection,
    process: &mut Process,
    what: &str,
    outcome: Outcome,
) -> anyhow::Result<()> {
    let reason = match outcome {
        Outcome::Refused(why) => format!("application-service refused the {what}: {why}"),
        Outcome::Missing => "application-service does not know the application".to_owned(),
        Outcome::Moved(_) => return Ok(()),
    };
    steps::record(
        connection,
        process.application_id,
        "lifecycle.refused",
        json!({"reason": reason}),
    )
    .await?;
    process.move_to(ProcessState::Cancelling, Some(reason));
    Ok(())
}

async fn notify(
    connection: &mut PgConnection,
    process: &Process,
    subject: &str,
    body: &str,
) -> anyhow::Result<()> {
    notifications::enqueue(
        connection,
        &NewNotification {
            id: Uuid::now_v7(),
            recipient: process.applicant.clone(),
            subject: subject.to_owned(),
            body: body.to_owned(),
            application_id: Some(process.application_id),
        },
    )
    .await
}

/// What one turn of a worker found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stepped {
    /// No process had a step due (or every one was held by another worker).
    NothingDue,
    /// A step was taken; the process's next step is due in `next_in`, and another process's at
    /// `next_other_at` (None: no next step).
    Took {
        next_in: Option<Duration>,
        next_other_at: Option<DateTime<Utc>>,
    },
}

/// The time from now until `at`, capped at [`IDLE_CHECK`]; zero when it has passed.
fn until(at: Option<DateTime<Utc>>) -> Option<Duration> {
    at.map(|at| {
        (at - Utc::now())
            .to_std()
            .unwrap_or_default()
            .min(IDLE_CHECK)
    })
}

/// 100 ms doubled per failed attempt, up to `max`.
fn backoff(attempts: i32, max: Duration) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    Duration::from_millis(100)
        .saturating_mul(2_u32.saturating_pow(exponent))
        .min(max)
}
