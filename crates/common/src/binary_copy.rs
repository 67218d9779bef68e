//! Rows in PostgreSQL's binary COPY format, so a batch is inserted with one
//! `COPY … FROM STDIN (FORMAT binary)` inside its transaction.

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
const JSONB_FORMAT_VERSION: u8 = 1;

/// One complete binary COPY stream, written row by row, field by field in the statement's
/// column order.
pub struct CopyWriter {
    buffer: BytesMut,
}

impl CopyWriter {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buffer = BytesMut::with_capacity(bytes + 32);
        buffer.put_slice(SIGNATURE);
        buffer.put_i32(0); // flags
        buffer.put_i32(0); // header extension length
        Self { buffer }
    }

    /// Starts a row of `columns` fields.
    pub fn row(&mut self, columns: i16) -> &mut Self {
        self.buffer.put_i16(columns);
        self
    }

    /// `text`, `varchar` and `json` (whose binary form is its text).
    pub fn text(&mut self, value: &str) -> anyhow::Result<&mut Self> {
        self.bytes(value.as_bytes())
    }

    pub fn optional_text(&mut self, value: Option<&str>) -> anyhow::Result<&mut Self> {
        match value {
            Some(value) => self.text(value),
            None => Ok(self.null()),
        }
    }

    pub fn uuid(&mut self, value: Uuid) -> anyhow::Result<&mut Self> {
        self.bytes(value.as_bytes())
    }

    pub fn jsonb(&mut self, json: &[u8]) -> anyhow::Result<&mut Self> {
        self.length(json.len() + 1)?;
        self.buffer.put_u8(JSONB_FORMAT_VERSION);
        self.buffer.put_slice(json);
        Ok(self)
    }

    pub fn int8(&mut self, value: i64) -> &mut Self {
        self.buffer.put_i32(8);
        self.buffer.put_i64(value);
        self
    }

    pub fn timestamptz(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.int8(at.timestamp_micros() - POSTGRES_EPOCH_MICROS)
    }

    pub fn null(&mut self) -> &mut Self {
        self.buffer.put_i32(-1);
        self
    }

    fn bytes(&mut self, value: &[u8]) -> anyhow::Result<&mut Self> {
        self.length(value.len())?;
        self.buffer.put_slice(value);
        Ok(self)
    }

    fn length(&mut self, length: usize) -> anyhow::Result<()> {
        self.buffer.put_i32(i32::try_from(length)?);
        Ok(())
    }

    /// The finished stream.
    pub fn finish(mut self) -> BytesMut {
        self.buffer.put_i16(-1);
        self.buffer
    }

    /// Sends the finished stream with `statement` on the caller's transaction and checks that
    /// `rows` rows arrived.
    pub async fn copy_in(
        self,
        connection: &mut PgConnection,
        statement: &str,
        rows: usize,
    ) -> anyhow::Result<()> {
        copy_in(connection, statement, self.finish(), rows).await
    }
}

/// Sends an encoded binary COPY stream with `statement` on the caller's transaction and checks
/// that `rows` rows arrived.
pub async fn copy_in(
    connection: &mut PgConnection,
    statement: &str,
    encoded: BytesMut,
    rows: usize,
) -> anyhow::Result<()> {
    let mut copy = connection.copy_in_raw(statement).await?;
    if let Err(error) = copy.send(encoded).await {
        copy.abort(error.to_string()).await.ok();
        return Err(error.into());
    }
    let inserted = copy.finish().await?;
    anyhow::ensure!(
        inserted == rows as u64,
        "COPY inserted {inserted} rows, expected {rows}"
    );
    Ok(())
}
