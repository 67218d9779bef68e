//! The real `grpcurl` (installed by scripts/install-test-tools), as a person would call the
//! services: plaintext, by reflection, the token in `authorization` metadata.

use std::{net::SocketAddr, time::Duration};

use serde_json::Value;
use tokio::process::Command;

const CALL_PATIENCE: Duration = Duration::from_secs(60);

/// What `grpcurl` answered: the message (JSON) or the status it printed.
pub type Answer = Result<Value, String>;

/// Calls `method` (`package.Service/Method`) at `address` with `body` as `token`'s holder.
pub async fn call(address: SocketAddr, token: &str, method: &str, body: &Value) -> Answer {
    let mut command = Command::new("grpcurl");
    command
        .args(["-plaintext", "-max-time", "30", "-H"])
        .arg(format!("authorization: Bearer {token}"))
        .arg("-d")
        .arg(body.to_string())
        .arg(address.to_string())
        .arg(method)
        .env("NO_PROXY", "*")
        .kill_on_drop(true);
    let output = tokio::time::timeout(CALL_PATIENCE, command.output())
        .await
        .unwrap_or_else(|_| panic!("grpcurl {method} did not end within {CALL_PATIENCE:?}"))
        .expect("grpcurl runs (scripts/install-test-tools installs it)");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    serde_json::from_slice(&output.stdout).map_err(|error| {
        format!(
            "grpcurl printed no JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// [`call`], which must succeed.
pub async fn expect(address: SocketAddr, token: &str, method: &str, body: &Value) -> Value {
    call(address, token, method, body)
        .await
        .unwrap_or_else(|error| panic!("{method} failed: {error}"))
}
