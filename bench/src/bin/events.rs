//! The outbox relay next to a bare lapin loop, measured in the same run against the same broker:
//!
//! 1. Throughput: the relay publishing `--events` committed outbox rows (confirms, `mandatory`,
//!    commit order) against a bare loop that publishes the same messages with the same
//!    properties on a confirm channel, with the relay's window: up to two of its batches
//!    unconfirmed, the oldest confirm awaited whenever the window is full.
//! 2. Lag at a steady rate: creates at `--rate` per second for `--seconds` through gRPC, after
//!    `--warmup-seconds` of the same not measured; for each event, the time from the moment
//!    its application was stamped (before its transaction) to its delivery from a quorum queue.
//!    That is an upper bound of commit-to-confirm lag: it adds the transaction itself, and a
//!    quorum queue delivers only what the broker has committed, which is when the confirm goes
//!    out.
//!
//! Everything happens in a virtual host of its own, deleted at the end.
//!
//! ```text
//! cargo run --release -p zayavki-bench --bin events -- --events 20000 --seconds 5
//! ```

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use anyhow::Context;
use application_service::{
    config::relay_settings,
    domain::{Application, NewApplication},
    events,
    grpc::convert,
};
use chrono::Utc;
use clap::Parser;
use futures::StreamExt;
use lapin::{
    Channel, PublisherConfirm,
    options::{BasicPublishOptions, ConfirmSelectOptions, QueuePurgeOptions},
    types::ShortString,
};
use zayavki_bench::{drafts::DraftGenerator, latency::LatencyRecorder, service::spawn_service};
use zayavki_common::{
    amqp::{self, OutgoingMessage, declare_topology, topology},
    outbox::{self, Relay},
    shutdown::CancellationToken,
};
use zayavki_identity::Role;
use zayavki_proto::applications::v1::{
    self as pb, application_service_client::ApplicationServiceClient,
};
use zayavki_testkit::TestBroker;

const THROUGHPUT_TARGET: f64 = 0.80;
const LAG_P50_TARGET: Duration = Duration::from_millis(10);
const LAG_P99_TARGET: Duration = Duration::from_millis(50);
/// No phase may run longer than this, whatever the options.
const PHASE_LIMIT: Duration = Duration::from_secs(10 * 60);

#[derive(Parser, Debug)]
#[command(about = "outbox relay throughput and lag next to a bare lapin publisher")]
struct Options {
    /// Events the relay and the bare loop each publish.
    #[arg(long, env = "BENCH_EVENTS", default_value_t = 100_000)]
    events: usize,
    /// Rows the relay reads per round, and messages the bare loop pipelines per batch.
    #[arg(long, env = "BENCH_BATCH_SIZE", default_value_t = 1_000)]
    batch_size: usize,
    /// Creates per second in the lag phase.
    #[arg(long, env = "BENCH_RATE", default_value_t = 500)]
    rate: u64,
    /// Seconds of the lag phase.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = 10)]
    seconds: u64,
    /// Seconds of creates at the same rate before the lag phase, not measured: the service's
    /// pool opens its connections and the first statements are prepared.
    #[arg(long, env = "BENCH_WARMUP_SECONDS", default_value_t = 1)]
    warmup_seconds: u64,
    #[arg(long, env = "BENCH_SEED", default_value_t = 20_261_202)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let broker = TestBroker::fresh().await?;
    let (_connection, channel) = broker.channel().await?;
    declare_topology(&channel).await?;
    let messages = generate_messages(options.events, options.seed)?;
    println!(
        "outbox relay benchmark: {} events, batches of {}, vhost {}",
        messages.len(),
        options.batch_size,
        broker.vhost()
    );

    let relay_rate =
        tokio::time::timeout(PHASE_LIMIT, relay_throughput(&broker, &messages, &options))
            .await
            .context("the relay phase ran too long")??;
    purge_event_queues(&channel).await?;
    let bare_rate = tokio::time::timeout(
        PHASE_LIMIT,
        bare_throughput(&broker, &messages, options.batch_size),
    )
    .await
    .context("the bare phase ran too long")??;
    purge_event_queues(&channel).await?;
    let ratio = relay_rate / bare_rate;
    println!("relay        {relay_rate:>10.0} events/s (confirmed, in commit order)");
    println!("bare lapin   {bare_rate:>10.0} events/s (confirmed, pipelined)");
    println!(
        "relay / bare {ratio:>10.2}  (target >= {THROUGHPUT_TARGET:.2}: {})",
        verdict(ratio >= THROUGHPUT_TARGET)
    );

