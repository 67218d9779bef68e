//! Filing the benchmark's applications: realistic drafts with small totals (every one is approved
//! automatically), in batches through `BatchCreateApplications`, each batch by one of a few
//! applicants in turn, one batch in flight.

use anyhow::Context;
use tokio::{sync::mpsc, task::JoinHandle};
use tonic::transport::Channel;
use uuid::Uuid;
use zayavki_bench::{drafts::DraftGenerator, prepared::PreparedService, service::BearerClient};
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    self as pb, application_service_client::ApplicationServiceClient,
};

/// Unit prices run from 1.00 to 50.99 and quantities from 1 to 3: at most five items make
/// 764.85, below the auto-approve limit of 1000.00.
const UNIT_PRICE_MINOR_SPAN: u64 = 5_000;
const UNIT_PRICE_MINOR_FLOOR: u64 = 100;
const MAX_QUANTITY: i32 = 3;

/// One batch, filed by one applicant.
pub struct Batch {
    client: BearerClient,
    drafts: Vec<pb::NewApplication>,
}

/// `count` drafts in batches of `batch_size`, the batches taking turns among `applicants`
/// applicants named after `prefix`.
pub fn batches(
    service: &PreparedService,
    channel: &Channel,
    drafts: &mut DraftGenerator,
    count: usize,
    batch_size: usize,
    applicants: usize,
    prefix: &str,
) -> anyhow::Result<Vec<Batch>> {
    let mut batches = Vec::with_capacity(count.div_ceil(batch_size.max(1)));
    let mut left = count;
    while left > 0 {
        let size = left.min(batch_size.max(1));
        let applicant = format!("{prefix}-{}", batches.len() % applicants.max(1));
        let client = ApplicationServiceClient::with_interceptor(
            channel.clone(),
            service.bearer(&applicant, Role::Applicant)?,
        );
        let drafts = (0..size).map(|_| small_total(drafts.draft())).collect();
        batches.push(Batch { client, drafts });
        left -= size;
    }
    Ok(batches)
}

/// Files `batches` one after another, sending the ids of each as soon as it is answered.
pub fn spawn_filer(
    batches: Vec<Batch>,
    filed: mpsc::UnboundedSender<Vec<Uuid>>,
) -> JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        for Batch { mut client, drafts } in batches {
            let answer = client
                .batch_create_applications(pb::BatchCreateApplicationsRequest {
                    request_id: String::new(),
                    applications: drafts,
                })
                .await
                .context("BatchCreateApplications failed")?
                .into_inner();
            let ids = answer
                .applications
                .iter()
                .map(|application| application.id.parse::<Uuid>())
                .collect::<Result<Vec<_>, _>>()
                .context("application-service answered an id that is not a UUID")?;
            if filed.send(ids).is_err() {
                // Nobody waits for them any more: the phase was given up.
                break;
            }
        }
        Ok(())
    })
}

/// The same draft with each item's quantity and unit price brought down, deterministically.
fn small_total(mut draft: pb::NewApplication) -> pb::NewApplication {
    for item in &mut draft.items {
        let minor: u64 = item
            .unit_price
            .bytes()
            .filter(u8::is_ascii_digit)
            .fold(0, |minor, digit| minor * 10 + u64::from(digit - b'0'));
        let price = minor % UNIT_PRICE_MINOR_SPAN + UNIT_PRICE_MINOR_FLOOR;
        item.unit_price = format!("{}.{:02}", price / 100, price % 100);
        item.quantity = item.quantity % MAX_QUANTITY + 1;
    }
    draft
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_total_stays_below_the_auto_approve_limit() {
        let mut drafts = DraftGenerator::new(1);
        for _ in 0..2_000 {
            let draft = small_total(drafts.draft());
            let total: u64 = draft
                .items
                .iter()
                .map(|item| {
                    let (units, cents) = item.unit_price.split_once('.').expect("a decimal");
                    let minor = units.parse::<u64>().expect("units") * 100
                        + cents.parse::<u64>().expect("cents");
                    minor * u64::try_from(item.quantity).expect("a positive quantity")
                })
                .sum();
            assert!((100..=100_000).contains(&total), "{total}");
        }
    }
}
