//! An operator's decision on an application that waits for one.
//!
//! Everything happens in one transaction: the process is locked first, so two decisions on one
//! application (or one decision sent twice) run one after the other and the second sees what the
//! first did. The decision moves the process to APPROVING or REJECTING and saves it; the driver,
//! woken by the state change, completes or rejects the application from there.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Caller, ProcessView, Processes, full_view,
    input::{Violations, parse_comment, parse_request_id},
    parse_uuid,
};
use crate::{
    domain::{ProcessError, ProcessState},
    storage::{processes, steps, timers},
};

/// Why an operator rejected when they wrote no comment.
const REJECTED_WITHOUT_COMMENT: &str = "rejected by an operator";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// As stored in `decisions.decision`.
    fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "APPROVE",
            Self::Reject => "REJECT",
        }
    }
}

/// A decision as the adapter receives it.
#[derive(Clone, Debug)]
pub struct DecisionInput {
    pub application_id: String,
    /// None when the request named no decision.
    pub decision: Option<Decision>,
    pub comment: String,
    /// Empty means no idempotency key.
    pub request_id: String,
}

/// A decision recorded earlier under the same operator and key.
struct RecordedDecision {
    application_id: Uuid,
    decision: String,
}

impl Processes {
    /// Operators only. A repeated `request_id` with the same application and decision returns
    /// the process as it is now; with another one it is refused.
    #[tracing::instrument(skip(self, input), fields(caller = %caller.subject, application = %input.application_id))]
    pub async fn decide(
        &self,
        caller: &Caller,
        input: DecisionInput,
    ) -> Result<ProcessView, ProcessError> {
        caller.require_operator("decide applications")?;
        let mut violations = Violations::new();
        let application_id = violations.check("application_id", parse_uuid(&input.application_id));
        let decision = input.decision.or_else(|| {
            violations.add("decision", "must be DECISION_APPROVE or DECISION_REJECT");
            None
        });
        let comment = violations.check("comment", parse_comment(&input.comment));
        let request_id = violations.check("request_id", parse_request_id(&input.request_id));
        let (application_id, decision, comment, request_id) =
            violations.into_result(|| Some((application_id?, decision?, comment?, request_id?)))?;

        let mut transaction = self.pool.begin().await?;
        let mut process = processes::lock(&mut transaction, application_id)
            .await?
            .ok_or_else(|| ProcessError::NotFound(format!("process {application_id}")))?;
        if let Some(request_id) = request_id.as_deref()
            && let Some(recorded) = recorded(&mut transaction, &caller.subject, request_id).await?
        {
            if recorded.application_id != application_id || recorded.decision != decision.as_str() {
                return Err(ProcessError::IdempotencyKeyReused(request_id.to_owned()));
            }
            let view = full_view(&mut transaction, process).await?;
            transaction.commit().await?;
            tracing::info!(application = %application_id, "decision replayed");
            return Ok(view);
        }
        if process.state != ProcessState::AwaitingDecision {
            return Err(ProcessError::FailedPrecondition(format!(
                "process {application_id} is {} and no longer waits for a decision",
                process.state
            )));
        }
        timers::cancel(&mut transaction, application_id).await?;
        match decision {
            Decision::Approve => {
                steps::record(
                    &mut transaction,
                    application_id,
                    "decision.approved",
                    json!({"operator": caller.subject, "comment": comment}),
                )
                .await?;
                process.move_to(ProcessState::Approving, None);
            }
            Decision::Reject => {
                let reason = comment
                    .clone()
                    .unwrap_or_else(|| REJECTED_WITHOUT_COMMENT.to_owned());
                steps::record(
                    &mut transaction,
                    application_id,
                    "decision.rejected",
                    json!({"operator": caller.subject, "comment": comment, "reason": reason}),
                )
                .await?;
                process.move_to(ProcessState::Rejecting, Some(reason));
            }
        }
        if let Some(request_id) = request_id.as_deref() {
            record(
                &mut transaction,
                caller,
                request_id,
                application_id,
                decision,
                comment.as_deref(),
            )
            .await?;
        }
        let saved = processes::save(&mut transaction, &process).await?;
        processes::announce_work(&mut transaction).await?;
        let view = full_view(&mut transaction, saved).await?;
        transaction.commit().await?;
        tracing::info!(application = %application_id, decision = decision.as_str(), "application decided");
        Ok(view)
    }
}

async fn recorded(
    connection: &mut PgConnection,
    operator: &str,
    request_id: &str,
) -> anyhow::Result<Option<RecordedDecision>> {
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT application_id, decision FROM decisions WHERE operator = $1 AND request_id = $2",
    )
    .bind(operator)
    .bind(request_id)
    .fetch_optional(connection)
    .await?;
    Ok(row.map(|(application_id, decision)| RecordedDecision {
        application_id,
        decision,
    }))
}

/// Records the key of a decision. The key may meanwhile have been taken by the same operator's
/// decision on another application (that one locked another process): then this one is refused.
async fn record(
    connection: &mut PgConnection,
    caller: &Caller,
    request_id: &str,
    application_id: Uuid,
    decision: Decision,
    comment: Option<&str>,
) -> Result<(), ProcessError> {
    let inserted = sqlx::query(
        "INSERT INTO decisions (request_id, operator, application_id, decision, comment) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(request_id)
    .bind(&caller.subject)
    .bind(application_id)
    .bind(decision.as_str())
    .bind(comment)
    .execute(connection)
    .await?
    .rows_affected();
    if inserted == 1 {
        Ok(())
    } else {
        Err(ProcessError::IdempotencyKeyReused(request_id.to_owned()))
    }
}