    let lags = tokio::time::timeout(PHASE_LIMIT, steady_lag(&broker, &options))
        .await
        .context("the lag phase ran too long")??;
    let lag = &lags.committed;
    println!(
        "write-to-confirm lag at {} creates/s over {} events after {} s of warm-up: p50 {:.2} ms, \
         p99 {:.2} ms, max {:.2} ms (targets p50 <= {} ms: {}, p99 <= {} ms: {})",
        options.rate,
        lag.count(),
        options.warmup_seconds,
        millis(lag.p50()),
        millis(lag.p99()),
        millis(lag.max()),
        LAG_P50_TARGET.as_millis(),
        verdict(lag.p50() <= LAG_P50_TARGET),
        LAG_P99_TARGET.as_millis(),
        verdict(lag.p99() <= LAG_P99_TARGET),
    );
    println!(
        "   of which write-to-send (delivered from a classic queue): p50 {:.2} ms, p99 {:.2} ms, \
         max {:.2} ms",
        millis(lags.sent.p50()),
        millis(lags.sent.p99()),
        millis(lags.sent.max()),
    );
    Ok(())
}

/// `count` `application.created` messages, as the service writes them.
fn generate_messages(count: usize, seed: u64) -> anyhow::Result<Vec<OutgoingMessage>> {
    let mut drafts = DraftGenerator::new(seed);
    let now = Utc::now();
    let traceparent = amqp::new_traceparent();
    (0..count)
        .map(|_| {
            let draft = NewApplication::parse(convert::new_application(drafts.draft()))
                .map_err(|violations| anyhow::anyhow!("invalid draft: {violations:?}"))?;
            events::created(
                &Application::filed("bench-applicant", draft, now),
                &traceparent,
            )
        })
        .collect()
}

/// Writes `messages` to a fresh service database's outbox, then times a relay publishing them.
async fn relay_throughput(
    broker: &TestBroker,
    messages: &[OutgoingMessage],
    options: &Options,
) -> anyhow::Result<f64> {
    let service = spawn_service(|settings| settings.events = None).await?;
    for chunk in messages.chunks(options.batch_size) {
        let mut transaction = service.pool.begin().await?;
        outbox::insert_all(&mut transaction, chunk).await?;
        transaction.commit().await?;
    }
    let mut settings = relay_settings(broker.settings());
    settings.batch_size = i64::try_from(options.batch_size)?;
    let relay = Relay::new(
        service.settings.database.clone(),
        service.pool.clone(),
        settings,
    );
    let mut stats = relay.subscribe();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let handle = relay.spawn(shutdown.clone());
    let expected = messages.len() as u64;
    stats
        .wait_for(|stats| stats.published >= expected)
        .await
        .context("the relay stopped")?;
    let elapsed = started.elapsed();
    let failures = stats.borrow().failures;
    shutdown.cancel();
    handle.task.await.ok();
    anyhow::ensure!(failures == 0, "the relay failed {failures} times");
    service.stop().await?;
    Ok(messages.len() as f64 / elapsed.as_secs_f64())
}

/// Publishes `messages` on a confirm channel, `batch` at a time: send them all, then await
/// their confirms.
async fn bare_throughput(
    broker: &TestBroker,
    messages: &[OutgoingMessage],
    batch: usize,
) -> anyhow::Result<f64> {
    let connection = amqp::connect(&broker.settings(), "bench bare publisher").await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let mandatory = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    // The relay's own window: up to two batches unconfirmed, the oldest confirm awaited
    // whenever it is full.
    let window = batch.max(1) * 2;
    let mut in_flight = VecDeque::with_capacity(window);
    let started = Instant::now();
    for message in messages {
        if in_flight.len() == window
            && let Some(oldest) = in_flight.pop_front()
        {
            settle(oldest).await?;
        }
        in_flight.push_back(
            channel
                .basic_publish(
                    ShortString::from(message.exchange.clone()),
                    ShortString::from(message.routing_key.clone()),
                    mandatory,
                    message.body.as_bytes(),
                    amqp::properties(message, "bench"),
                )
                .await?,
        );
    }
    while let Some(confirm) = in_flight.pop_front() {
        settle(confirm).await?;
    }
    let elapsed = started.elapsed();
    connection.close(0, "done".into()).await.ok();
    Ok(messages.len() as f64 / elapsed.as_secs_f64())
}

