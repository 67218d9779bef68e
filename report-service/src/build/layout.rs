//! The tables a report is made of, independent of the file format: CSV writes them one after
//! another, XLSX onto sheets, each with typed cells.

use chrono::{DateTime, NaiveDate, Utc};
use zayavki_common::money::Money;

use super::rows::{Total, iso_time};

/// One cell, typed so that spreadsheets get numbers and dates, and text files exact strings.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Count(i64),
    Money(Money),
    Total(Total),
    Time(DateTime<Utc>),
    Day(NaiveDate),
    Empty,
}

impl Cell {
    pub fn text(value: impl Into<String>) -> Self {
        Self::Text(value.into())
    }

    pub fn count(value: u64) -> Self {
        Self::Count(i64::try_from(value).unwrap_or(i64::MAX))
    }

    /// As a text file writes it: amounts with two decimals, times in ISO 8601 (UTC).
    pub fn to_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Count(count) => count.to_string(),
            Self::Money(amount) => amount.to_string(),
            Self::Total(total) => total.to_decimal_string(),
            Self::Time(at) => iso_time(*at),
            Self::Day(day) => day.format("%Y-%m-%d").to_string(),
            Self::Empty => String::new(),
        }
    }
}

/// A titled table: a header row and its rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub title: String,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

impl Block {
    pub fn new(title: impl Into<String>, header: &[&'static str]) -> Self {
        Self {
            title: title.into(),
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(mut self, cells: Vec<Cell>) -> Self {
        self.rows.push(cells);
        self
    }

    pub fn push(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }
}

/// The columns of the application rows of a summary report.
pub const APPLICATION_COLUMNS: [&str; 8] = [
    "Номер заявки",
    "Заявитель",
    "Название",
    "Статус",
    "Подана",
    "Изменена",
    "Позиций",
    "Сумма",
];

/// The widest table of any report: CSV pads every record to it, so each has as many fields.
pub const WIDTH: usize = APPLICATION_COLUMNS.len();
