//! The applications summary, written in one pass: each row goes to the rows table as it
//! arrives while the totals are gathered; the totals are written ahead of the rows at the end.

use std::path::Path;

use super::{
    csv_file::{self, CsvRows},
    header::ReportHeader,
    json_file::{self, JsonRows},
    layout::{Block, Cell},
    rows::ApplicationRow,
    summary::Summary,
    xlsx_file::XlsxSummary,
};
use crate::domain::ReportFormat;

enum RowSink {
    Csv(Box<CsvRows>),
    Json(JsonRows),
    Xlsx(Box<XlsxSummary>),
}

pub struct SummaryWriter {
    sink: RowSink,
    header: ReportHeader,
    summary: Summary,
}

impl SummaryWriter {
    /// Temporary files go to `work_dir`; `xlsx_rows_per_sheet` is the XLSX sheet limit.
    pub fn create(
        format: ReportFormat,
        header: ReportHeader,
        work_dir: &Path,
        xlsx_rows_per_sheet: u32,
    ) -> anyhow::Result<Self> {
        let sink = match format {
            ReportFormat::Csv => {
                RowSink::Csv(Box::new(CsvRows::create(tempfile::tempfile_in(work_dir)?)?))
            }
            ReportFormat::Json => {
                RowSink::Json(JsonRows::create(tempfile::tempfile_in(work_dir)?)?)
            }
            ReportFormat::Xlsx => RowSink::Xlsx(Box::new(XlsxSummary::create(
                work_dir,
                xlsx_rows_per_sheet,
            )?)),
        };
        Ok(Self {
            sink,
            header,
            summary: Summary::default(),
        })
    }

    pub fn write(&mut self, row: &ApplicationRow) -> anyhow::Result<()> {
        self.summary.add(row);
        match &mut self.sink {
            RowSink::Csv(rows) => rows.write(row),
            RowSink::Json(rows) => rows.write(row),
            RowSink::Xlsx(rows) => rows.write(row),
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.summary.overall.applications
    }

    /// Writes the finished report to `out`.
    pub fn finish(self, out: &Path) -> anyhow::Result<()> {
        let Self {
            sink,
            header,
            summary,
        } = self;
        match sink {
            RowSink::Csv(rows) => {
                let rows = rows.finish()?;
                csv_file::compose(
                    std::fs::File::create(out)?,
                    &summary_blocks(&header, &summary),
                    Some(("Заявки", rows)),
                )
            }
            RowSink::Json(rows) => json_file::compose_summary(
                std::fs::File::create(out)?,
                &header,
                &summary,
                rows.finish()?,
            ),
            RowSink::Xlsx(workbook) => workbook.finish(&summary_blocks(&header, &summary), out),
        }
    }
}

/// The summary's tables: what it covers, the totals, by status, by day, the top items.
pub fn summary_blocks(header: &ReportHeader, summary: &Summary) -> Vec<Block> {
    let mut by_status = Block::new("По статусам", &["Статус", "Заявок", "Сумма"]);
    for (status, tally) in summary.by_status() {
        by_status.push(vec![
            Cell::text(status),
            Cell::count(tally.applications),
            Cell::Total(tally.total),
        ]);
    }
    let mut by_day = Block::new("По дням (UTC)", &["День", "Заявок", "Сумма"]);
    for (day, tally) in &summary.by_day {
        by_day.push(vec![
            Cell::Day(*day),
            Cell::count(tally.applications),
            Cell::Total(tally.total),
        ]);
    }
    let mut top_items = Block::new(
        "Позиции с наибольшей суммой",
        &["Позиция", "Количество", "Сумма"],
    );
    for item in summary.top_items() {
        top_items.push(vec![
            Cell::text(&item.name),
            Cell::Count(item.quantity),
            Cell::Total(item.total),
        ]);
    }
    vec![
        header.summary_block(),
        Block::new("Итого", &["Заявок", "Сумма"]).row(vec![
            Cell::count(summary.overall.applications),
            Cell::Total(summary.overall.total),
        ]),
        by_status,
        by_day,
        top_items,
    ]
}
