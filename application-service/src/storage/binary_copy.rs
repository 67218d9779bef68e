//! Encodes applications in PostgreSQL's binary COPY format, so a batch is inserted with one
//! `COPY … FROM STDIN (FORMAT binary)` inside its transaction.

use bytes::BytesMut;
use zayavki_common::binary_copy::CopyWriter;

use crate::domain::Application;

/// The statement the encoded rows answer, column for column.
pub const COPY_STATEMENT: &str = "COPY applications (id, applicant, title, description, items, \
     total_amount_minor, status, applied_at, updated_at, version) FROM STDIN (FORMAT binary)";

const COLUMN_COUNT: i16 = 10;

/// Encodes `applications` as one complete binary COPY stream.
pub fn encode(applications: &[Application]) -> anyhow::Result<BytesMut> {
    let mut writer = CopyWriter::with_capacity(applications.len() * 256);
    for application in applications {
        let items: Vec<_> = application
            .items
            .iter()
            .map(|item| item.to_stored())
            .collect();
        writer
            .row(COLUMN_COUNT)
            .uuid(application.id)?
            .text(&application.applicant)?
            .text(&application.title)?
            .optional_text(application.description.as_deref())?
            .jsonb(&serde_json::to_vec(&items)?)?
            .int8(application.total_amount.minor())
            .text(application.status.as_str())?
            .timestamptz(application.applied_at)
            .timestamptz(application.updated_at)
            .int8(application.version);
    }
    Ok(writer.finish())
}
