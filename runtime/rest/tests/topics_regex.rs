//! A sink with `topics.regex` reads every matching topic, including topics created after it started.

mod support;

use std::time::Duration;

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
    const RECORDS: usize = 60_000;
    let dir = temp_dir("regex-busy");
    let output = dir.join("out.txt");
    let worker = TestWorker::start(&dir.join("data")).await;
    let w = &worker.worker;
    let sink = json!({"connector.class": "file-sink", "file": output, "topics.regex": "busy-.*", "value.converter": "string"});
    w.create_connector("busy-sink", sink).await.unwrap();
    let datagen = |topic: &str, records: usize| {
        json!({"connector.class": "datagen-source", "topic": topic, "max.records": records, "records.per.second": 2000,
            "batch.size": 50, "value.converter": "string"})
    };
    w.create_connector("busy-main", datagen("busy-main", RECORDS)).await.unwrap();
    // One new topic per assignment refresh of the sink (10 s), while the main one flows.
    for (i, reached) in [2_000, 20_000, 40_000].into_iter().enumerate() {
        assert!(wait_until(Duration::from_secs(90), || lines(&output).len() >= reached).await, "{} lines", lines(&output).len());
        w.create_connector(&format!("busy-new-{i}"), datagen(&format!("busy-new-{i}"), 1)).await.unwrap();
    }
    let expected = RECORDS + 3;
    assert!(wait_until(Duration::from_secs(120), || lines(&output).len() >= expected).await, "{} of {expected}", lines(&output).len());
    assert!(holds_for(Duration::from_secs(2), || lines(&output).len() == expected).await, "{} lines", lines(&output).len());
    let mut counts = std::collections::HashMap::new();
    for line in lines(&output) {
        *counts.entry(line).or_insert(0) += 1;
    }
    // Each new topic's one record is `0-0`, as the main topic's first.
    let repeated: Vec<_> = counts.iter().filter(|(line, n)| **n != if line.as_str() == "0-0" { 4 } else { 1 }).collect();
    assert!(repeated.is_empty() && counts.len() == RECORDS, "{} distinct of {RECORDS}; counted wrong: {repeated:?}", counts.len());
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
