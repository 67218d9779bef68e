//! XLSX through `rust_xlsxwriter` in constant-memory mode: each sheet's rows go to a temporary
//! file as they are written, so a million rows take little memory. Amounts are numbers shown
//! with two decimals, times and days are date cells shown as ISO 8601 (UTC).
//!
//! A sheet holds at most 1,048,576 rows; the application rows continue on `Заявки (2)`,
//! `Заявки (3)` and so on, each with its header row.

use std::path::Path;

use rust_xlsxwriter::{ColNum, Format, RowNum, Workbook, Worksheet, XlsxError};

use super::{
    csv_file::application_cells,
    layout::{APPLICATION_COLUMNS, Block, Cell},
    rows::{ApplicationRow, money_f64},
};

/// Rows one sheet holds, its header row included.
pub const SHEET_ROW_LIMIT: u32 = 1_048_576;
const SUMMARY_SHEET: &str = "Сводка";
const ROWS_SHEET: &str = "Заявки";

/// The cell formats of a workbook.
struct Formats {
    bold: Format,
    money: Format,
    time: Format,
    day: Format,
}

impl Formats {
    fn new() -> Self {
        Self {
            bold: Format::new().set_bold(),
            money: Format::new().set_num_format("0.00"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            day: Format::new().set_num_format("yyyy-mm-dd"),
        }
    }
}

fn write_cell(
    sheet: &mut Worksheet,
    row: RowNum,
    column: ColNum,
    cell: &Cell,
    formats: &Formats,
) -> Result<(), XlsxError> {
    match cell {
        Cell::Text(text) => sheet.write_string(row, column, text)?,
        Cell::Count(count) => sheet.write_number(row, column, *count as f64)?,
        Cell::Money(amount) => {
            sheet.write_number_with_format(row, column, money_f64(*amount), &formats.money)?
        }
        Cell::Total(total) => {
            sheet.write_number_with_format(row, column, total.to_f64(), &formats.money)?
        }
        Cell::Time(at) => {
            sheet.write_datetime_with_format(row, column, at.naive_utc(), &formats.time)?
        }
        Cell::Day(day) => sheet.write_datetime_with_format(row, column, *day, &formats.day)?,
        Cell::Empty => sheet,
    };
    Ok(())
}

fn write_header(
    sheet: &mut Worksheet,
    row: RowNum,
    names: &[&str],
    formats: &Formats,
) -> Result<(), XlsxError> {
    for (column, name) in names.iter().enumerate() {
        sheet.write_string_with_format(row, column as ColNum, *name, &formats.bold)?;
    }
    Ok(())
}

/// Writes `blocks` one under another from the top of `sheet`, an empty row between them.
fn write_blocks(
    sheet: &mut Worksheet,
    blocks: &[Block],
    formats: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_column_width(0, 28)?;
    sheet.set_column_width(1, 40)?;
    sheet.set_column_width(2, 16)?;
    sheet.set_column_width(3, 16)?;
    let mut row: RowNum = 0;
    for block in blocks {
        sheet.write_string_with_format(row, 0, &block.title, &formats.bold)?;
        write_header(sheet, row + 1, &block.header, formats)?;
        row += 2;
        for cells in &block.rows {
            for (column, cell) in cells.iter().enumerate() {
                write_cell(sheet, row, column as ColNum, cell, formats)?;
            }
            row += 1;
        }
        row += 1;
    }
    Ok(())
}

/// A summary workbook being written: the summary sheet first (filled last), then the rows.
pub struct XlsxSummary {
    workbook: Workbook,
    formats: Formats,
    rows_per_sheet: u32,
    rows_sheet: usize,
    next_row: RowNum,
}

impl XlsxSummary {
    /// `work_dir` holds the sheets' temporary files; `rows_per_sheet` (header included) is
    /// [`SHEET_ROW_LIMIT`] but for tests.
    pub fn create(work_dir: &Path, rows_per_sheet: u32) -> anyhow::Result<Self> {
        anyhow::ensure!(
            (2..=SHEET_ROW_LIMIT).contains(&rows_per_sheet),
            "a sheet holds 2 to {SHEET_ROW_LIMIT} rows"
        );
        let mut workbook = Workbook::new();
        workbook.set_tempdir(work_dir)?;
        workbook
            .add_worksheet_with_constant_memory()
            .set_name(SUMMARY_SHEET)?;
        let mut summary = Self {
            workbook,
            formats: Formats::new(),
            rows_per_sheet,
            rows_sheet: 0,
            next_row: 0,
        };
        summary.add_rows_sheet()?;
        Ok(summary)
    }

    fn add_rows_sheet(&mut self) -> anyhow::Result<()> {
        let number = self.workbook.worksheets_mut().len();
        let name = if number == 1 {
            ROWS_SHEET.to_owned()
        } else {
            format!("{ROWS_SHEET} ({number})")
        };
        let sheet = self.workbook.add_worksheet_with_constant_memory();
        sheet.set_name(name)?;
        for (column, width) in [38, 16, 40, 14, 20, 20, 10, 16].into_iter().enumerate() {
            sheet.set_column_width(column as ColNum, width)?;
        }
        write_header(sheet, 0, &APPLICATION_COLUMNS, &self.formats)?;
        sheet.set_freeze_panes(1, 0)?;
        self.rows_sheet = number;
        self.next_row = 1;
        Ok(())
    }

    pub fn write(&mut self, row: &ApplicationRow) -> anyhow::Result<()> {
        if self.next_row >= self.rows_per_sheet {
            self.add_rows_sheet()?;
        }
        let sheet = self.workbook.worksheet_from_index(self.rows_sheet)?;
        for (column, cell) in application_cells(row).iter().enumerate() {
            write_cell(sheet, self.next_row, column as ColNum, cell, &self.formats)?;
        }
        self.next_row += 1;
        Ok(())
    }

    /// Fills the summary sheet with `blocks` and writes the workbook to `out`.
    pub fn finish(mut self, blocks: &[Block], out: &Path) -> anyhow::Result<()> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        write_blocks(sheet, blocks, &self.formats)?;
        self.workbook.save(out)?;
        Ok(())
    }
}

/// Writes a small workbook with one sheet of `blocks` (purchase reports).
pub fn write_blocks_workbook(sheet_name: &str, blocks: &[Block], out: &Path) -> anyhow::Result<()> {
    let mut workbook = Workbook::new();
    let formats = Formats::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name)?;
    write_blocks(sheet, blocks, &formats)?;
    workbook.save(out)?;
    Ok(())
}
