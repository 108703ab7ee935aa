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

/// Runs the scenario on the broker at `namesrv`.
pub async fn measure(namesrv: &str, dir: &Path, connectors: usize, tasks: usize, window: Duration) -> anyhow::Result<ManyTasks> {
    let log = dir.join("worker.log");
    std::fs::create_dir_all(dir)?;
    let args = ["--namesrv", namesrv].map(str::to_owned);
    let (worker, _) = WorkerProcess::start_logging(&dir.join("data"), &args, &log)?;
    let started = Instant::now();
    let run = std::process::id();
    for c in 0..connectors {
        let config = json!({"connector.class": "datagen-source", "topic": format!("bench-many-{run}-{}", c % 20),
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
    let (cpu_before, written_before, at) = (worker.cpu_seconds()?, written(&worker), Instant::now());
    tokio::time::sleep(window).await;
    let (cpu_after, written_after) = (worker.cpu_seconds()?, written(&worker));
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
    let rss_kib = worker.rss_kib()?;
    drop(worker);
    let text = std::fs::read_to_string(&log)?;
    let (warnings, errors, frequent) = warn_and_error_lines(&text);
    Ok(ManyTasks {
        connectors,
        tasks: total,
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
