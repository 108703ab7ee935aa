//! File → RocketMQ → file through a standalone worker on the embedded broker.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{TestWorker, holds_for, lines, missing_and_duplicates, temp_dir, wait_until, write_numbered};

const LINES: usize = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_pipeline_delivers_every_line() {
    let dir = temp_dir("pipeline");
    let (input, output) = (dir.join("in.txt"), dir.join("out.txt"));
    write_numbered(&input, LINES);
    let worker = TestWorker::start(&dir.join("data")).await;
    let started = Instant::now();
    worker
        .worker
        .create_connector("in", json!({"connector.class": "file-source", "file": input, "topic": "pipeline-lines"}))
        .await
        .unwrap();
    worker
        .worker
        .create_connector("out", json!({"connector.class": "file-sink", "file": output, "topics": "pipeline-lines"}))
        .await
        .unwrap();
    let arrived = wait_until(Duration::from_secs(240), || lines(&output).len() >= LINES).await;
    let elapsed = started.elapsed();
    let got = lines(&output);
    let (missing, duplicates) = missing_and_duplicates(&got, LINES);
    println!(
        "file pipeline: {} lines in {elapsed:?} ({:.0} lines/s), {missing} missing, {duplicates} duplicated",
        got.len(),
        got.len() as f64 / elapsed.as_secs_f64()
    );
    assert!(arrived, "only {} of {LINES} lines arrived", got.len());
    assert_eq!((missing, duplicates), (0, 0), "no crash happened, so nothing may be missing or duplicated");
    let in_order = got.iter().enumerate().all(|(i, line)| *line == format!("line-{i}"));
    assert!(in_order, "one file is one source partition, pinned to one queue: its lines arrive in order");
    assert_eq!(worker.metric("connect_source_records_written_total", "in", 0), LINES as f64);
    assert_eq!(worker.metric("connect_sink_records_put_total", "out", 0), LINES as f64);
    // Every record's latency is observed: its send by the source, its age at the sink's put.
    assert_eq!(worker.metric("connect_source_send_seconds_count", "in", 0), LINES as f64);
    assert_eq!(worker.metric("connect_sink_record_age_seconds_count", "out", 0), LINES as f64);
    assert!(worker.metric("connect_sink_record_age_seconds_sum", "out", 0) > 0.0);
    // With nothing changing, the herder sleeps (it once spun on the closed member channel of
    // a standalone worker, taking a core from the tasks).
    let passes = || {
        let text = support::http_text(worker.rest, "GET", "/metrics", None).1;
        text.lines().find_map(|l| l.strip_prefix("connect_worker_reconcile_passes ")).and_then(|v| v.trim().parse::<f64>().ok()).unwrap()
    };
    let before = passes();
    let idle = holds_for(Duration::from_secs(2), || passes() - before <= 3.0).await;
    assert!(idle, "the herder made {} passes in 2 s of nothing", passes() - before);
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_source_commits_what_it_wrote_without_waiting_for_the_flush_interval() {
    let dir = temp_dir("paused-commit");
    let input = dir.join("in.txt");
    write_numbered(&input, 1_000);
    // Offsets would reach the log only every ten minutes: the pause has to commit them.
    let settings = connect_runtime::RunnerSettings { offset_flush_interval: Duration::from_secs(600), ..support::fast_settings() };
    let worker = TestWorker::start_with(&dir.join("data"), settings).await;
    let call = |method: &str, path: &str| worker.call(method, path, None);
    worker.worker.create_connector("in", json!({"connector.class": "file-source", "file": input, "topic": "paused-lines"})).await.unwrap();
    let written = wait_until(Duration::from_secs(60), || worker.metric("connect_source_records_written_total", "in", 0) >= 1_000.0).await;
    assert!(written, "the source did not write its lines");
    let committed = || call("GET", "/connectors/in/offsets").1["offsets"].as_array().is_some_and(|o| !o.is_empty());
    assert!(!committed(), "nothing is committed before the flush interval");
    assert_eq!(call("PUT", "/connectors/in/pause").0, 202);
    assert!(
        wait_until(Duration::from_secs(30), committed).await,
        "the paused source committed nothing: {}",
        call("GET", "/connectors/in/offsets").1
    );
    let (_, offsets) = call("GET", "/connectors/in/offsets");
    assert!(offsets.to_string().contains("position"), "{offsets}");
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_records_are_batched_under_the_broker_limit_and_one_over_it_is_refused_before_sending() {
    const LINES: usize = 30;
    const LINE_BYTES: usize = 300 * 1024;
    let dir = temp_dir("large-records");
    let (input, output) = (dir.join("in.txt"), dir.join("out.txt"));
    // 9 MB of lines (more than two batches' worth of bytes) and, in the middle, one line of 5 MiB.
    let mut text = String::new();
    for i in 0..LINES {
        text.push_str(&format!("line-{i}-{}\n", "x".repeat(LINE_BYTES)));
        if i == LINES / 2 {
            text.push_str(&format!("huge-{}\n", "y".repeat(5 * 1024 * 1024)));
        }
    }
    std::fs::write(&input, text).unwrap();
    let worker = TestWorker::start(&dir.join("data")).await;
    let source = |tolerance: &str, topic: &str| {
        json!({"connector.class": "file-source", "file": input, "topic": topic, "max.line.bytes": 8 * 1024 * 1024,
               "value.converter": "string", "errors.tolerance": tolerance, "errors.restart.max.attempts": 0})
    };
    worker.worker.create_connector("tolerant", source("all", "large-records")).await.unwrap();
    worker.worker.create_connector("strict", source("none", "large-records-strict")).await.unwrap();
    worker
        .worker
        .create_connector(
            "out",
            json!({"connector.class": "file-sink", "file": output, "topics": "large-records", "value.converter": "string"}),
        )
        .await
        .unwrap();
    let arrived = wait_until(Duration::from_secs(120), || lines(&output).len() >= LINES).await;
    let got = lines(&output);
    assert!(arrived, "{} of {LINES} lines arrived", got.len());
    assert!(got.iter().enumerate().all(|(i, l)| l.starts_with(&format!("line-{i}-")) && l.len() > LINE_BYTES), "in order, whole");
    assert_eq!(worker.metric("connect_records_skipped_total", "tolerant", 0), 1.0, "the huge line is skipped and counted");
    let failed = wait_until(Duration::from_secs(60), || {
        let status = support::http(worker.rest, "GET", "/connectors/strict/status", None).1;
        status["tasks"][0]["state"] == "FAILED"
            && status["tasks"][0]["trace"].as_str().is_some_and(|t| t.contains("larger than the broker's message limit (4194304 bytes"))
    })
    .await;
    assert!(failed, "{}", support::http(worker.rest, "GET", "/connectors/strict/status", None).1);
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
