//! Ready-to-paste tokens and example calls, printed when the start command generated a key.
//! Addresses are the reachable ones the start command records.

use std::time::Duration;

use zayavki_identity::{Role, TokenMinter};

use crate::addresses::Addresses;

/// Tokens printed at start-up live this long.
pub const QUICKSTART_TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

pub struct Quickstart {
    pub applicant_token: String,
    pub operator_token: String,
    /// Shell commands that work when pasted while the system runs; each prints JSON.
    pub examples: Vec<String>,
    /// How to open report-service's WebSocket, when it runs.
    pub websocket: Option<String>,
}

impl Quickstart {
    pub fn new(minter: &TokenMinter, addresses: &Addresses) -> anyhow::Result<Self> {
        let applicant_token = minter.mint(
            "alice",
            Some("Алиса"),
            &[Role::Applicant],
            QUICKSTART_TOKEN_LIFETIME,
        )?;
        let operator_token = minter.mint(
            "olga",
            Some("Ольга"),
            &[Role::Operator],
            QUICKSTART_TOKEN_LIFETIME,
        )?;
        let mut examples = Vec::new();
        if let Some(application) = &addresses.application {
            let (grpc, http) = (application.grpc, application.http);
            let create_body = r#"{"title":"Ложки чайные для столовой","items":[{"name":"Ложка чайная","quantity":12,"unitPrice":"35.50"}]}"#;
            examples.extend([
                format!(
                    "grpcurl -plaintext -H 'authorization: Bearer {applicant_token}' -d '{{\"application\":{create_body}}}' {grpc} applications.v1.ApplicationService/CreateApplication"
                ),
                format!(
                    "grpcurl -plaintext -H 'authorization: Bearer {operator_token}' -d '{{\"pageSize\":10}}' {grpc} applications.v1.ApplicationService/ListApplications"
                ),
                format!(
                    "curl -sf -X POST -H 'Authorization: Bearer {applicant_token}' -H 'Content-Type: application/json' -d '{create_body}' http://{http}/applications"
                ),
                format!(
                    "curl -sf -H 'Authorization: Bearer {operator_token}' 'http://{http}/applications?pageSize=10'"
                ),
            ]);
        }
        if let Some(process) = &addresses.process {
            let grpc = process.grpc;
            examples.extend([
                format!(
                    "grpcurl -plaintext -H 'authorization: Bearer {operator_token}' -d '{{\"state\":[\"PROCESS_STATE_AWAITING_DECISION\"]}}' {grpc} process.v1.BusinessProcessService/ListProcesses"
                ),
                format!(
                    "grpcurl -plaintext -H 'authorization: Bearer {applicant_token}' -d '{{}}' {grpc} process.v1.BusinessProcessService/GetBudget"
                ),
            ]);
        }
        let websocket = addresses.reports.map(|reports| {
            examples.push(format!(
                "curl -sf -H 'Authorization: Bearer {applicant_token}' http://{reports}/reports"
            ));
            format!(
                "WebSocket ws://{reports}/ws takes the token as the subprotocol `bearer, <token>` (or \
                 `?access_token=<token>`); in a browser console:\n  \
                 new WebSocket(\"ws://{reports}/ws\", [\"bearer\", \"{applicant_token}\"]).onmessage = (event) => console.log(event.data)"
            )
        });
        if let Some(sink) = addresses.notification_sink {
            examples.push(format!("curl -sf http://{sink}/notifications"));
        }
        Ok(Self {
            applicant_token,
            operator_token,
            examples,
            websocket,
        })
    }

    /// The text printed to the terminal.
    pub fn render(&self) -> String {
        let mut text = String::new();
        text.push_str("\nNo JWT key configured: generated one for this run.\n");
        text.push_str(&format!(
            "\napplicant token (alice):\n  {}\n",
            self.applicant_token
        ));
        text.push_str(&format!(
            "operator token (olga):\n  {}\n",
            self.operator_token
        ));
        text.push_str("\nTry:\n");
        for example in &self.examples {
            text.push_str(&format!("  {example}\n"));
        }
        if let Some(websocket) = &self.websocket {
            text.push_str(&format!("\n{websocket}\n"));
        }
        text
    }
}
