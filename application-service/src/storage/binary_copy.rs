//! Encodes applications in PostgreSQL's binary COPY format, so a batch is inserted with one
//! `COPY … FROM STDIN (FORMAT binary)` inside its transaction.

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};

use crate::domain::Application;

/// The statement the encoded rows answer, column for column.
pub const COPY_STATEMENT: &str = "COPY applications (id, applicant, title, description, items, \
     total_amount_minor, status, applied_at, updated_at, version) FROM STDIN (FORMAT binary)";

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
const COLUMN_COUNT: i16 = 10;
/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
const JSONB_FORMAT_VERSION: u8 = 1;

/// Encodes `applications` as one complete binary COPY stream.
pub fn encode(applications: &[Application]) -> anyhow::Result<BytesMut> {
    let mut buffer = BytesMut::with_capacity(64 + applications.len() * 256);
    buffer.put_slice(SIGNATURE);
    buffer.put_i32(0); // flags
    buffer.put_i32(0); // header extension length
    for application in applications {
        encode_row(&mut buffer, application)?;
    }
    buffer.put_i16(-1);
    Ok(buffer)
}

fn encode_row(buffer: &mut BytesMut, application: &Application) -> anyhow::Result<()> {
    buffer.put_i16(COLUMN_COUNT);
    put_field(buffer, application.id.as_bytes())?;
    put_field(buffer, application.applicant.as_bytes())?;
    put_field(buffer, application.title.as_bytes())?;
    match &application.description {
        Some(description) => put_field(buffer, description.as_bytes())?,
        None => buffer.put_i32(-1),
    }
    let items: Vec<_> = application
        .items
        .iter()
        .map(|item| item.to_stored())
        .collect();
    let items_json = serde_json::to_vec(&items)?;
    put_length(buffer, items_json.len() + 1)?;
    buffer.put_u8(JSONB_FORMAT_VERSION);
    buffer.put_slice(&items_json);
    put_i64(buffer, application.total_amount.minor());
    put_field(buffer, application.status.as_str().as_bytes())?;
    put_timestamp(buffer, application.applied_at);
    put_timestamp(buffer, application.updated_at);
    put_i64(buffer, application.version);
    Ok(())
}

fn put_length(buffer: &mut BytesMut, length: usize) -> anyhow::Result<()> {
    buffer.put_i32(i32::try_from(length)?);
    Ok(())
}

fn put_field(buffer: &mut BytesMut, value: &[u8]) -> anyhow::Result<()> {
    put_length(buffer, value.len())?;
    buffer.put_slice(value);
    Ok(())
}

fn put_i64(buffer: &mut BytesMut, value: i64) {
    buffer.put_i32(8);
    buffer.put_i64(value);
}

fn put_timestamp(buffer: &mut BytesMut, at: DateTime<Utc>) {
    put_i64(buffer, at.timestamp_micros() - POSTGRES_EPOCH_MICROS);
}
