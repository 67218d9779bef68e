//! Filing one application or a batch, with idempotency keys.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Applications, Change, now};
use crate::{
    domain::{
        Application, ApplicationError, Caller, NewApplication, NewApplicationInput,
        validation::parse_request_id,
    },
    storage::{
        self,
        idempotency::{self, Claim, Operation},
    },
};

/// What a create returns: the applications, and whether they come from an earlier request with
/// the same idempotency key.
#[derive(Debug)]
pub struct Created<T> {
    pub value: T,
    pub replayed: bool,
}

impl Applications {
    /// Files one application for the caller.
    #[tracing::instrument(skip(self, input), fields(applicant = %caller.subject))]
    pub async fn create(
        &self,
        caller: &Caller,
        request_id: Option<&str>,
        input: NewApplicationInput,
    ) -> Result<Created<Application>, ApplicationError> {
        require_applicant(caller)?;
        let request_id = request_id
            .map_or(Ok(None), parse_request_id)
            .map_err(|reason| ApplicationError::invalid("request_id", reason))?;
        let draft = NewApplication::parse(input).map_err(ApplicationError::Validation)?;
        let mut created = self
            .create_all(
                caller,
                request_id.as_deref(),
                Operation::Create,
                vec![draft],
            )
            .await?;
        let application = created.value.pop().ok_or_else(|| {
            ApplicationError::Internal(anyhow::anyhow!("idempotency key recorded no application"))
        })?;
        Ok(Created {
            value: application,
            replayed: created.replayed,
        })
    }

    /// Files up to 1,000 applications atomically.
    #[tracing::instrument(skip(self, inputs), fields(applicant = %caller.subject, count = inputs.len()))]
    pub async fn batch_create(
        &self,
        caller: &Caller,
        request_id: Option<&str>,
        inputs: Vec<NewApplicationInput>,
    ) -> Result<Created<Vec<Application>>, ApplicationError> {
        require_applicant(caller)?;
        let request_id = request_id
            .map_or(Ok(None), parse_request_id)
            .map_err(|reason| ApplicationError::invalid("request_id", reason))?;
        let drafts = NewApplication::parse_batch(inputs).map_err(ApplicationError::Validation)?;
        self.create_all(
            caller,
            request_id.as_deref(),
            Operation::BatchCreate,
            drafts,
        )
        .await
    }

    async fn create_all(
        &self,
        caller: &Caller,
        request_id: Option<&str>,
        operation: Operation,
        drafts: Vec<NewApplication>,
    ) -> Result<Created<Vec<Application>>, ApplicationError> {
        let fingerprint = request_id.map(|_| fingerprint(operation, &drafts));
        let applications = stamp(caller, drafts);
        let mut transaction = self.pool.begin().await?;
        if let (Some(request_id), Some(fingerprint)) = (request_id, fingerprint) {
            let ids: Vec<Uuid> = applications
                .iter()
                .map(|application| application.id)
                .collect();
            let claim = idempotency::claim(
                &mut transaction,
                &caller.subject,
                operation,
                request_id,
                &fingerprint,
                &ids,
            )
            .await?;
            if let Claim::Existing {
                fingerprint: recorded,
                application_ids,
            } = claim
            {
                if recorded != fingerprint {
                    return Err(ApplicationError::IdempotencyKeyReused(
                        request_id.to_owned(),
                    ));
                }
                let earlier =
                    storage::applications::find_all(&mut transaction, &application_ids).await?;
                return Ok(Created {
                    value: earlier,
                    replayed: true,
                });
            }
        }
        storage::applications::insert_all(&mut transaction, &applications).await?;
        self.after_filed(&mut transaction, &applications).await?;
        let transaction_id = storage::applications::transaction_id(&mut transaction).await?;
        transaction.commit().await?;
        self.announce_change(Change::Filed {
            transaction: transaction_id,
            applications: applications.clone(),
        });
        tracing::info!(count = applications.len(), "applications filed");
        Ok(Created {
            value: applications,
            replayed: false,
        })
    }
}

fn require_applicant(caller: &Caller) -> Result<(), ApplicationError> {
    if caller.may_create() {
        Ok(())
    } else {
        Err(ApplicationError::PermissionDenied(
            "only callers with the applicant role file applications".to_owned(),
        ))
    }
}

/// Turns drafts into new applications owned by the caller, filed now.
fn stamp(caller: &Caller, drafts: Vec<NewApplication>) -> Vec<Application> {
    let filed_at = now();
    drafts
        .into_iter()
        .map(|draft| Application::filed(&caller.subject, draft, filed_at))
        .collect()
}

/// Identifies a request body: the operation and the canonical form of every draft.
fn fingerprint(operation: Operation, drafts: &[NewApplication]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(operation.as_str().as_bytes());
    hasher.update([0]);
    for draft in drafts {
        hasher.update(draft.canonical_json().as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().to_vec()
}
