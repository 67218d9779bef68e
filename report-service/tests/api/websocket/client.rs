//! A WebSocket client as a browser would be: tokio-tungstenite over a loopback connection, which
//! can also be made to stop answering (writes swallowed) or to read slowly (a small receive
//! buffer, nothing read).

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use futures::StreamExt;
use http::HeaderValue;
use serde_json::Value;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpSocket, TcpStream},
};
use tokio_tungstenite::{
    WebSocketStream, client_async,
    tungstenite::{
        self, Message, client::IntoClientRequest, protocol::CloseFrame as TungsteniteClose,
    },
};

use crate::helpers::PATIENCE;

/// How the token travels in the handshake.
#[derive(Clone, Copy)]
pub enum Token<'a> {
    /// `Sec-WebSocket-Protocol: bearer, <jwt>`, as the web app sends it.
    Subprotocol(&'a str),
    /// `?access_token=<jwt>`.
    Query(&'a str),
}

pub struct Client {
    socket: WebSocketStream<TestStream>,
    mute: Arc<AtomicBool>,
}

/// What arrived until the server closed the connection.
#[derive(Debug)]
pub struct Closed {
    pub frame: Option<TungsteniteClose>,
    pub events: Vec<Value>,
    pub pings: usize,
}

impl Client {
    /// Connects as the holder of `token` (by subprotocol), after `last_event_id` if given.
    pub async fn connect(address: SocketAddr, token: &str, last_event_id: Option<&str>) -> Self {
        Self::try_connect(address, Token::Subprotocol(token), last_event_id, None)
            .await
            .expect("the handshake succeeds")
    }

    /// The same with a receive buffer of `receive_buffer` bytes: a client that does not read
    /// fills it, and the server's sends stall soon after.
    pub async fn connect_slow(address: SocketAddr, token: &str, receive_buffer: u32) -> Self {
        Self::try_connect(
            address,
            Token::Subprotocol(token),
            None,
            Some(receive_buffer),
        )
        .await
        .expect("the handshake succeeds")
    }

    pub async fn try_connect(
        address: SocketAddr,
        token: Token<'_>,
        last_event_id: Option<&str>,
        receive_buffer: Option<u32>,
    ) -> Result<Self, tungstenite::Error> {
        let mut query = Vec::new();
        if let Some(last_event_id) = last_event_id {
            query.push(format!("lastEventId={last_event_id}"));
        }
        if let Token::Query(token) = token {
            query.push(format!("access_token={token}"));
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        let mut request = format!("ws://{address}/ws{query}").into_client_request()?;
        if let Token::Subprotocol(token) = token {
            request.headers_mut().insert(
                http::header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_str(&format!("bearer, {token}")).expect("an ASCII token"),
            );
        }
        let tcp = TcpSocket::new_v4()?;
        if let Some(size) = receive_buffer {
            tcp.set_recv_buffer_size(size)?;
        }
        let mute = Arc::new(AtomicBool::new(false));
        let stream = TestStream {
            tcp: tcp.connect(address).await?,
            mute: mute.clone(),
        };
        let (socket, _) = client_async(request, stream).await?;
        Ok(Self { socket, mute })
    }

    /// From now on nothing the client writes (pongs included) reaches the server.
    pub fn mute(&self) {
        self.mute.store(true, Ordering::SeqCst);
    }

    /// The next event (text frame), past any pings; fails on a close or after the patience.
    pub async fn next_event(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("an event within the patience")
                .expect("the connection is open")
                .expect("a readable frame");
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str()).expect("a JSON event");
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    pub async fn events(&mut self, count: usize) -> Vec<Value> {
        let mut events = Vec::with_capacity(count);
        for _ in 0..count {
            events.push(self.next_event().await);
        }
        events
    }

    /// Reads until `count` pings have arrived (answering each, unless muted); fails on a close.
    pub async fn pings(&mut self, count: usize) {
        let mut pings = 0;
        while pings < count {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a ping within the patience")
                .expect("the connection is open")
                .expect("a readable frame");
            match message {
                Message::Ping(_) => pings += 1,
                Message::Text(_) | Message::Pong(_) => {}
                other => panic!("after {pings} pings, expected another, got {other:?}"),
            }
        }
    }

    /// Reads everything until the server ends the connection (with a close frame or not).
    pub async fn until_closed(&mut self) -> Closed {
        let mut closed = Closed {
            frame: None,
            events: Vec::new(),
            pings: 0,
        };
        loop {
            let next = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("the server ends the connection within the patience");
            match next {
                Some(Ok(Message::Text(text))) => closed
                    .events
                    .push(serde_json::from_str(text.as_str()).expect("a JSON event")),
                Some(Ok(Message::Ping(_))) => closed.pings += 1,
                Some(Ok(Message::Close(frame))) => {
                    closed.frame = frame;
                    return closed;
                }
                Some(Ok(_)) => {}
                // Dropped without a closing handshake.
                Some(Err(_)) | None => return closed,
            }
        }
    }

    pub async fn close(mut self) {
        self.socket.close(None).await.ok();
        // Drain until the server's answer so the connection ends cleanly on both sides.
        let _ = tokio::time::timeout(PATIENCE, async {
            while let Some(Ok(_)) = self.socket.next().await {}
        })
        .await;
    }
}

/// A TCP stream whose writes can be made to vanish.
struct TestStream {
    tcp: TcpStream,
    mute: Arc<AtomicBool>,
}

impl AsyncRead for TestStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(context, buffer)
    }
}

impl AsyncWrite for TestStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.mute.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(buffer.len()));
        }
        Pin::new(&mut self.tcp).poll_write(context, buffer)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(context)
    }
}
