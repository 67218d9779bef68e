//! CSV as RFC 4180 has it (comma, CRLF, quotes doubled), UTF-8 with a byte order mark so
//! spreadsheet programs read Cyrillic right. Every record has [`WIDTH`] fields: the tables of a
//! report follow one another, each a title record, a header record and its rows, with an empty
//! record between them.

use std::{
    fs::File,
    io::{self, BufWriter, Seek, Write},
};

use csv::{Terminator, Writer, WriterBuilder};

use super::{
    layout::{APPLICATION_COLUMNS, Block, Cell, WIDTH},
    rows::ApplicationRow,
};

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

fn writer(file: File) -> Writer<BufWriter<File>> {
    WriterBuilder::new()
        .terminator(Terminator::CRLF)
        .flexible(false)
        .from_writer(BufWriter::with_capacity(256 * 1024, file))
}

fn record(cells: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut record: Vec<String> = cells.into_iter().collect();
    record.resize(WIDTH, String::new());
    record
}

/// The application rows of a summary, written to a file of their own while the totals are
/// gathered: the header record, then one record per application.
pub struct CsvRows {
    writer: Writer<BufWriter<File>>,
}

impl CsvRows {
    pub fn create(file: File) -> anyhow::Result<Self> {
        let mut writer = writer(file);
        writer.write_record(APPLICATION_COLUMNS)?;
        Ok(Self { writer })
    }

    pub fn write(&mut self, row: &ApplicationRow) -> anyhow::Result<()> {
        self.writer.write_record(
            application_cells(row)
                .iter()
                .map(Cell::to_text)
                .collect::<Vec<_>>(),
        )?;
        Ok(())
    }

    /// Flushes and hands back the file, positioned at its start.
    pub fn finish(self) -> anyhow::Result<File> {
        let mut file = self
            .writer
            .into_inner()
            .map_err(|error| error.into_error())?
            .into_inner()
            .map_err(|error| error.into_error())?;
        file.rewind()?;
        Ok(file)
    }
}

/// The cells of one application row.
pub fn application_cells(row: &ApplicationRow) -> Vec<Cell> {
    vec![
        Cell::text(&row.id),
        Cell::text(&row.applicant),
        Cell::text(&row.title),
        Cell::text(row.status),
        Cell::Time(row.applied_at),
        Cell::Time(row.updated_at),
        Cell::count(row.items.len() as u64),
        Cell::Money(row.total_amount),
    ]
}

/// Writes the report to `out`: the byte order mark, `blocks`, then (when given) a table titled
/// `rows_title` whose records are copied from `rows`.
pub fn compose(out: File, blocks: &[Block], rows: Option<(&str, File)>) -> anyhow::Result<()> {
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    out.write_all(BYTE_ORDER_MARK)?;
    let mut csv = WriterBuilder::new()
        .terminator(Terminator::CRLF)
        .flexible(false)
        .from_writer(&mut out);
    for (index, block) in blocks.iter().enumerate() {
        if index > 0 {
            csv.write_record(record([]))?;
        }
        csv.write_record(record([block.title.clone()]))?;
        csv.write_record(record(block.header.iter().map(|name| (*name).to_owned())))?;
        for row in &block.rows {
            csv.write_record(record(row.iter().map(Cell::to_text)))?;
        }
    }
    if let Some((title, _)) = &rows {
        if !blocks.is_empty() {
            csv.write_record(record([]))?;
        }
        csv.write_record(record([(*title).to_owned()]))?;
    }
    csv.flush()?;
    drop(csv);
    if let Some((_, mut rows)) = rows {
        io::copy(&mut rows, &mut out)?;
    }
    out.into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()?;
    Ok(())
}
