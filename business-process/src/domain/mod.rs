//! Types that are valid once constructed: process states and their moves, budget months, report
//! kinds and formats, and every outcome of a use case other than success.

pub mod error;
pub mod month;
pub mod process;
pub mod state;

pub use error::ProcessError;
pub use month::Month;
pub use process::Process;
pub use state::ProcessState;
pub use zayavki_common::report::{ReportFormat, ReportKind};
