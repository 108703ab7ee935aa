//! The same work done by connectors in a worker: `datagen-source` → RocketMQ, RocketMQ →
//! `log-sink` (quiet: a null sink), and file → RocketMQ → file.

use std::path::Path;
use std::time::{Duration, Instant};

use connect_runtime::Worker;
use serde_json::json;

use crate::window::{Window, process_cpu};

/// Sum over a connector's tasks of a counter of the worker's metrics.
pub async fn counter(worker: &Worker, name: &str, connector: &str) -> u64 {
    let prefix = format!("{name}{{connector=\"{connector}\",");
    worker
        .metrics_text()
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| rest.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Waits until `name` of `connector` reaches `target`, watching from `start`; fails after ten minutes.
pub async fn wait_for(worker: &Worker, name: &str, connector: &str, target: u64, start: Instant) -> anyhow::Result<Window> {
    let start_cpu = process_cpu();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first = None;
    loop {
        let value = counter(worker, name, connector).await;
        let now = Instant::now();
        if value > 0 && first.is_none() {
            first = Some((now, value));
        }
        if value >= target {
            return Ok(Window {
                start,
                cpu: process_cpu().saturating_sub(start_cpu),
                first: first.unwrap_or((start, 0)),
                end: now,
                total: value,
            });
        }
        anyhow::ensure!(now < deadline, "{connector}: {name} at {value} of {target}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// `datagen-source` with `tasks` tasks until `records` records of `size` bytes are
/// acknowledged by the broker, watched from the connector's creation.
pub async fn produce(worker: &Worker, topic: &str, records: usize, size: usize, tasks: usize, converter: &str) -> anyhow::Result<Window> {
    let name = format!("{topic}-source");
    let config = json!({
        "connector.class": "datagen-source", "topic": topic, "tasks.max": tasks, "max.records": records / tasks,
        "payload.bytes": size, "batch.size": crate::raw::BATCH, "value.converter": converter,
    });
    let started = Instant::now();
    worker.create_connector(&name, config).await?;
    let window = wait_for(worker, "connect_source_records_written_total", &name, records as u64, started).await?;
    worker.delete_connector(&name).await?;
    Ok(window)
}

/// `log-sink` (quiet) with `tasks` tasks until it was handed `records` records of `topic`,
/// watched from the connector's creation.
pub async fn consume(worker: &Worker, topic: &str, records: usize, tasks: usize, converter: &str) -> anyhow::Result<Window> {
    let name = format!("{topic}-sink");
    let config = json!({"connector.class": "log-sink", "topics": topic, "tasks.max": tasks, "quiet": true, "value.converter": converter});
    let started = Instant::now();
    worker.create_connector(&name, config).await?;
    let window = wait_for(worker, "connect_sink_records_put_total", &name, records as u64, started).await?;
    worker.delete_connector(&name).await?;
    Ok(window)
}

/// The file pipeline against `cat` of the same file.
#[derive(Debug)]
pub struct FilePipeline {
    pub bytes: u64,
    pub lines: usize,
    pub worker: Duration,
    pub cat: Duration,
    /// The same shape through the raw client (a producer and a consumer writing the file).
    pub raw: Duration,
}

/// Copies a file of `lines` lines of 100 bytes with `file-source` → RocketMQ → `file-sink`,
/// checks the copy is identical, and times `cat` of the same file and the raw client's copy
/// of the same shape.
pub async fn file_pipeline(worker: &Worker, raw: &crate::raw::RawClient, dir: &Path, lines: usize) -> anyhow::Result<FilePipeline> {
    std::fs::create_dir_all(dir)?;
    let input = dir.join("input.txt");
    let output = dir.join("output.txt");
    let text: String = (0..lines).map(|i| format!("{i:0>12} {}\n", "x".repeat(86))).collect();
    std::fs::write(&input, &text)?;
    let bytes = text.len() as u64;

    let started = Instant::now();
    let cat = std::process::Command::new("cat").arg(&input).stdout(std::fs::File::create(dir.join("cat.txt"))?).status()?;
    let cat_time = started.elapsed();
    anyhow::ensure!(cat.success(), "cat failed");
    // Written back before the timed runs: neither path pays for the preparation's dirty pages
    // (the sink syncs its file as it goes, and a sync waits for what is being written back).
    for file in [&input, &dir.join("cat.txt")] {
        std::fs::File::open(file)?.sync_all()?;
    }

    let strings = json!({"key.converter": "string", "value.converter": "string"});
    let mut source = json!({"connector.class": "file-source", "file": input, "topic": "bench-file"});
    let mut sink = json!({"connector.class": "file-sink", "topics": "bench-file", "file": output});
    for config in [&mut source, &mut sink] {
        config.as_object_mut().expect("an object").extend(strings.as_object().expect("an object").clone());
    }
    let started = Instant::now();
    worker.create_connector("bench-file-source", source).await?;
    worker.create_connector("bench-file-sink", sink).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0) < bytes {
        anyhow::ensure!(Instant::now() < deadline, "the file pipeline did not finish");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    worker.delete_connector("bench-file-source").await?;
    worker.delete_connector("bench-file-sink").await?;
    anyhow::ensure!(std::fs::read(&output)? == text.as_bytes(), "the copy differs from the input");
    let raw_output = dir.join("raw-output.txt");
    let raw_time = raw.file_pipeline(&input, &raw_output, "bench-file-raw").await?;
    anyhow::ensure!(std::fs::read(&raw_output)? == text.as_bytes(), "the raw copy differs from the input");
    Ok(FilePipeline { bytes, lines, worker: elapsed, cat: cat_time, raw: raw_time })
}
