//! Graceful shutdown: one token that every server and background loop watches, cancelled on
//! SIGTERM or Ctrl-C, and a bounded wait so draining never hangs.

use std::{future::Future, time::Duration};

pub use tokio_util::sync::CancellationToken;

/// Resolves on Ctrl-C or SIGTERM.
pub async fn termination_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for sigterm");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("ctrl-c received, shutting down"),
        () = terminate => tracing::info!("sigterm received, shutting down"),
    }
}

/// A token cancelled when the process is asked to stop.
pub fn token_cancelled_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        termination_signal().await;
        child.cancel();
    });
    token
}

/// Runs `work` to completion, but gives up `grace` after `shutdown` is cancelled.
pub async fn finish_within<F>(
    work: F,
    shutdown: CancellationToken,
    grace: Duration,
) -> Option<F::Output>
where
    F: Future,
{
    tokio::pin!(work);
    tokio::select! {
        output = &mut work => return Some(output),
        () = shutdown.cancelled() => {}
    }
    match tokio::time::timeout(grace, work).await {
        Ok(output) => Some(output),
        Err(_) => {
            tracing::warn!(
                grace_seconds = grace.as_secs_f64(),
                "gave up waiting for in-flight work"
            );
            None
        }
    }
}
