//! JSON: one object with the report's fields, its summary and its rows. Amounts are decimal
//! strings (`"1250.50"`), times ISO 8601 in UTC. The rows are written to a file of their own
//! while the totals are gathered, then copied in after the summary.

use std::{
    fs::File,
    io::{self, BufWriter, Seek, Write},
};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{
    header::ReportHeader,
    rows::{ApplicationRow, iso_time},
    summary::Summary,
};

/// `[row, row, …]` in a file of their own.
pub struct JsonRows {
    out: BufWriter<File>,
    empty: bool,
}

impl JsonRows {
    pub fn create(file: File) -> anyhow::Result<Self> {
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        out.write_all(b"[")?;
        Ok(Self { out, empty: true })
    }

    pub fn write(&mut self, row: &ApplicationRow) -> anyhow::Result<()> {
        if !self.empty {
            self.out.write_all(b",\n")?;
        }
        self.empty = false;
        serde_json::to_writer(&mut self.out, &ApplicationJson::new(row))?;
        Ok(())
    }

    /// Closes the array and hands back the file, positioned at its start.
    pub fn finish(mut self) -> anyhow::Result<File> {
        self.out.write_all(b"]")?;
        let mut file = self.out.into_inner().map_err(|error| error.into_error())?;
        file.rewind()?;
        Ok(file)
    }
}

/// One application with its items, as the JSON rows carry it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationJson<'a> {
    id: &'a str,
    applicant: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    status: &'a str,
    applied_at: String,
    updated_at: String,
    items: Vec<ItemJson<'a>>,
    total_amount: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemJson<'a> {
    name: &'a str,
    quantity: i64,
    unit_price: String,
    amount: String,
}

impl<'a> ApplicationJson<'a> {
    fn new(row: &'a ApplicationRow) -> Self {
        Self {
            id: &row.id,
            applicant: &row.applicant,
            title: &row.title,
            description: row.description.as_deref(),
            status: row.status,
            applied_at: iso_time(row.applied_at),
            updated_at: iso_time(row.updated_at),
            items: row
                .items
                .iter()
                .map(|item| ItemJson {
                    name: &item.name,
                    quantity: item.quantity,
                    unit_price: item.unit_price.to_string(),
                    amount: item.amount.to_string(),
                })
                .collect(),
            total_amount: row.total_amount.to_string(),
        }
    }
}

/// One application with its items, as a JSON value.
pub fn application_json(row: &ApplicationRow) -> Value {
    serde_json::to_value(ApplicationJson::new(row)).unwrap_or(Value::Null)
}

fn summary_json(summary: &Summary) -> Value {
    json!({
        "applications": summary.overall.applications,
        "totalAmount": summary.overall.total.to_decimal_string(),
        "byStatus": summary.by_status().into_iter().map(|(status, tally)| json!({
            "status": status,
            "applications": tally.applications,
            "totalAmount": tally.total.to_decimal_string(),
        })).collect::<Vec<_>>(),
        "byDay": summary.by_day.iter().map(|(day, tally)| json!({
            "day": day.format("%Y-%m-%d").to_string(),
            "applications": tally.applications,
            "totalAmount": tally.total.to_decimal_string(),
        })).collect::<Vec<_>>(),
        "topItems": summary.top_items().into_iter().map(|item| json!({
            "name": item.name,
            "quantity": item.quantity,
            "totalAmount": item.total.to_decimal_string(),
        })).collect::<Vec<_>>(),
    })
}

/// Writes a summary report: `{…header, "parameters", "summary", "rows": [...]}`.
pub fn compose_summary(
    out: File,
    header: &ReportHeader,
    summary: &Summary,
    mut rows: File,
) -> anyhow::Result<()> {
    let mut object = match header.json_fields() {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    object.insert(
        "parameters".to_owned(),
        json!({
            "appliedFrom": header.applied_from,
            "appliedTo": header.applied_to,
            "statuses": header.statuses,
        }),
    );
    object.insert("summary".to_owned(), summary_json(summary));
    let opening = serde_json::to_vec(&Value::Object(object))?;
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    // The object without its closing brace, then the rows, then the brace.
    out.write_all(&opening[..opening.len() - 1])?;
    out.write_all(b",\"rows\":")?;
    io::copy(&mut rows, &mut out)?;
    out.write_all(b"}")?;
    out.into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()?;
    Ok(())
}

/// Writes a whole document at once (purchase reports are small).
pub fn write_document(out: File, document: &Value) -> anyhow::Result<()> {
    let mut out = BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, document)?;
    out.into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()?;
    Ok(())
}
