//! rocketmq-source against a second, real RocketMQ cluster (an embedded name server and
//! broker on free ports): every queue copied in order, keys, tags and properties kept, and
//! resumption from the worker's offsets.

use std::time::Instant;

use connect_rocketmq::RocketMqSource;
use connect_runtime::embedded::{EmbeddedConfig, EmbeddedRocketMq, PlainMessage};
use connect_sdk::config::ConfigOrigin;
use connect_sdk::data::Value;
use connect_sdk::host::plugin::source_factory;
use connect_sdk::serde_json::json;
use connect_sdk::testing::SourceHarness;
use connect_sdk::testing::compliance::SourceCompliance;

/// The build profile, for the measurements' labels.
const PROFILE: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

/// The source cluster, with `per_queue` messages in each of the 4 queues of `topic`.
async fn source_cluster(name: &str, topic: &str, per_queue: usize) -> (EmbeddedRocketMq, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("connect-rocketmq-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cluster = EmbeddedRocketMq::start(&EmbeddedConfig::free_ports(dir.join("mq"))).await.expect("the source cluster starts");
    cluster.create_topic(topic, 4).await.unwrap();
    for queue in 0..4 {
        let messages: Vec<PlainMessage> = (0..per_queue)
            .map(|i| PlainMessage {
                key: Some(format!("key-{i}")),
                tags: Some("eu".to_owned()),
                properties: vec![("region".to_owned(), "west".to_owned())],
                ..PlainMessage::new(format!("q{queue}-m{i}"))
            })
            .collect();
        cluster.send(topic, queue, messages).await.unwrap();
    }
    (cluster, dir)
}

fn text(value: &Value) -> String {
    match value {
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_queue_is_copied_in_order_with_keys_tags_and_properties() {
    let (cluster, dir) = source_cluster("copy", "orders", 30).await;
    let config = json!({"source.namesrv": cluster.namesrv_addr(), "source.topics": "orders", "topic": "copy-${topic}", "tasks.max": 2});
    let mut harness = SourceHarness::<RocketMqSource>::new(config.clone()).await.unwrap();
    assert_eq!(harness.task_count(), 2, "the four queues are planned over two tasks");
    let records = harness.poll_at_least(120).await.unwrap();
    assert_eq!(records.len(), 120);
    for queue in 0..4 {
        let bodies: Vec<String> = records
            .iter()
            .filter(|r| r.headers.last("rocketmq.source.queue").map(|h| &h.value) == Some(&Value::Int32(queue)))
            .map(|r| text(&r.value))
            .collect();
        assert_eq!(bodies, (0..30).map(|i| format!("q{queue}-m{i}")).collect::<Vec<_>>(), "queue {queue} in order");
    }
    let first = &records[0];
    assert_eq!(first.topic, "copy-orders");
    assert!(matches!(&first.key, Value::String(k) if k.starts_with("key-")));
    assert_eq!(first.headers.last("rocketmq.tags").map(|h| &h.value), Some(&Value::from("eu")));
    assert_eq!(first.headers.last("region").map(|h| &h.value), Some(&Value::from("west")));
    assert!(first.headers.last("KEYS").is_none(), "system properties are not headers");
    // Planning again finds the same queues (and would find added ones).
    let factory = source_factory::<RocketMqSource>();
    let mut full = config.as_object().unwrap().clone();
    full.insert("name".into(), json!("copy"));
    full.insert("connector.class".into(), json!("rocketmq-source"));
    full.insert("tasks.max".into(), json!(8));
    let parsed = (factory.parse)(&full, ConfigOrigin::User).unwrap();
    let plan = (factory.plan)(parsed, 8).await.unwrap();
    assert_eq!(plan.tasks.len(), 4, "at most one task per queue");
    assert!(plan.replan_after.is_some());
    harness.close().await.unwrap();
    cluster.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_keeps_the_source_guarantees() {
    let (cluster, dir) = source_cluster("compliance", "events", 15).await;
    let config = json!({"source.namesrv": cluster.namesrv_addr(), "source.topics": "events", "batch.size": 4});
    let report = SourceCompliance::new(config).records(60).run::<RocketMqSource>().await;
    cluster.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(report.unwrap().passed.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check: cargo test --release -p connect-rocketmq --test rocketmq -- --ignored --nocapture"]
async fn replication_throughput() {
    const PER_QUEUE: usize = 5_000;
    let (cluster, dir) = source_cluster("throughput", "bulk", PER_QUEUE).await;
    let config = json!({"source.namesrv": cluster.namesrv_addr(), "source.topics": "bulk", "batch.size": 256, "value.converter": "bytes"});
    let mut harness = SourceHarness::<RocketMqSource>::new(config).await.unwrap();
    let started = Instant::now();
    let read = harness.poll_at_least(4 * PER_QUEUE).await.unwrap().len();
    let rate = read as f64 / started.elapsed().as_secs_f64();
    println!("MEASURED rocketmq-source: {read} messages read from the source cluster at {rate:.0} records/s ({PROFILE} build, one task)");
    harness.close().await.unwrap();
    cluster.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(read, 4 * PER_QUEUE);
}
