//! What the run prints: one table per measurement, then the ratios against the baselines measured
//! in the same run and whether each target is met.

use std::{collections::BTreeMap, fmt::Write as _, time::Duration};

use crate::{Options, paths::Contestant};

/// Through the gateway, at least this share of direct requests per second.
const THROUGHPUT_TARGET: f64 = 0.80;
/// Through the gateway, the median may be this much slower than direct.
const ADDED_P50_TARGET: Duration = Duration::from_micros(500);

/// Everything measured, as `[REST, gRPC]` pairs of `[direct, gateway]`.
pub struct Findings {
    pub applications: usize,
    /// One replica, at the chosen concurrency.
    pub loaded: Vec<[Contestant; 2]>,
    /// One replica, one caller.
    pub unloaded: Option<Vec<[Contestant; 2]>>,
    pub replicas: ReplicaPhase,
    /// `/proc/loadavg` before and after.
    pub load_average: (Option<String>, Option<String>),
}

/// The second start: direct to its first replica, and the gateway over all of them.
pub struct ReplicaPhase {
    pub replicas: usize,
    pub pairs: Vec<[Contestant; 2]>,
    /// Reads in the gateway's access log, by server.
    pub served: BTreeMap<String, u64>,
}

/// The first three fields of `/proc/loadavg`.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

pub fn print(options: &Options, findings: &Findings) {
    let mut out = String::new();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let _ = writeln!(
        out,
        "\ngateway benchmark: {} applications, {} callers (REST: a keep-alive HTTP/1.1 connection \
         each; gRPC: {} HTTP/2 connections), {} s per path in {} turns (at most {} requests), \
         edge and per-user limits off, {cpus} CPU(s)",
        findings.applications,
        options.concurrency,
        options.grpc_channels,
        options.seconds,
        options.turns,
        options.max_requests,
    );
    if let (Some(before), Some(after)) = &findings.load_average {
        let _ = writeln!(out, "load average {before} before, {after} after");
    }

    let _ = writeln!(
        out,
        "\nzayavki start --replicas 1, {} callers:",
        options.concurrency
    );
    table(&mut out, &findings.loaded);
    if let Some(unloaded) = &findings.unloaded {
        let _ = writeln!(
            out,
            "\nzayavki start --replicas 1, 1 caller ({} s per path):",
            options.unloaded_seconds
        );
        table(&mut out, unloaded);
    }
    let phase = &findings.replicas;
    let _ = writeln!(
        out,
        "\nzayavki start --replicas {}, {} callers:",
        phase.replicas, options.concurrency
    );
    table(&mut out, &phase.pairs);
    if !phase.served.is_empty() {
        let served: Vec<String> = phase
            .served
            .iter()
            .map(|(server, reads)| format!("{server} {reads}"))
            .collect();
        let _ = writeln!(
            out,
            "   reads by replica in the gateway's access log: {}",
            served.join(", ")
        );
    }

    let _ = writeln!(out, "\ngateway against direct (one replica, same start):");
    for [direct, gateway] in &findings.loaded {
        let protocol = protocol(direct);
        let ratio = gateway.throughput() / direct.throughput().max(f64::EPSILON);
        let _ = writeln!(
            out,
            "   {protocol} requests/s, gateway / direct, {} callers {:>14}   (target ≥ {:.2}: {}; \
             turns {})",
            options.concurrency,
            format!("{ratio:.2}"),
            THROUGHPUT_TARGET,
            verdict(ratio >= THROUGHPUT_TARGET),
            turn_range(direct, gateway)
        );
    }
    if let Some(unloaded) = &findings.unloaded {
        for [direct, gateway] in unloaded {
            added_p50(&mut out, direct, gateway, "1 caller");
        }
    }
    for [direct, gateway] in &findings.loaded {
        added_p50(
            &mut out,
            direct,
            gateway,
            &format!("{} callers", options.concurrency),
        );
    }

    let _ = writeln!(
        out,
        "\n{} replicas against 1 (requests/s, {} callers):",
        phase.replicas, options.concurrency
    );
    for ([_, one], [direct_one, many]) in findings.loaded.iter().zip(&phase.pairs) {
        let protocol = protocol(one);
        let _ = writeln!(
            out,
            "   {:<76} {:>5.2}",
            format!(
                "{protocol} through the gateway, {} replicas / 1 replica (first start)",
                phase.replicas
            ),
            many.throughput() / one.throughput().max(f64::EPSILON),
        );
        let _ = writeln!(
            out,
            "   {:<76} {:>5.2}   (turns {})",
            format!(
                "{protocol} {} replicas through the gateway / replica 1 directly (same start)",
                phase.replicas
            ),
            many.throughput() / direct_one.throughput().max(f64::EPSILON),
            turn_range(direct_one, many)
        );
    }
    println!("{out}");
}

fn table(out: &mut String, pairs: &[[Contestant; 2]]) {
    let _ = writeln!(
        out,
        "   {:<50} {:>9} {:>9} {:>9} {:>9} {:>6}   CPU µs/request: client + haproxy + zayavki + service + postgres",
        "path", "requests", "req/s", "p50", "p99", "failed"
    );
    for contestant in pairs.as_flattened() {
        let report = &contestant.report;
        let cpu = contestant.cpu_per_request();
        let _ = writeln!(
            out,
            "   {:<50} {:>9} {:>9.0} {:>9} {:>9} {:>6}   {:.0} + {:.0} + {:.0} + {:.0} + {:.0} = {:.0}",
            contestant.label,
            report.succeeded,
            contestant.throughput(),
            milliseconds(report.latency.p50()),
            milliseconds(report.latency.p99()),
            report.failed,
            cpu.client,
            cpu.gateway,
            cpu.supervisor,
            cpu.service,
            cpu.postgres,
            cpu.client + cpu.gateway + cpu.supervisor + cpu.service + cpu.postgres,
        );
        if let Some(error) = &report.first_error {
            let _ = writeln!(out, "      first failure: {error}");
        }
    }
}

fn added_p50(out: &mut String, direct: &Contestant, gateway: &Contestant, callers: &str) {
    let direct_p50 = direct.report.latency.p50();
    let gateway_p50 = gateway.report.latency.p50();
    let added_ms = (gateway_p50.as_secs_f64() - direct_p50.as_secs_f64()) * 1000.0;
    let _ = writeln!(
        out,
        "   {} added p50, {callers:<11} ({} → {}) {:>9}   (target ≤ {}: {})",
        protocol(direct),
        milliseconds(direct_p50),
        milliseconds(gateway_p50),
        format!("{added_ms:+.3} ms"),
        milliseconds(ADDED_P50_TARGET),
        verdict(gateway_p50.saturating_sub(direct_p50) <= ADDED_P50_TARGET)
    );
}

/// The lowest and highest ratio of `numerator` to `denominator` over the turns they took
/// together.
fn turn_range(denominator: &Contestant, numerator: &Contestant) -> String {
    let ratios: Vec<f64> = numerator
        .per_turn
        .iter()
        .zip(&denominator.per_turn)
        .map(|(above, below)| above / below.max(f64::EPSILON))
        .collect();
    let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if ratios.is_empty() {
        "none".to_owned()
    } else {
        format!("{lowest:.2}–{highest:.2}")
    }
}

fn protocol(contestant: &Contestant) -> &'static str {
    if contestant.label.starts_with("REST") {
        "REST"
    } else {
        "gRPC"
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn milliseconds(latency: Duration) -> String {
    format!("{:.3} ms", latency.as_secs_f64() * 1000.0)
}
