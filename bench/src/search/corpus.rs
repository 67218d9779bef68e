//! The corpus: `zayavki_search::sample_data` documents turned into domain `Application`s and
//! written straight into PostgreSQL with the service's own binary COPY encoding, in chunks, the
//! next chunk generated while the previous one is being copied.

use std::time::{Duration, Instant};

use anyhow::Context;
use application_service::{
    domain::{Application, ApplicationStatus, Item, Money},
    storage::binary_copy,
};
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgPool, postgres::PgPoolCopyExt};
use zayavki_search::{ApplicationDocument, sample_data::generate_realistic_documents};

/// Who filed the applications: a few people, so an applicant's search still covers a large
/// share of the corpus.
pub const APPLICANTS: [&str; 8] = [
    "a.ivanov",
    "e.petrova",
    "d.smith",
    "m.kuznetsov",
    "i.sokolova",
    "a.garcia",
    "d.novikova",
    "e.volkov",
];

/// Rows per COPY statement (and per transaction).
const CHUNK_ROWS: usize = 10_000;
/// Encoded chunks waiting for their COPY; the generator runs at most this far ahead.
const CHUNKS_AHEAD: usize = 2;
/// 2025-01-01T00:00:00Z: applications are filed over the year that starts here.
const YEAR_START_SECONDS: i64 = 1_735_689_600;
const YEAR_MICROS: i64 = 365 * 24 * 3600 * 1_000_000;

/// What loading took.
#[derive(Clone, Copy, Debug)]
pub struct Loaded {
    pub rows: u64,
    pub elapsed: Duration,
}

/// Generates `count` applications from `seed` and copies them into `applications`.
pub async fn load(pool: &PgPool, count: usize, seed: u64) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let (chunks, mut encoded) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
    let generator = tokio::task::spawn_blocking(move || {
        let mut documents = generate_realistic_documents(count, seed).peekable();
        while documents.peek().is_some() {
            let chunk = documents
                .by_ref()
                .take(CHUNK_ROWS)
                .map(to_application)
                .collect::<anyhow::Result<Vec<_>>>()
                .and_then(|applications| {
                    let rows = applications.len() as u64;
                    binary_copy::encode(&applications).map(|bytes| (rows, bytes))
                });
            // A closed channel means the copying side failed and reports why.
            if chunks.blocking_send(chunk).is_err() {
                break;
            }
        }
    });
    let mut rows = 0;
    while let Some(chunk) = encoded.recv().await {
        let (expected, bytes) = chunk?;
        let mut copy = pool
            .copy_in_raw(binary_copy::COPY_STATEMENT)
            .await
            .context("cannot start COPY into applications")?;
        if let Err(error) = copy.send(bytes).await {
            copy.abort(error.to_string()).await.ok();
            return Err(error).context("COPY into applications failed");
        }
        let copied = copy.finish().await?;
        anyhow::ensure!(
            copied == expected,
            "COPY wrote {copied} rows, expected {expected}"
        );
        rows += copied;
    }
    generator.await.context("the corpus generator panicked")?;
    Ok(Loaded {
        rows,
        elapsed: started.elapsed(),
    })
}

/// A filed application built from a generated document: one of [`APPLICANTS`], filed during
/// 2025, with quantities and prices derived from its id so the corpus stays deterministic.
pub fn to_application(document: ApplicationDocument) -> anyhow::Result<Application> {
    let bits = document.id.as_u128();
    let status: ApplicationStatus = document.status.parse().map_err(anyhow::Error::msg)?;
    let items = document
        .item_names
        .into_iter()
        .enumerate()
        .map(|(position, name)| {
            let mix = bits.rotate_left(17 * position as u32);
            let unit_price = Money::from_minor(500 + (mix % 5_000_000) as i64)
                .context("prices are not negative")?;
            Ok(Item {
                name,
                quantity: 1 + ((mix >> 64) % 20) as i64,
                unit_price,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let total_amount = items
        .iter()
        .try_fold(Money::ZERO, |sum, item| {
            item.amount().and_then(|amount| sum.plus(amount))
        })
        .context("the total fits")?;
    let year_start =
        DateTime::<Utc>::from_timestamp(YEAR_START_SECONDS, 0).context("a valid instant")?;
    let applied_at = year_start
        + TimeDelta::microseconds(
            document
                .applied_at
                .timestamp_micros()
                .rem_euclid(YEAR_MICROS),
        );
    let (updated_at, version) = match status {
        ApplicationStatus::New => (applied_at, 1),
        ApplicationStatus::Processing => {
            (applied_at + TimeDelta::hours(((bits >> 32) % 72) as i64), 2)
        }
        _ => (
            applied_at + TimeDelta::hours(((bits >> 32) % 240) as i64),
            3,
        ),
    };
    Ok(Application {
        id: document.id,
        applicant: APPLICANTS[(bits % APPLICANTS.len() as u128) as usize].to_owned(),
        title: document.title,
        description: document.description,
        items,
        total_amount,
        status,
        applied_at,
        updated_at,
        cancel_reason: None,
        cancelled_at: None,
        rejection_reason: None,
        version,
    })
}
