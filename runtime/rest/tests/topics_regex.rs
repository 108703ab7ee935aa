//! A sink with `topics.regex` reads every matching topic, including topics created after it started.

mod support;

use std::time::Duration;

// object-store-sink, linked for the buffering sink's test.
use connect_object_store as _;

use serde_json::json;
use support::{TestWorker, holds_for, lines, temp_dir, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn regex_sink_reads_every_matching_topic() {
    let dir = temp_dir("regex");
    let output = dir.join("out.txt");
    let worker = TestWorker::start(&dir.join("data")).await;
    let w = &worker.worker;
    w.create_connector(
        "all-orders",
        json!({"connector.class": "file-sink", "file": output, "topics.regex": "orders-.*", "value.converter": "string"}),
    )
    .await
    .unwrap();
    for region in ["eu", "us"] {
        let config = json!({"connector.class": "datagen-source", "topic": format!("orders-{region}"), "max.records": 25, "value.converter": "string"});
        w.create_connector(&format!("gen-{region}"), config).await.unwrap();
    }
    w.create_connector(
        "gen-other",
        json!({"connector.class": "datagen-source", "topic": "payments", "max.records": 25, "value.converter": "string"}),
    )
    .await
    .unwrap();
    let arrived = wait_until(Duration::from_secs(90), || lines(&output).len() >= 50).await;
    assert!(arrived, "{} of 50 records", lines(&output).len());
    assert!(
        holds_for(Duration::from_secs(1), || lines(&output).len() == 50).await,
        "payments does not match: {} lines",
        lines(&output).len()
    );
    assert_eq!(worker.call("GET", "/connectors/all-orders/topics", None).1, json!({"all-orders": {"topics": ["orders-eu", "orders-us"]}}));
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// New topics matching while the sink reads a busy one hand the task its queues again
/// mid-run, three times while records flow: the busy topic goes on where the file holds it,
/// so every record is in the file once (a file sink that answered its last sync's positions
/// wrote the batch in flight a second time).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn topics_appearing_while_a_busy_topic_is_read_repeat_and_lose_nothing() {
    let dir = temp_dir("regex-busy");
    let output = dir.join("out.txt");
    let sink = json!({"connector.class": "file-sink", "file": output, "topics.regex": "busy-.*", "value.converter": "string"});
    busy_topic_while_new_ones_appear(&dir, sink, || lines(&output)).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// The same into object-store-sink, which keeps records buffered in open files across
/// flushes and drops them when its queues are handed over again: a queue it keeps is read
/// again from the offset just committed (the first record not in a written file), so nothing
/// buffered is lost (the consumer's own position was past them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn topics_appearing_while_buffering_sink_reads_a_busy_one_lose_and_repeat_nothing() {
    let dir = temp_dir("regex-busy-store");
    let store = dir.join("store");
    let sink = json!({"connector.class": "object-store-sink", "store.url": store, "topics.regex": "busy-.*", "flush.size": 5000,
        "rotate.schedule.interval.ms": 1000, "value.converter": "string"});
    let written = || {
        let mut out = Vec::new();
        let mut pending = vec![store.clone()];
        while let Some(dir) = pending.pop() {
            for path in std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()) {
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "jsonl") {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    out.extend(text.lines().map(|l| serde_json::from_str::<String>(l).unwrap_or_else(|_| l.to_owned())));
                }
            }
        }
        out
    };
    busy_topic_while_new_ones_appear(&dir, sink, written).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `busy-main` (60,000 records at 2,000/s) while three new `busy-*` topics of one record
/// each appear, one per assignment refresh of the sink (10 s), into the sink configured by
/// `sink`; asserts that `written` (what the sink wrote, one value per record) ends up holding
/// each record once.
async fn busy_topic_while_new_ones_appear(dir: &std::path::Path, sink: serde_json::Value, written: impl Fn() -> Vec<String>) {
    const RECORDS: usize = 60_000;
    let worker = TestWorker::start(&dir.join("data")).await;
    let w = &worker.worker;
    w.create_connector("busy-sink", sink).await.unwrap();
    let datagen = |topic: &str, records: usize| {
        json!({"connector.class": "datagen-source", "topic": topic, "max.records": records, "records.per.second": 2000,
            "batch.size": 50, "value.converter": "string"})
    };
    w.create_connector("busy-main", datagen("busy-main", RECORDS)).await.unwrap();
    for (i, reached) in [2_000, 20_000, 40_000].into_iter().enumerate() {
        assert!(wait_until(Duration::from_secs(90), || written().len() >= reached).await, "{} written", written().len());
        w.create_connector(&format!("busy-new-{i}"), datagen(&format!("busy-new-{i}"), 1)).await.unwrap();
    }
    let expected = RECORDS + 3;
    assert!(wait_until(Duration::from_secs(120), || written().len() >= expected).await, "{} of {expected}", written().len());
    assert!(holds_for(Duration::from_secs(2), || written().len() == expected).await, "{} written", written().len());
    let mut counts = std::collections::HashMap::new();
    for value in written() {
        *counts.entry(value).or_insert(0) += 1;
    }
    // Each new topic's one record is `0-0`, as the main topic's first.
    let repeated: Vec<_> = counts.iter().filter(|(value, n)| **n != if value.as_str() == "0-0" { 4 } else { 1 }).collect();
    assert!(repeated.is_empty() && counts.len() == RECORDS, "{} distinct of {RECORDS}; counted wrong: {repeated:?}", counts.len());
    worker.shutdown().await;
}
