//! Bad records: with `errors.tolerance=all` they go to the dead-letter topic with their error
//! context; with `none` the task fails with its trace, is not restarted by itself (a restart
//! meets the same record) and can be restarted over REST. Both are counted in `/metrics`.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{TestWorker, lines, temp_dir, wait_until};

const RECORDS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_records_go_to_the_dead_letter_topic_or_fail_the_task() {
    let dir = temp_dir("errors");
    let worker = TestWorker::start(&dir.join("data")).await;
    let w = &worker.worker;
    // Plain strings on "raw": not JSON, so a JSON value converter cannot read them.
    w.create_connector(
        "gen",
        json!({"connector.class": "datagen-source", "topic": "raw", "max.records": RECORDS, "value.converter": "string"}),
    )
    .await
    .unwrap();
    let tolerant = json!({
        "connector.class": "file-sink", "file": dir.join("tolerant.txt"), "topics": "raw",
        "value.converter": "json", "errors.tolerance": "all", "errors.log.enable": "true",
        "errors.deadletterqueue.topic.name": "raw-dlq", "errors.deadletterqueue.context.headers.enable": "true",
    });
    w.create_connector("tolerant", tolerant).await.unwrap();
    w.create_connector(
        "dlq-reader",
        json!({"connector.class": "file-sink", "file": dir.join("dlq.txt"), "topics": "raw-dlq", "value.converter": "string"}),
    )
    .await
    .unwrap();
    w.create_connector(
        "strict",
        json!({"connector.class": "file-sink", "file": dir.join("strict.txt"), "topics": "raw", "value.converter": "json"}),
    )
    .await
    .unwrap();

    let dead_lettered = wait_until(Duration::from_secs(90), || lines(&dir.join("dlq.txt")).len() >= RECORDS).await;
    let mut dlq = lines(&dir.join("dlq.txt"));
    dlq.sort();
    let mut expected: Vec<String> = (0..RECORDS).map(|i| format!("0-{i}")).collect();
    expected.sort();
    assert!(dead_lettered, "only {} records reached the dead-letter topic", dlq.len());
    assert_eq!(dlq, expected, "the dead-letter topic holds the original values");
    assert!(lines(&dir.join("tolerant.txt")).is_empty(), "nothing unreadable was written");
    assert_eq!(worker.metric("connect_dlq_records_total", "tolerant", 0), RECORDS as f64);
    assert_eq!(worker.metric("connect_records_skipped_total", "tolerant", 0), RECORDS as f64);
    assert_eq!(worker.metric("connect_task_errors_total", "tolerant", 0), RECORDS as f64);

    // A converter's refusal is deterministic: the task is left failed, not restarted by itself.
    let left_failed = || {
        let task = &worker.call("GET", "/connectors/strict/status", None).1["tasks"][0];
        task["state"] == "FAILED" && task["trace"].as_str().is_some_and(|t| t.contains("not restarted automatically"))
    };
    let failed = wait_until(Duration::from_secs(60), left_failed).await;
    let (_, status) = worker.call("GET", "/connectors/strict/status", None);
    assert!(failed, "the strict sink should fail and stay failed: {status}");
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.starts_with("the value converter refused a record: ") && trace.contains("not valid JSON"), "the trace says why: {trace}");
    assert!(worker.metric("connect_task_errors_total", "strict", 0) >= 1.0);

    let (code, restarted) = worker.call("POST", "/connectors/strict/restart?includeTasks=true&onlyFailed=true", None);
    assert_eq!(code, 202, "{restarted}");
    let failed_again =
        wait_until(Duration::from_secs(60), || worker.call("GET", "/connectors/strict/tasks/0/status", None).1["state"] == "FAILED").await;
    assert!(failed_again, "the same bad record fails the restarted task again");
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_routed_to_a_topic_no_connector_may_use_are_bad_records() {
    let dir = temp_dir("routed");
    let worker = TestWorker::start(&dir.join("data")).await;
    // RegexRouter makes topic names at run time: RocketMQ's own, and names RocketMQ refuses.
    for (name, replacement) in [("system", "TBW102"), ("malformed", "a.b")] {
        let config = json!({
            "connector.class": "datagen-source", "topic": format!("routed-{name}"), "max.records": 5,
            "transforms": "route", "transforms.route.type": "RegexRouter", "transforms.route.regex": ".*",
            "transforms.route.replacement": replacement, "errors.tolerance": "all",
        });
        worker.worker.create_connector(name, config).await.unwrap();
    }
    let skipped = wait_until(Duration::from_secs(60), || {
        ["system", "malformed"].iter().all(|name| worker.metric("connect_records_skipped_total", name, 0) >= 5.0)
    })
    .await;
    assert!(skipped, "each record is refused, and skipped under errors.tolerance=all");
    for name in ["system", "malformed"] {
        assert_eq!(worker.metric("connect_source_records_written_total", name, 0), 0.0, "{name}: nothing was sent");
    }
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
