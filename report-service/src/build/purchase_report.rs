//! The purchase report of one completed application: what it is, its items and total, and the
//! history of its process as business-process recorded it.

use std::path::Path;

use serde_json::{Value, json};

use super::{
    csv_file,
    header::ReportHeader,
    json_file::{self, application_json},
    layout::{Block, Cell},
    rows::ApplicationRow,
    xlsx_file,
};
use crate::domain::{HistoryStep, ReportFormat};

/// Writes the report of `application` with `history` to `out`.
pub fn write(
    format: ReportFormat,
    header: &ReportHeader,
    application: &ApplicationRow,
    history: &[HistoryStep],
    out: &Path,
) -> anyhow::Result<()> {
    match format {
        ReportFormat::Csv => csv_file::compose(
            std::fs::File::create(out)?,
            &blocks(header, application, history),
            None,
        ),
        ReportFormat::Json => {
            let mut document = header.json_fields();
            document["application"] = application_json(application);
            document["history"] = Value::Array(
                history
                    .iter()
                    .map(|step| json!({"step": step.step, "at": step.at, "details": step.details}))
                    .collect(),
            );
            json_file::write_document(std::fs::File::create(out)?, &document)
        }
        ReportFormat::Xlsx => {
            xlsx_file::write_blocks_workbook("Заявка", &blocks(header, application, history), out)
        }
    }
}

/// The report's tables: the application, its items with the total, the process history.
pub fn blocks(
    header: &ReportHeader,
    application: &ApplicationRow,
    history: &[HistoryStep],
) -> Vec<Block> {
    let about = Block::new(header.title(), &["Параметр", "Значение"])
        .row(vec![
            Cell::text("Отчёт"),
            Cell::text(header.report_id.to_string()),
        ])
        .row(vec![
            Cell::text("Сформирован"),
            Cell::Time(header.generated_at),
        ])
        .row(vec![Cell::text("Заявка"), Cell::text(&application.id)])
        .row(vec![Cell::text("Название"), Cell::text(&application.title)])
        .row(vec![
            Cell::text("Заявитель"),
            Cell::text(&application.applicant),
        ])
        .row(vec![Cell::text("Статус"), Cell::text(application.status)])
        .row(vec![
            Cell::text("Подана"),
            Cell::Time(application.applied_at),
        ])
        .row(vec![
            Cell::text("Изменена"),
            Cell::Time(application.updated_at),
        ])
        .row(vec![
            Cell::text("Описание"),
            Cell::Text(application.description.clone().unwrap_or_default()),
        ]);
    let mut items = Block::new("Позиции", &["Позиция", "Количество", "Цена", "Сумма"]);
    for item in &application.items {
        items.push(vec![
            Cell::text(&item.name),
            Cell::Count(item.quantity),
            Cell::Money(item.unit_price),
            Cell::Money(item.amount),
        ]);
    }
    items.push(vec![
        Cell::text("Итого"),
        Cell::Empty,
        Cell::Empty,
        Cell::Money(application.total_amount),
    ]);
    let mut steps = Block::new("История процесса", &["Шаг", "Время", "Подробности"]);
    for step in history {
        let details = match &step.details {
            Value::Null => String::new(),
            Value::Object(fields) if fields.is_empty() => String::new(),
            details => details.to_string(),
        };
        steps.push(vec![
            Cell::text(&step.step),
            Cell::text(&step.at),
            Cell::Text(details),
        ]);
    }
    vec![about, items, steps]
}
