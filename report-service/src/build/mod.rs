//! Building a report file from the exported rows.
//!
//! The rows stream from application-service's export into a writer on a blocking thread through
//! a small bounded channel, so the export is read only as fast as the file is written and
//! memory stays bounded whatever the row count. The file is written to a temporary file in the
//! work directory, then hashed; the worker uploads it.

mod csv_file;
mod header;
mod json_file;
mod layout;
mod purchase_report;
pub mod rows;
pub mod summary;
mod summary_report;
pub mod xlsx_file;

use std::{
    io::Read,
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::Utc;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tonic::Streaming;
use zayavki_proto::applications::v1::{
    Application, ExportApplicationsRequest, ExportApplicationsResponse, ExportOrder,
};

use self::{header::ReportHeader, rows::ApplicationRow, summary_report::SummaryWriter};
use crate::{
    clients::{ExportClient, export::is_passing},
    domain::{ReportFormat, ReportJob, ReportKind},
};

/// Rows per export message asked for.
const CHUNK_SIZE: i32 = 1_000;
/// Export messages waiting for the writer: with `CHUNK_SIZE`, bounds the rows in memory.
const CHUNKS_IN_FLIGHT: usize = 4;
/// An export that sends nothing for this long has stalled.
const EXPORT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// It may work later (application-service away, the disk or the store failing).
    #[error("{0:#}")]
    Passing(anyhow::Error),
    /// It never will (the application does not exist, the export refuses the parameters).
    #[error("{0}")]
    Permanent(String),
}

impl From<anyhow::Error> for BuildError {
    fn from(error: anyhow::Error) -> Self {
        Self::Passing(error)
    }
}

/// A finished file, deleted when dropped.
#[derive(Debug)]
pub struct BuiltReport {
    pub file: tempfile::TempPath,
    pub size: u64,
    pub sha256: String,
    pub rows: u64,
    /// The name it is downloaded under.
    pub file_name: String,
}

#[derive(Clone)]
pub struct Builder {
    export: ExportClient,
    work_dir: PathBuf,
    xlsx_rows_per_sheet: u32,
}

impl Builder {
    pub fn new(export: ExportClient, work_dir: PathBuf, xlsx_rows_per_sheet: u32) -> Self {
        Self {
            export,
            work_dir,
            xlsx_rows_per_sheet,
        }
    }

    /// Builds the report of `job`, telling its progress (0 to 99) through `progress`.
    pub async fn build(
        &self,
        job: &ReportJob,
        progress: &watch::Sender<u8>,
    ) -> Result<BuiltReport, BuildError> {
        let header = ReportHeader::for_job(job, Utc::now());
        let out = tempfile::Builder::new()
            .prefix("report-")
            .suffix(&format!(".{}", job.format.extension()))
            .tempfile_in(&self.work_dir)
            .map_err(|error| BuildError::Passing(error.into()))?
            .into_temp_path();
        let stream = self
            .export
            .export(export_request(job))
            .await
            .map_err(export_failure)?;
        let (rows, subject) = match job.kind {
            ReportKind::Purchase => self.purchase(job, &header, stream, &out).await?,
            ReportKind::ApplicationsSummary => {
                let rows = self
                    .summary(job, header.clone(), stream, &out, progress)
                    .await?;
                (rows, None)
            }
        };
        let path = out.to_path_buf();
        let (size, sha256) = tokio::task::spawn_blocking(move || digest(&path))
            .await
            .map_err(|error| BuildError::Passing(error.into()))??;
        Ok(BuiltReport {
            file: out,
            size,
            sha256,
            rows,
            file_name: header::file_name(&header, subject.as_deref(), job.format.extension()),
        })
    }

    async fn purchase(
        &self,
        job: &ReportJob,
        header: &ReportHeader,
        mut stream: Streaming<ExportApplicationsResponse>,
        out: &Path,
    ) -> Result<(u64, Option<String>), BuildError> {
        let mut found = Vec::new();
        while let Some(message) = next_message(&mut stream).await? {
            found.extend(owned_rows(job, message.applications));
        }
        let application_id = job.parameters.application_id.unwrap_or_default();
        let Some(application) = found.into_iter().next() else {
            return Err(BuildError::Permanent(format!(
                "application {application_id} does not exist or is not {}'s",
                job.owner
            )));
        };
        let application =
            ApplicationRow::from_export(application).map_err(BuildError::Permanent)?;
        if application.status != "COMPLETED" {
            return Err(BuildError::Permanent(format!(
                "application {application_id} is {}, not COMPLETED",
                application.status
            )));
        }
        let (format, header, history, path) = (
            job.format,
            header.clone(),
            job.parameters.history.clone(),
            out.to_path_buf(),
        );
        let title = application.title.clone();
        tokio::task::spawn_blocking(move || {
            purchase_report::write(format, &header, &application, &history, &path)
        })
        .await
        .map_err(|error| BuildError::Passing(error.into()))??;
        Ok((1, Some(title)))
    }

