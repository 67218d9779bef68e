//! Report kinds and formats, as `report.job` messages name them.

use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// One completed application with its items and process history.
    Purchase,
    /// Applications over a period and statuses.
    ApplicationsSummary,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Purchase => "PURCHASE",
            Self::ApplicationsSummary => "APPLICATIONS_SUMMARY",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Csv,
    Json,
    Xlsx,
}

impl ReportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::Json => "JSON",
            Self::Xlsx => "XLSX",
        }
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for ReportFormat {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "CSV" => Ok(Self::Csv),
            "JSON" => Ok(Self::Json),
            "XLSX" => Ok(Self::Xlsx),
            _ => Err(format!(
                "{raw:?} is not a report format (CSV, JSON or XLSX)"
            )),
        }
    }
}
