//! Report kinds, formats, statuses and jobs, valid once constructed.

mod job;
mod report;

pub use job::{HistoryStep, JobError, ReportJob, ReportParameters, status_name};
pub use report::{ReportFormat, ReportKind, ReportStatus};
