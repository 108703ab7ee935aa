//! `POST /connectors/{name}/dlq/replay`: once a sink's config is fixed, what it dead-lettered
//! goes back to the topic it was read from and through the sink, each record once; records
//! other connectors dead-lettered to the same topic stay; a dry run sends nothing.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{TestWorker, lines, temp_dir, wait_until};

const RECORDS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fixed_sink_gets_what_it_dead_lettered_back_once_and_others_records_stay() {
    let dir = temp_dir("dlq-replay");
    let worker = TestWorker::start(&dir.join("data")).await;
    let w = &worker.worker;
    // Plain strings: a JSON value converter refuses every one of them.
    for (source, topic) in [("gen", "raw"), ("gen-other", "raw-other")] {
        let config = json!({"connector.class": "datagen-source", "topic": topic, "max.records": RECORDS, "value.converter": "string"});
        w.create_connector(source, config).await.unwrap();
    }
    let sink = |file: &str, topic: &str, converter: &str| {
        json!({"connector.class": "file-sink", "file": dir.join(file), "topics": topic, "value.converter": converter,
               "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "shared-dlq"})
    };
    w.create_connector("orders", sink("orders.txt", "raw", "json")).await.unwrap();
    w.create_connector("other", sink("other.txt", "raw-other", "json")).await.unwrap();
    let dead_lettered = wait_until(Duration::from_secs(90), || {
        worker.metric("connect_dlq_records_total", "orders", 0) + worker.metric("connect_dlq_records_total", "other", 0)
            >= 2.0 * RECORDS as f64
    })
    .await;
    assert!(dead_lettered, "both sinks dead-letter their {RECORDS} records");

    // Not fixed yet: a dry run says what would go back, and sends nothing.
    let (status, dry) = worker.call("POST", "/connectors/orders/dlq/replay?dry_run=true", None);
    assert_eq!(status, 200, "{dry}");
    assert_eq!((dry["replayed"].as_u64(), dry["other_connectors"].as_u64()), (Some(RECORDS as u64), Some(RECORDS as u64)), "{dry}");
    assert_eq!(dry["records"].as_array().unwrap().len(), 100, "the first hundred are listed");
    assert_eq!(dry["records"][0]["topic"], "raw");
    assert_eq!(dry["records"][0]["stage"], "VALUE_CONVERTER");
    assert!(dry["records"][0]["error"].as_str().unwrap().contains("JSON"), "{dry}");

    // Fixed: the strings are read as strings now; the replay sends each record back once.
    let mut fixed = sink("orders.txt", "raw", "string");
    fixed["name"] = json!("orders");
    assert_eq!(worker.call("PUT", "/connectors/orders/config", Some(&fixed)).0, 200);
    let (status, replayed) = worker.call("POST", "/connectors/orders/dlq/replay", None);
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["replayed"], RECORDS, "{replayed}");
    assert_eq!(replayed["dry_run"], false);
    let written = wait_until(Duration::from_secs(60), || lines(&dir.join("orders.txt")).len() >= RECORDS).await;
    let mut values = lines(&dir.join("orders.txt"));
    values.sort();
    let mut expected: Vec<String> = (0..RECORDS).map(|i| format!("0-{i}")).collect();
    expected.sort();
    assert!(written, "{} of {RECORDS} replayed records written", values.len());
    assert_eq!(values, expected, "each dead-lettered record written once, as it was read");

    // Again: nothing left to send; the other connector's records are still in the topic.
    let (_, again) = worker.call("POST", "/connectors/orders/dlq/replay", None);
    assert_eq!((again["replayed"].as_u64(), again["already_replayed"].as_u64()), (Some(0), Some(0)), "{again}");
    let (_, others) = worker.call("POST", "/connectors/other/dlq/replay?dry_run=true", None);
    assert_eq!(others["replayed"], RECORDS, "{others}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(lines(&dir.join("orders.txt")).len(), RECORDS, "nothing written twice");

    // What cannot be replayed is refused with a reason.
    let (status, body) = worker.call("POST", "/connectors/gen/dlq/replay", None);
    assert_eq!(status, 400, "a source: {body}");
    let (status, _) = worker.call("POST", "/connectors/nope/dlq/replay", None);
    assert_eq!(status, 404);
    let (status, body) = worker.call("POST", "/connectors/orders/dlq/replay?dry_run=maybe", None);
    assert_eq!(status, 400, "{body}");
    worker.shutdown().await;
}