    async fn summary(
        &self,
        job: &ReportJob,
        header: ReportHeader,
        mut stream: Streaming<ExportApplicationsResponse>,
        out: &Path,
        progress: &watch::Sender<u8>,
    ) -> Result<u64, BuildError> {
        let (chunks, mut received) = mpsc::channel::<Vec<Application>>(CHUNKS_IN_FLIGHT);
        let writer =
            SummaryWriter::create(job.format, header, &self.work_dir, self.xlsx_rows_per_sheet)?;
        let path = out.to_path_buf();
        let writing = tokio::task::spawn_blocking(move || {
            let mut writer = writer;
            while let Some(chunk) = received.blocking_recv() {
                for application in chunk {
                    let row =
                        ApplicationRow::from_export(application).map_err(BuildError::Permanent)?;
                    writer.write(&row)?;
                }
            }
            let rows = writer.rows();
            writer.finish(&path)?;
            Ok::<u64, BuildError>(rows)
        });
        let streamed = async {
            let mut total: Option<i64> = None;
            let mut sent: i64 = 0;
            while let Some(message) = next_message(&mut stream).await? {
                if total.is_none() {
                    total = message.total;
                }
                sent += message.applications.len() as i64;
                let chunk = owned_rows(job, message.applications);
                if chunks.send(chunk).await.is_err() {
                    // The writer stopped; its own error says why.
                    break;
                }
                if let Some(total) = total.filter(|total| *total > 0) {
                    let percent = (sent.min(total) * 99 / total) as u8;
                    progress.send_if_modified(|shown| {
                        let changed = *shown != percent;
                        *shown = percent;
                        changed
                    });
                }
            }
            drop(chunks);
            Ok::<(), BuildError>(())
        };
        let streamed = streamed.await;
        let written = writing
            .await
            .map_err(|error| BuildError::Passing(error.into()))?;
        // A writer failure explains a stream cut short; otherwise the stream's own error.
        let rows = written?;
        streamed?;
        Ok(rows)
    }
}

/// The export request for `job`: an applicant's job exports only their own applications.
fn export_request(job: &ReportJob) -> ExportApplicationsRequest {
    let parameters = &job.parameters;
    ExportApplicationsRequest {
        applied_from: parameters.applied_from.clone().unwrap_or_default(),
        applied_to: parameters.applied_to.clone().unwrap_or_default(),
        status: parameters
            .statuses
            .iter()
            .map(|status| *status as i32)
            .collect(),
        applicant: if job.is_owners_only() {
            job.owner.clone()
        } else {
            String::new()
        },
        application_ids: parameters
            .application_id
            .map(|id| vec![id.to_string()])
            .unwrap_or_default(),
        order: ExportOrder::AppliedAt as i32,
        chunk_size: CHUNK_SIZE,
    }
}

/// The rows the job's owner may see: for an applicant's job, only their own (the export is
/// asked for exactly those; this keeps it so whatever it answers).
fn owned_rows(job: &ReportJob, applications: Vec<Application>) -> Vec<Application> {
    if job.is_owners_only() {
        applications
            .into_iter()
            .filter(|application| application.applicant == job.owner)
            .collect()
    } else {
        applications
    }
}

async fn next_message(
    stream: &mut Streaming<ExportApplicationsResponse>,
) -> Result<Option<ExportApplicationsResponse>, BuildError> {
    match tokio::time::timeout(EXPORT_IDLE_TIMEOUT, stream.message()).await {
        Ok(Ok(message)) => Ok(message),
        Ok(Err(status)) => Err(export_failure(status)),
        Err(_) => Err(BuildError::Passing(anyhow::anyhow!(
            "the export sent nothing for {EXPORT_IDLE_TIMEOUT:?}"
        ))),
    }
}

fn export_failure(status: tonic::Status) -> BuildError {
    let reason = format!(
        "application-service's export failed: {:?} {}",
        status.code(),
        status.message()
    );
    if is_passing(&status) {
        BuildError::Passing(anyhow::anyhow!(reason))
    } else {
        BuildError::Permanent(reason)
    }
}

/// The size and the SHA-256 (hex) of the file at `path`.
fn digest(path: &Path) -> Result<(u64, String), BuildError> {
    let mut file = std::fs::File::open(path).map_err(|error| BuildError::Passing(error.into()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 1024 * 1024];
    let mut size = 0_u64;
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|error| BuildError::Passing(error.into()))?;
        if read == 0 {
            break;
        }
        size += read as u64;
        hasher.update(&buffer[..read]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// The file format's media type.
pub fn content_type(format: ReportFormat) -> &'static str {
    format.content_type()
}
