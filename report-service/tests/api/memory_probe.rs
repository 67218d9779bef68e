use std::time::{Duration, Instant};

use crate::helpers::{
    TEST_SECRET, TestSystem, insert_applications, spawn_without_reports, summary_job,
};

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn memory_probe() {
    let rows: i64 = std::env::var("PROBE_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let system = spawn_without_reports(|_| {}).await;
    let started = Instant::now();
    for _ in 0..(rows / 100_000).max(1) {
        insert_applications(&system.applications_pool, "anna", rows.min(100_000)).await;
    }
    eprintln!("inserted {rows} in {:?}", started.elapsed());
    for format in ["CSV", "JSON", "XLSX"] {
        let mut child = spawn_release(&system);
        let pid = child.id().expect("pid");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let job = summary_job("olga", "operator", format);
        let id: uuid::Uuid = job["reportId"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .expect("id");
        let started = Instant::now();
        system.publish_job(&job).await;
        loop {
            if system.status(id).await.as_deref() == Some("COMPLETED") {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(1500));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let size: i64 = sqlx::query_scalar("SELECT size FROM reports WHERE id = $1")
            .bind(id)
            .fetch_one(&system.reports_pool)
            .await
            .expect("size");
        eprintln!(
            "{format}: {:?}, peak RSS {} MiB, size {} MiB",
            started.elapsed(),
            peak_rss_kib(pid) / 1024,
            size / 1024 / 1024
        );
        child.start_kill().ok();
        child.wait().await.ok();
    }
}

fn spawn_release(system: &TestSystem) -> tokio::process::Child {
    let files = system.files.path();
    tokio::process::Command::new("/var/tmp/zayavki-target/release/report-service")
        .env_clear()
        .env("REPORT_DATABASE_URL", system.reports_database.url())
        .env("REPORT_HTTP_ADDR", "127.0.0.1:0")
        .env(
            "APPLICATION_SERVICE_URL",
            format!("http://{}", system.applications_address),
        )
        .env("AMQP_URL", system.broker.url())
        .env("JWT_SECRET", TEST_SECRET)
        .env("REPORT_STORAGE", files.join("reports"))
        .env("REPORT_WORK_DIR", files.join("work"))
        .env("REPORT_PREFETCH", "1")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("release binary")
}
