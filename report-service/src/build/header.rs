//! What every report file says about itself, and the name it is downloaded under.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::layout::{Block, Cell};
use crate::domain::{ReportJob, ReportKind, status_name};

/// The report's identity and parameters, as written at the top of its file.
#[derive(Clone, Debug)]
pub struct ReportHeader {
    pub report_id: Uuid,
    pub kind: ReportKind,
    pub generated_at: DateTime<Utc>,
    pub owner: String,
    pub applied_from: Option<String>,
    pub applied_to: Option<String>,
    pub statuses: Vec<&'static str>,
}

impl ReportHeader {
    pub fn for_job(job: &ReportJob, generated_at: DateTime<Utc>) -> Self {
        Self {
            report_id: job.report_id,
            kind: job.kind,
            generated_at,
            owner: job.owner.clone(),
            applied_from: job.parameters.applied_from.clone(),
            applied_to: job.parameters.applied_to.clone(),
            statuses: job
                .parameters
                .statuses
                .iter()
                .copied()
                .map(status_name)
                .collect(),
        }
    }

    pub fn title(&self) -> &'static str {
        match self.kind {
            ReportKind::Purchase => "Отчёт о закупке",
            ReportKind::ApplicationsSummary => "Сводка заявок",
        }
    }

    /// The first table of a summary: what the report covers.
    pub fn summary_block(&self) -> Block {
        let open = || "не ограничено".to_owned();
        let statuses = if self.statuses.is_empty() {
            "все".to_owned()
        } else {
            self.statuses.join(", ")
        };
        Block::new(self.title(), &["Параметр", "Значение"])
            .row(vec![
                Cell::text("Отчёт"),
                Cell::text(self.report_id.to_string()),
            ])
            .row(vec![
                Cell::text("Сформирован"),
                Cell::Time(self.generated_at),
            ])
            .row(vec![Cell::text("Владелец"), Cell::text(&self.owner)])
            .row(vec![
                Cell::text("Поданы с"),
                Cell::Text(self.applied_from.clone().unwrap_or_else(open)),
            ])
            .row(vec![
                Cell::text("Поданы по"),
                Cell::Text(self.applied_to.clone().unwrap_or_else(open)),
            ])
            .row(vec![Cell::text("Статусы"), Cell::Text(statuses)])
    }

    /// The JSON file's top-level fields.
    pub fn json_fields(&self) -> Value {
        json!({
            "reportId": self.report_id,
            "kind": self.kind.as_str(),
            "title": self.title(),
            "generatedAt": super::rows::iso_time(self.generated_at),
            "owner": self.owner,
        })
    }
}

/// The download name: `Сводка заявок 2026-03-01 — 2026-03-31.xlsx`,
/// `Отчёт о закупке «Бумага».csv`. Characters file systems refuse are replaced.
pub fn file_name(header: &ReportHeader, subject: Option<&str>, extension: &str) -> String {
    let stem = match (header.kind, subject) {
        (ReportKind::Purchase, Some(title)) => format!("{} «{}»", header.title(), title),
        (ReportKind::Purchase, None) => format!("{} {}", header.title(), header.report_id),
        (ReportKind::ApplicationsSummary, _) => {
            let day = header.generated_at.format("%Y-%m-%d").to_string();
            match (&header.applied_from, &header.applied_to) {
                (None, None) => format!("{} {day}", header.title()),
                (from, to) => format!(
                    "{} {} — {}",
                    header.title(),
                    from.as_deref().unwrap_or("…"),
                    to.as_deref().unwrap_or(&day)
                ),
            }
        }
    };
    let cleaned: String = stem
        .chars()
        .map(|character| match character {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '-',
            character if character.is_control() => ' ',
            character => character,
        })
        .take(120)
        .collect();
    format!("{}.{extension}", cleaned.trim())
}
