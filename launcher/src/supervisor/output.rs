//! The children's output: each line of a child's stdout and stderr is written to the
//! supervisor's own stdout and stderr, prefixed with the service's name. One thread writes, so
//! lines never interleave, and a slow terminal slows the children (their pipes fill) rather
//! than the supervisor's runtime.

use std::{io::Write, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    sync::mpsc,
    task::JoinHandle,
};

/// Lines waiting to be written, at most.
const BUFFERED_LINES: usize = 1024;
/// Names are padded to this width so the lines line up.
const NAME_WIDTH: usize = 19;

#[derive(Clone, Copy, Debug)]
pub enum Stream {
    Stdout,
    Stderr,
}

struct Line {
    stream: Stream,
    text: String,
}

/// The writing thread.
pub struct OutputWriter {
    lines: mpsc::Sender<Line>,
    writer: std::thread::JoinHandle<()>,
}

/// The way to the writing thread.
#[derive(Clone)]
pub struct Output {
    lines: mpsc::Sender<Line>,
}

impl OutputWriter {
    pub fn start() -> std::io::Result<Self> {
        let (lines, mut receiver) = mpsc::channel::<Line>(BUFFERED_LINES);
        let writer = std::thread::Builder::new()
            .name("child-output".to_owned())
            .spawn(move || {
                while let Some(line) = receiver.blocking_recv() {
                    // A closed terminal or pipe loses the line; the children keep running.
                    let _ = match line.stream {
                        Stream::Stdout => writeln!(std::io::stdout().lock(), "{}", line.text),
                        Stream::Stderr => writeln!(std::io::stderr().lock(), "{}", line.text),
                    };
                }
            })?;
        Ok(Self { lines, writer })
    }

    pub fn output(&self) -> Output {
        Output {
            lines: self.lines.clone(),
        }
    }

    /// Writes what is still buffered, waiting at most `patience`: the thread ends once every
    /// forwarder has ended, which a pipe held open by a child's own child would delay.
    pub async fn finish(self, patience: Duration) {
        let Self { lines, writer } = self;
        drop(lines);
        let joined = tokio::task::spawn_blocking(move || writer.join());
        drop(tokio::time::timeout(patience, joined).await);
    }
}

impl Output {
    /// Forwards `reader` line by line until it ends (the child closed it or exited).
    pub fn forward(
        &self,
        service: &str,
        stream: Stream,
        reader: impl AsyncRead + Unpin + Send + 'static,
    ) -> JoinHandle<()> {
        let lines = self.lines.clone();
        let prefix = format!("{service:<NAME_WIDTH$} |");
        tokio::spawn(async move {
            let mut reader = BufReader::new(reader);
            let mut buffer = Vec::new();
            loop {
                buffer.clear();
                match reader.read_until(b'\n', &mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&buffer);
                        let text = text.trim_end_matches(['\n', '\r']);
                        let line = Line {
                            stream,
                            text: format!("{prefix} {text}"),
                        };
                        if lines.send(line).await.is_err() {
                            break;
                        }
                    }
                }
            }
        })
    }
}
