//! The report vocabulary of `report.job` messages, shared by business-process (which asks for
//! reports) and report-service (which builds them): the kind of report and its file format.

use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// One completed application with its items, totals and process history.
    Purchase,
    /// Applications over a period and statuses, with totals.
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

impl FromStr for ReportKind {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "PURCHASE" => Ok(Self::Purchase),
            "APPLICATIONS_SUMMARY" => Ok(Self::ApplicationsSummary),
            _ => Err(format!(
                "{raw:?} is not a report kind (PURCHASE or APPLICATIONS_SUMMARY)"
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
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
        match raw {
            "CSV" => Ok(Self::Csv),
            "JSON" => Ok(Self::Json),
            "XLSX" => Ok(Self::Xlsx),
            _ => Err(format!(
                "{raw:?} is not a report format (CSV, JSON or XLSX)"
            )),
        }
    }
}
