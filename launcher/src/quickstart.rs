//! Ready-to-paste tokens and example calls, printed when the start command generated a key.

use std::time::Duration;

use zayavki_identity::{Role, TokenMinter};

use crate::addresses::{Addresses, reachable};

/// Tokens printed at start-up live this long.
pub const QUICKSTART_TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

pub struct Quickstart {
    pub applicant_token: String,
    pub operator_token: String,
    /// Shell commands that work when pasted while the system runs.
    pub examples: Vec<String>,
}

impl Quickstart {
    pub fn new(minter: &TokenMinter, addresses: &Addresses) -> anyhow::Result<Self> {
        let grpc = reachable(addresses.application_grpc);
        let http = reachable(addresses.application_http);
        let process = reachable(addresses.process_grpc);
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
        let create_body = r#"{"title":"Ложки чайные для столовой","items":[{"name":"Ложка чайная","quantity":12,"unitPrice":"35.50"}]}"#;
        let mut examples = vec![
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
            format!(
                "grpcurl -plaintext -H 'authorization: Bearer {operator_token}' -d '{{\"state\":[\"PROCESS_STATE_AWAITING_DECISION\"]}}' {process} process.v1.BusinessProcessService/ListProcesses"
            ),
            format!(
                "grpcurl -plaintext -H 'authorization: Bearer {applicant_token}' -d '{{}}' {process} process.v1.BusinessProcessService/GetBudget"
            ),
        ];
        if let Some(sink) = addresses.notification_sink {
            examples.push(format!("curl -sf http://{}/notifications", reachable(sink)));
        }
        Ok(Self {
            applicant_token,
            operator_token,
            examples,
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
        text
    }
}
