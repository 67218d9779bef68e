//! A browser's WebSocket to report-service: tokio-tungstenite, the token in the `bearer`
//! subprotocol, one JSON event per text frame.

use std::net::SocketAddr;

use futures::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::helpers::PATIENCE;

/// Frames read while waiting for one event, at most.
const MAX_FRAMES: usize = 100_000;

pub struct ReportSocket {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every event received, in order.
    pub received: Vec<Value>,
}

impl ReportSocket {
    /// Opens `/ws` on report-service as the holder of `token`.
    pub async fn connect(address: SocketAddr, token: &str) -> Self {
        let mut request = format!("ws://{address}/ws")
            .into_client_request()
            .expect("a WebSocket URL");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(&format!("bearer, {token}")).expect("an ASCII token"),
        );
        let (socket, response) = tokio::time::timeout(PATIENCE, connect_async(request))
            .await
            .expect("the handshake ends within the patience")
            .expect("report-service accepts the WebSocket");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|value| value.to_str().ok()),
            Some("bearer"),
            "the server selects the bearer subprotocol"
        );
        Self {
            socket,
            received: Vec::new(),
        }
    }

    /// Reads events until one `matches`, for at most [`PATIENCE`].
    pub async fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(seen) = self.received.iter().find(|event| matches(event)) {
            return seen.clone();
        }
        let deadline = tokio::time::Instant::now() + PATIENCE;
        for _ in 0..MAX_FRAMES {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{what} did not arrive within {PATIENCE:?}: {:?}",
                        self.received
                    )
                })
                .unwrap_or_else(|| panic!("the WebSocket closed while waiting for {what}"))
                .expect("a readable frame");
            let Message::Text(text) = frame else {
                continue;
            };
            let event: Value = serde_json::from_str(text.as_str()).expect("a JSON event");
            self.received.push(event.clone());
            if matches(&event) {
                return event;
            }
        }
        panic!("{what} did not arrive within {MAX_FRAMES} frames")
    }

    /// Waits for `report.completed` of `report_id`.
    pub async fn report_completed(&mut self, report_id: &str) -> Value {
        self.wait_for(&format!("report.completed of {report_id}"), |event| {
            event["type"] == "report.completed" && event["reportId"] == report_id
        })
        .await
    }
}
