//! File → RocketMQ → file through a standalone worker on the embedded broker.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{TestWorker, lines, missing_and_duplicates, temp_dir, wait_until, write_numbered};

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
    // With nothing changing, the herder sleeps (it once spun on the closed member channel of
    // a standalone worker, taking a core from the tasks).
    let passes = || {
        let text = support::http_text(worker.rest, "GET", "/metrics", None).1;
        text.lines().find_map(|l| l.strip_prefix("connect_worker_reconcile_passes ")).and_then(|v| v.trim().parse::<f64>().ok()).unwrap()
    };
    let before = passes();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(passes() - before <= 3.0, "the herder made {} passes in 2 s of nothing", passes() - before);
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
