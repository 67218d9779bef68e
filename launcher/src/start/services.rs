//! The services the start command runs, and `ZAYAVKI_SERVICES`, which picks some of them.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    Application,
    Process,
    Reports,
    /// The development notification sink (`zayavki notification-sink`).
    Sink,
    /// The web app's static file server (`zayavki web-server`).
    Web,
    /// The API gateway: HAProxy in front of every replica.
    Gateway,
}

impl ServiceKind {
    /// Every service, in the order they are started and listed.
    pub const ALL: [Self; 6] = [
        Self::Application,
        Self::Process,
        Self::Reports,
        Self::Sink,
        Self::Web,
        Self::Gateway,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Application => "application-service",
            Self::Process => "business-process",
            Self::Reports => "report-service",
            Self::Sink => "notification-sink",
            Self::Web => "web-server",
            Self::Gateway => "gateway",
        }
    }

    /// Whether the start command can run several replicas of it behind the gateway.
    pub fn is_replicated(self) -> bool {
        matches!(self, Self::Application | Self::Process | Self::Reports)
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| {
            let short = match kind {
                Self::Application => "application",
                Self::Process => "process",
                Self::Reports => "reports",
                Self::Sink => "sink",
                Self::Web => "web",
                Self::Gateway => "gateway",
            };
            raw.eq_ignore_ascii_case(short) || raw.eq_ignore_ascii_case(kind.name())
        })
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// `ZAYAVKI_SERVICES`: a comma-separated selection (`application`, `process`, `reports`, `sink`,
/// `web`, `gateway`, or the full names); every service when unset.
pub fn selected_services(raw: Option<&str>) -> anyhow::Result<Vec<ServiceKind>> {
    let Some(raw) = raw else {
        return Ok(ServiceKind::ALL.to_vec());
    };
    let mut chosen = Vec::new();
    for part in raw
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let kind = ServiceKind::parse(part).ok_or_else(|| {
            anyhow::anyhow!(
                "ZAYAVKI_SERVICES names {part:?}, which is not a service; use application, process, \
                 reports, sink, web and gateway"
            )
        })?;
        chosen.push(kind);
    }
    anyhow::ensure!(!chosen.is_empty(), "ZAYAVKI_SERVICES names no service");
    Ok(ServiceKind::ALL
        .into_iter()
        .filter(|kind| chosen.contains(kind))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_runs_unless_some_are_chosen() {
        assert_eq!(
            selected_services(None).expect("default"),
            ServiceKind::ALL.to_vec()
        );
        assert_eq!(
            selected_services(Some("sink, application-service,process,sink")).expect("chosen"),
            [
                ServiceKind::Application,
                ServiceKind::Process,
                ServiceKind::Sink
            ]
        );
    }

    #[test]
    fn an_unknown_or_empty_selection_is_refused_by_name() {
        let error = selected_services(Some("application,proxy")).expect_err("unknown");
        assert!(error.to_string().contains("\"proxy\""), "{error}");
        assert!(selected_services(Some(" , ")).is_err());
    }
}
