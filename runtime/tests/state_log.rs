//! State logs kept in a RocketMQ topic: what one worker writes, every worker reads, in one
//! order; a reopened log replays from its latest snapshot, not from the beginning.

mod support;

use std::sync::Arc;

use connect_runtime::embedded::{EmbeddedConfig, EmbeddedRocketMq};
use connect_runtime::mq::MqClient;
use connect_runtime::state::log::{StateLog, last_write_wins};
use connect_runtime::state::topic::{self, SnapshotPolicy, TopicLogConfig};
use serde_json::json;

async fn open(mq: &MqClient, topic: &str, instance: &str, policy: SnapshotPolicy) -> StateLog {
    let producer = Arc::new(mq.producer(&format!("producer-{instance}")).await.expect("a producer"));
    let config = TopicLogConfig { name: "test", topic, reader_group: &format!("readers-{instance}"), policy, merge: last_write_wins };
    topic::open(mq, producer, config).await.expect("the log opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_worker_writes_every_worker_reads_and_replay_starts_at_the_latest_snapshot() {
    let dir = support::temp_dir("state-log");
    let broker = EmbeddedRocketMq::start(&EmbeddedConfig::free_ports(dir.join("rocketmq"))).await.unwrap();
    let policy = SnapshotPolicy { min_records: 100, ..SnapshotPolicy::default() };
    let (a_client, b_client) = (MqClient::new(broker.namesrv_addr(), "a").unwrap(), MqClient::new(broker.namesrv_addr(), "b").unwrap());
    let a = open(&a_client, "test-configs", "a", policy).await;
    let b = open(&b_client, "test-configs", "b", policy).await;

    // A write is visible to its writer when append returns, and soon to the other reader.
    let first = a.append(vec![("k1".to_owned(), Some(json!({"v": 1}))), ("k2".to_owned(), Some(json!(2)))]).await.unwrap();
    assert_eq!(a.get("k1").map(|e| (e.value, e.offset)), Some((json!({"v": 1}), first)));
    b.catch_up().await.unwrap();
    assert_eq!(b.get("k2").map(|e| e.value), Some(json!(2)));
    b.append(vec![("k1".to_owned(), None)]).await.unwrap();
    a.catch_up().await.unwrap();
    assert_eq!(a.get("k1"), None, "a delete from B removes the key on A");

    // How long a write takes to be durable and read back by its writer, and seen by another reader.
    let mut round_trips = Vec::new();
    for i in 0..20 {
        let started = std::time::Instant::now();
        let at = a.append(vec![("timing".to_owned(), Some(json!(i)))]).await.unwrap();
        let written = started.elapsed();
        let mut changes = b.changes();
        while b.next() <= at {
            changes.changed().await.unwrap();
        }
        round_trips.push((written, started.elapsed()));
    }
    round_trips.sort();
    println!(
        "MEASURED state log: a write read back by its writer in {:?} (median), seen by another reader {:?}",
        round_trips[10].0, round_trips[10].1
    );

    // Ten thousand writes over 50 keys, a snapshot, and ten more writes.
    for round in 0..50 {
        let changes = (0..200).map(|i| (format!("key-{}", i % 50), Some(json!({"round": round, "i": i})))).collect();
        a.append(changes).await.unwrap();
    }
    assert!(a.snapshot_if_due().await.unwrap(), "10 000 records since the last snapshot: one is due");
    assert!(!a.snapshot_if_due().await.unwrap(), "and not again right after");
    a.append((0..10).map(|i| (format!("late-{i}"), Some(json!(i)))).collect()).await.unwrap();

    let c_client = MqClient::new(broker.namesrv_addr(), "c").unwrap();
    let c = open(&c_client, "test-configs", "c", policy).await;
    let replayed = c.replayed().unwrap();
    println!("MEASURED replay: {replayed} of {} records read to rebuild {} keys", a.next(), c.len());
    assert!(replayed < 4_200, "replay read {replayed} records, not a window from the latest snapshot");
    a.catch_up().await.unwrap();
    assert_eq!(c.len(), a.len());
    for key in ["k2", "key-7", "late-9"] {
        assert_eq!(c.get(key), a.get(key), "{key}");
    }
    assert_eq!(c.get("k1"), None);

    for log in [a, b, c] {
        log.close().await;
    }
    for client in [a_client, b_client, c_client] {
        client.shutdown().await;
    }
    broker.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
