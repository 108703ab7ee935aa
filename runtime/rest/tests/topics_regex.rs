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
