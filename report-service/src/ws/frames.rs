//! What a client receives: one JSON object per text frame,
//! `{"id", "type", "at", ...the event's fields}`, and the close frames that end a connection.

use axum::extract::ws::{CloseFrame, Message, close_code};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    download::{DownloadSecret, download_url},
    event_log::{Cursor, LogEntry},
};

pub const RESET: &str = "reset";
const REPORT_COMPLETED: &str = "report.completed";

/// The frame of a log entry. A `report.completed` gets a `downloadUrl` signed now, so it is
/// valid for its full lifetime from the moment it is pushed (or replayed).
pub fn event(entry: &LogEntry, secret: &DownloadSecret, now: DateTime<Utc>) -> Message {
    let mut fields = match &entry.body {
        Value::Object(fields) => fields.clone(),
        _ => Map::new(),
    };
    if entry.kind == REPORT_COMPLETED
        && let Some(report_id) = fields
            .get("reportId")
            .and_then(Value::as_str)
            .and_then(|raw| raw.parse::<Uuid>().ok())
    {
        fields.insert(
            "downloadUrl".to_owned(),
            Value::String(download_url(secret, report_id, now)),
        );
    }
    fields.insert("id".to_owned(), Value::String(entry.position.encode()));
    fields.insert("type".to_owned(), Value::String(entry.kind.clone()));
    fields.insert("at".to_owned(), Value::String(timestamp(entry.at)));
    Message::Text(Value::Object(fields).to_string().into())
}

/// Tells the client that events may have been missed since the id it gave: it reloads what it
/// shows. `position` (the end of the log) is an id to reconnect with.
pub fn reset(position: Option<Cursor>, reason: &str, now: DateTime<Utc>) -> Message {
    let mut frame = json!({
        "type": RESET,
        "at": timestamp(now),
        "reason": reason,
    });
    if let Some(position) = position {
        frame["id"] = Value::String(position.encode());
    }
    Message::Text(frame.to_string().into())
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Why the server ends a connection, as the client sees it in the close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closing {
    /// Nothing arrived from the client (not even a pong) for the idle timeout.
    Idle,
    /// The client read too slowly and fell behind the connection's buffer.
    TooSlow,
    /// The server is shutting down.
    ShuttingDown,
    /// The server cannot follow the log right now.
    Unavailable,
}

impl Closing {
    pub fn label(self) -> &'static str {
        match self {
            Closing::Idle => "idle",
            Closing::TooSlow => "too_slow",
            Closing::ShuttingDown => "shutting_down",
            Closing::Unavailable => "unavailable",
        }
    }

    pub fn frame(self) -> Message {
        let (code, reason) = match self {
            Closing::Idle => (close_code::NORMAL, "idle timeout"),
            Closing::TooSlow => (
                close_code::POLICY,
                "too slow: reconnect with lastEventId to catch up",
            ),
            Closing::ShuttingDown => (close_code::AWAY, "server shutting down"),
            Closing::Unavailable => (close_code::AGAIN, "events are unavailable; try again later"),
        };
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn text(message: Message) -> Value {
        match message {
            Message::Text(text) => serde_json::from_str(text.as_str()).expect("JSON"),
            other => panic!("not a text frame: {other:?}"),
        }
    }

    #[test]
    fn a_completed_report_carries_a_signed_download_url() {
        let secret = DownloadSecret::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let report = Uuid::now_v7();
        let at = Utc
            .with_ymd_and_hms(2026, 12, 3, 10, 0, 0)
            .single()
            .expect("a time");
        let entry = LogEntry {
            position: Cursor {
                transaction: 42,
                id: 7,
            },
            at,
            owner: "user-1".to_owned(),
            kind: "report.completed".to_owned(),
            body: json!({"reportId": report, "format": "CSV", "size": 120, "id": "spoofed"}),
        };

        let frame = text(event(&entry, &secret, at));

        assert_eq!(frame["id"], entry.position.encode());
        assert_eq!(frame["type"], "report.completed");
        assert_eq!(frame["at"], "2026-12-03T10:00:00.000Z");
        assert_eq!(frame["reportId"], report.to_string());
        assert_eq!(frame["size"], 120);
        assert_eq!(frame["downloadUrl"], download_url(&secret, report, at));
    }

    #[test]
    fn other_events_carry_their_fields_only() {
        let secret = DownloadSecret::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let entry = LogEntry {
            position: Cursor {
                transaction: 42,
                id: 8,
            },
            at: Utc::now(),
            owner: "user-1".to_owned(),
            kind: "report.progress".to_owned(),
            body: json!({"reportId": Uuid::now_v7(), "percent": 40}),
        };

        let frame = text(event(&entry, &secret, Utc::now()));

        assert_eq!(frame["percent"], 40);
        assert!(frame.get("downloadUrl").is_none());
    }

    #[test]
    fn a_reset_names_where_to_reconnect_from_when_it_can() {
        let position = Cursor {
            transaction: 3,
            id: 4,
        };

        let with = text(reset(Some(position), "unknown", Utc::now()));
        let without = text(reset(None, "unknown", Utc::now()));

        assert_eq!(with["type"], "reset");
        assert_eq!(with["id"], position.encode());
        assert!(without.get("id").is_none());
    }
}