/// Awaits one publish's confirm: an Ack without a returned message, or an error.
async fn settle(confirm: PublisherConfirm) -> anyhow::Result<()> {
    let confirmation = confirm.await?;
    anyhow::ensure!(
        confirmation.is_ack() && confirmation.take_message().is_none(),
        "the broker refused a message"
    );
    Ok(())
}

async fn purge_event_queues(channel: &Channel) -> anyhow::Result<()> {
    for queue in [
        topology::BUSINESS_PROCESS_APPLICATION_EVENTS,
        topology::REPORT_SERVICE_APPLICATION_EVENTS,
    ] {
        channel
            .queue_purge(queue.into(), QueuePurgeOptions::default())
            .await?;
    }
    Ok(())
}

/// Files applications at a steady rate and records how long each event took to arrive.
async fn steady_lag(broker: &TestBroker, options: &Options) -> anyhow::Result<Lags> {
    let (_connection, channel) = broker.channel().await?;
    // A quorum queue delivers a message only once the broker has committed it, which is also
    // when the publisher's confirm can be sent: its delivery does not overtake the confirm, as
    // a classic queue's would.
    let consumer = broker
        .subscribe_quorum(
            &channel,
            "bench.lag",
            topology::APPLICATIONS_EVENTS,
            "application.created",
        )
        .await?;
    let classic = broker
        .subscribe(
            &channel,
            topology::APPLICATIONS_EVENTS,
            "application.created",
        )
        .await?;
    let service = spawn_service(|settings| {
        settings.events = Some(relay_settings(broker.settings()));
    })
    .await?;
    if let Some(mut stats) = service.relay_stats.clone() {
        // Measure the steady state, not the relay's first connection.
        stats.wait_for(|stats| stats.connected).await?;
    }
    let channels = service.grpc_channels(4).await?;
    let bearer = service.bearer("bench-applicant", &[Role::Applicant])?;
    let warmup = options.rate * options.warmup_seconds;
    let total = warmup + options.rate * options.seconds;
    let mut drafts = DraftGenerator::new(options.seed);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / options.rate as f64));
    let mut requests = Vec::with_capacity(usize::try_from(total)?);
    // Applications stamped from this moment on are measured; the warm-up's are only counted.
    let measured_from =
        Utc::now() + chrono::Duration::seconds(i64::try_from(options.warmup_seconds)?);
    // Receive concurrently, so the consumers never lag behind the deliveries they measure.
    let committed = tokio::spawn(record_lags(consumer, total, measured_from));
    let sent = tokio::spawn(record_lags(classic, total, measured_from));
    for number in 0..total {
        ticker.tick().await;
        let channel = channels[usize::try_from(number)? % channels.len()].clone();
        let mut client = ApplicationServiceClient::with_interceptor(channel, bearer.clone());
        let application = drafts.draft();
        requests.push(tokio::spawn(async move {
            client
                .create_application(pb::CreateApplicationRequest {
                    request_id: String::new(),
                    application: Some(application),
                })
                .await
                .map(|_| ())
        }));
    }
    for request in requests {
        request.await??;
    }
    let lags = Lags {
        committed: committed.await??,
        sent: sent.await??,
    };
    service.stop().await?;
    Ok(lags)
}

/// The lags of one steady run, by where they were seen.
struct Lags {
    /// Delivered from a quorum queue: committed by the broker (confirm time).
    committed: LatencyRecorder,
    /// Delivered from a classic queue: routed by the broker as soon as it was sent.
    sent: LatencyRecorder,
}

/// Takes `total` deliveries and records the lag of those stamped from `measured_from` on.
async fn record_lags(
    mut consumer: lapin::Consumer,
    total: u64,
    measured_from: chrono::DateTime<Utc>,
) -> anyhow::Result<LatencyRecorder> {
    let mut lag = LatencyRecorder::new();
    for received_count in 0..total {
        let Some(Ok(delivery)) = consumer.next().await else {
            anyhow::bail!("the consumer closed after {received_count} events");
        };
        let received = Utc::now();
        let body: serde_json::Value = serde_json::from_slice(&delivery.data)?;
        let occurred: chrono::DateTime<Utc> =
            body["occurredAt"].as_str().context("occurredAt")?.parse()?;
        if occurred >= measured_from {
            lag.record((received - occurred).to_std().unwrap_or_default());
        }
    }
    Ok(lag)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}
