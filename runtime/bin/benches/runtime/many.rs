//! Many slow tasks on one worker process: `connectors` datagen connectors of `tasks` tasks
//! each at 1 record/s, on the benchmark's broker. How long until all run, what the worker
//! then costs (CPU of one core, resident memory), how fast it answers the status of all,
//! and what it logged at WARN and ERROR meanwhile.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::processes::WorkerProcess;
use crate::support::http;

/// What was measured of one worker running many slow tasks.
#[derive(Debug)]
pub struct ManyTasks {
    pub connectors: usize,
    pub tasks: usize,
    /// CPU of a process sending the same messages with the raw client (one tokio task per
    /// source task, one message a second each), over the same window.
    pub raw_cpu: f64,
    /// First create to every task RUNNING.
    pub all_running: Duration,
    /// CPU time over the window ÷ the window (1.0 = one core).
    pub cpu: f64,
    pub window: Duration,
    /// Resident memory at the end, KiB.
    pub rss_kib: u64,
    /// p50 and p99 of `GET /connectors?expand=status`.
    pub status_p50: Duration,
    pub status_p99: Duration,
    /// Records the broker acknowledged over the window (the rate is 1 record/s per task).
    pub records: u64,
    pub failed_tasks: usize,
    /// WARN and ERROR lines of the worker's log from its start to the end, and the most frequent.
    pub warnings: usize,
    pub errors: usize,
    pub frequent: Vec<(usize, String)>,
}

/// Topics the connectors write to (connector `c` to topic `c % TOPICS`).
const TOPICS: usize = 20;

/// The flag that makes the benchmark's executable the raw baseline's process.
pub const RAW_FLAG: &str = "--raw-slow-senders";

/// The raw baseline's process: `senders` tokio tasks on one raw client, each sending one
/// message a second to topic `i % TOPICS` of `prefix`, until killed.
pub async fn raw_senders(namesrv: &str, prefix: &str, senders: usize) -> anyhow::Result<()> {
    let client = crate::raw::RawClient::new(namesrv).await?;
    let body = vec![b'x'; 100];
    let tasks: Vec<_> = (0..senders)
        .map(|i| {
            let (client, topic, body) = (client.clone(), format!("{prefix}-{}", i % TOPICS), body.clone());
            tokio::spawn(async move { client.send_slowly(&topic, &body).await })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// The CPU share the raw baseline's process uses over `window`, once its senders run.
async fn raw_cpu(namesrv: &str, prefix: &str, senders: usize, window: Duration) -> anyhow::Result<f64> {
    let child = std::process::Command::new(std::env::current_exe()?)
        .args([RAW_FLAG, &senders.to_string(), "--namesrv", namesrv, "--prefix", prefix])
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let process = crate::processes::Measured::new(child);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (before, at) = (process.cpu_seconds()?, Instant::now());
    tokio::time::sleep(window).await;
    Ok((process.cpu_seconds()? - before) / at.elapsed().as_secs_f64())
}

/// Runs the scenario on the broker at `namesrv`.
pub async fn measure(namesrv: &str, dir: &Path, connectors: usize, tasks: usize, window: Duration) -> anyhow::Result<ManyTasks> {
    let log = dir.join("worker.log");
    std::fs::create_dir_all(dir)?;
    let args = ["--namesrv", namesrv].map(str::to_owned);
    let (worker, _) = WorkerProcess::start_logging(&dir.join("data"), &args, &log)?;
    let started = Instant::now();
    let run = std::process::id();
    for c in 0..connectors {
        let config = json!({"connector.class": "datagen-source", "topic": format!("bench-many-{run}-{}", c % TOPICS),
            "tasks.max": tasks, "records.per.second": 1, "payload.bytes": 100});
        worker.create(&format!("many-{c}"), config)?;
    }
    let total = connectors * tasks;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (running, failed) = task_states(&worker);
        if running == total {
            break;
        }
        anyhow::ensure!(failed == 0, "{failed} tasks FAILED while starting");
        anyhow::ensure!(Instant::now() < deadline, "{running} of {total} tasks running after 10 minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all_running = started.elapsed();
    // Start-up done: the window measures the steady state.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu_before, written_before, at) = (worker.process.cpu_seconds()?, written(&worker), Instant::now());
    tokio::time::sleep(window).await;
    let (cpu_after, written_after) = (worker.process.cpu_seconds()?, written(&worker));
    let window = at.elapsed();
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let at = Instant::now();
            let (status, _) = http(worker.rest, "GET", "/connectors?expand=status", None);
            assert_eq!(status, 200);
            at.elapsed()
        })
        .collect();
    times.sort();
    let (_, failed_tasks) = task_states(&worker);
    let rss_kib = worker.process.rss_kib()?;
    drop(worker);
    let text = std::fs::read_to_string(&log)?;
    // The same messages to the same topics, sent with the raw client alone.
    let raw_cpu = raw_cpu(namesrv, &format!("bench-many-{run}"), total, window).await?;
    let (warnings, errors, frequent) = warn_and_error_lines(&text);
    Ok(ManyTasks {
        connectors,
        tasks: total,
        raw_cpu,
        all_running,
        cpu: (cpu_after - cpu_before) / window.as_secs_f64(),
        window,
        rss_kib,
        status_p50: times[times.len() / 2],
        status_p99: times[times.len() * 99 / 100],
        records: written_after.saturating_sub(written_before),
        failed_tasks,
        warnings,
        errors,
        frequent,
    })
}

/// Running and failed tasks, from one `GET /connectors?expand=status`.
fn task_states(worker: &WorkerProcess) -> (usize, usize) {
    let (_, all) = http(worker.rest, "GET", "/connectors?expand=status", None);
    let states: Vec<String> = all
        .as_object()
        .into_iter()
        .flat_map(|all| all.values())
        .flat_map(|c| c["status"]["tasks"].as_array().cloned().unwrap_or_default())
        .map(|t| t["state"].as_str().unwrap_or_default().to_owned())
        .collect();
    (states.iter().filter(|s| *s == "RUNNING").count(), states.iter().filter(|s| *s == "FAILED").count())
}

/// Records the broker acknowledged, summed over the tasks (`connect_source_records_written_total`).
fn written(worker: &WorkerProcess) -> u64 {
    let (_, text) = crate::support::http_text(worker.rest, "GET", "/metrics", None);
    text.lines()
        .filter(|l| l.starts_with("connect_source_records_written_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// WARN and ERROR lines of a text log, and the five most frequent messages (timestamps cut).
fn warn_and_error_lines(text: &str) -> (usize, usize, Vec<(usize, String)>) {
    let (mut warnings, mut errors) = (0, 0);
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for line in text.lines() {
        if line.contains(" WARN ") {
            warnings += 1;
        } else if line.contains(" ERROR ") {
            errors += 1;
        } else {
            continue;
        }
        // The message without the timestamp, cut short: similar lines count together.
        let message: String = line.split_once(' ').map_or(line, |(_, rest)| rest).chars().take(90).collect();
        *counts.entry(message).or_default() += 1;
    }
    let mut frequent: Vec<(usize, String)> = counts.into_iter().map(|(m, n)| (n, m)).collect();
    frequent.sort_by(|a, b| b.cmp(a));
    frequent.truncate(5);
    (warnings, errors, frequent)
}
