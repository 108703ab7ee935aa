//! redis-sink and redis-source against the machine's Redis (127.0.0.1:6379). Each test uses
//! its own keys and streams and deletes them.

use std::time::Instant;

use connect_redis::{RedisSink, RedisSource};
use connect_sdk::data::{Schema, Struct, Value};
use connect_sdk::record::Record;
use connect_sdk::serde_json::json;
use connect_sdk::testing::compliance::{SinkCompliance, SourceCompliance};
use connect_sdk::testing::{SinkHarness, SourceHarness, block_on, service_available, unique_name};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

/// The build profile, for the measurements' labels.
const PROFILE: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

const URI: &str = "redis://127.0.0.1:6379";

async fn redis() -> MultiplexedConnection {
    redis::Client::open(URI).unwrap().get_multiplexed_async_connection().await.expect("Redis answers")
}

async fn add_entries(connection: &mut MultiplexedConnection, stream: &str, count: usize) {
    let mut pipe = redis::pipe();
    for i in 0..count {
        pipe.cmd("XADD").arg(stream).arg("*").arg("key").arg(format!("k{i}")).arg("n").arg(i).ignore();
    }
    let () = pipe.query_async(connection).await.unwrap();
}

fn order(id: i64, name: &str) -> Record {
    let schema = Schema::structure().field("id", Schema::int64()).field("name", Schema::string());
    let value = Struct::from_values(schema.clone(), vec![Value::Int64(id), Value::from(name)]).unwrap();
    Record {
        key: Value::from(format!("order-{id}")),
        value: Value::Struct(value),
        value_schema: Some(schema),
        ..Record::new("orders", Value::Null)
    }
}

#[test]
fn sink_in_each_mode_keeps_the_sink_guarantees() {
    block_on(async {
        if !service_available("Redis", "127.0.0.1:6379") {
            return;
        }
        let mut connection = redis().await;
        // set: the value under the key; read back by key.
        let prefix = unique_name("connect_set");
        let config = json!({"redis.uri": URI, "redis.mode": "set", "redis.key.prefix": format!("{prefix}:")});
        let report = SinkCompliance::new(config)
            .record_with(|marker| Record { key: Value::from(marker), ..Record::new("t", marker) })
            .run::<RedisSink>(async || {
                let keys: Vec<String> = redis().await.keys(format!("{prefix}:*")).await.unwrap();
                let mut values = Vec::new();
                for key in keys {
                    values.push(redis().await.get::<_, String>(key).await.unwrap());
                }
                values
            })
            .await;
        assert_eq!(report.unwrap().passed.len(), 3, "set");
        // xadd: one entry per record.
        // Stream entries are not idempotent: exactly once through the stored positions, and
        // not without them.
        for exactly_once in [true, false] {
            let stream = unique_name("connect_xadd");
            let config = json!({"redis.uri": URI, "redis.mode": "xadd", "redis.stream": stream, "exactly.once": exactly_once});
            let entries = async || -> Vec<String> {
                let entries: redis::Value =
                    redis::cmd("XRANGE").arg(&stream).arg("-").arg("+").query_async(&mut redis().await).await.unwrap();
                format!("{entries:?}")
                    .split("compliance-")
                    .skip(1)
                    .map(|rest| format!("compliance-{}", rest.split(|c: char| !c.is_ascii_digit()).next().unwrap()))
                    .collect()
            };
            let report = SinkCompliance::new(config).exactly_once().run::<RedisSink>(entries).await;
            match exactly_once {
                true => assert_eq!(report.unwrap().passed.len(), 5, "xadd"),
                false => assert!(report.unwrap_err().detail.contains("7 records were written twice"), "xadd without positions"),
            }
            let _: () = connection.del(&stream).await.unwrap();
        }
        let keys: Vec<String> = connection.keys(format!("{prefix}:*")).await.unwrap();
        for key in keys {
            let _: () = connection.del(key).await.unwrap();
        }
    });
}

#[test]
fn sink_writes_hashes_and_deletes_on_tombstones() {
    block_on(async {
        if !service_available("Redis", "127.0.0.1:6379") {
            return;
        }
        let prefix = unique_name("connect_hset");
        let config = json!({"redis.uri": URI, "redis.mode": "hset", "redis.key.prefix": format!("{prefix}:"), "topics": "orders",
            "key.converter": "string"});
        let mut harness = SinkHarness::<RedisSink>::new(config).await.unwrap();
        harness.send_record(order(1, "one")).unwrap();
        harness.send_record(order(2, "two")).unwrap();
        harness.send_record(Record { key: Value::from("order-2"), ..Record::new("orders", Value::Null) }).unwrap();
        harness.deliver().await.unwrap();
        let mut connection = redis().await;
        let one: std::collections::HashMap<String, String> = connection.hgetall(format!("{prefix}:order-1")).await.unwrap();
        assert_eq!(one.get("name").map(String::as_str), Some("one"));
        assert_eq!(one.get("id").map(String::as_str), Some("1"));
        let exists: bool = connection.exists(format!("{prefix}:order-2")).await.unwrap();
        assert!(!exists, "the tombstone deleted the hash");
        // A record without a key cannot be a hash: a data error naming the record.
        harness.send_record(Record { key: Value::Null, ..order(3, "three") }).unwrap();
        let error = harness.deliver().await.expect_err("needs a key").to_string();
        assert!(error.contains("needs a record key"), "{error}");
        harness.close().await.unwrap();
        let _: () = connection.del(format!("{prefix}:order-1")).await.unwrap();
    });
}

#[test]
fn source_keeps_the_source_guarantees() {
    block_on(async {
        if !service_available("Redis", "127.0.0.1:6379") {
            return;
        }
        let stream = unique_name("connect_source");
        let config = json!({"redis.uri": URI, "redis.stream": stream, "topic": "events", "batch.size": 7, "redis.block.ms": 50});
        let report = SourceCompliance::new(config)
            .records(30)
            .run_resetting::<RedisSource>(async || {
                let mut connection = redis().await;
                let _: () = connection.del(&stream).await.unwrap();
                add_entries(&mut connection, &stream, 40).await;
            })
            .await;
        let _: () = redis().await.del(&stream).await.unwrap();
        assert_eq!(report.unwrap().passed.len(), 5);
    });
}

#[test]
fn source_acknowledges_only_what_was_committed_and_rereads_its_pending_entries() {
    block_on(async {
        if !service_available("Redis", "127.0.0.1:6379") {
            return;
        }
        let stream = unique_name("connect_acks");
        let mut connection = redis().await;
        add_entries(&mut connection, &stream, 20).await;
        let config = json!({"redis.uri": URI, "redis.stream": stream, "topic": "events", "batch.size": 10, "name": "acks"});
        let mut harness = SourceHarness::<RedisSource>::new(config).await.unwrap();
        let first = harness.poll_at_least(10).await.unwrap();
        assert_eq!(first[0].key, Value::from("k0"));
        harness.commit().await.unwrap();
        harness.poll_at_least(10).await.unwrap();
        harness.crash_and_restart().await.unwrap();
        let again = harness.poll_at_least(10).await.unwrap();
        assert_eq!(again[0].key, Value::from("k10"), "the uncommitted entries come again, the committed do not");
        harness.commit().await.unwrap();
        let pending: redis::Value = redis::cmd("XPENDING").arg(&stream).arg("connect-acks").query_async(&mut connection).await.unwrap();
        assert!(
            matches!(&pending, redis::Value::Array(summary) if summary.first() == Some(&redis::Value::Int(0))),
            "nothing left unacknowledged: {pending:?}"
        );
        harness.close().await.unwrap();
        let _: () = connection.del(&stream).await.unwrap();
    });
}

#[test]
#[ignore = "a measurement, not a check: cargo test --release -p connect-redis --test redis -- --ignored --nocapture"]
fn source_and_sink_throughput() {
    block_on(async {
        if !service_available("Redis", "127.0.0.1:6379") {
            return;
        }
        const ENTRIES: usize = 20_000;
        let stream = unique_name("connect_throughput");
        let mut connection = redis().await;
        add_entries(&mut connection, &stream, ENTRIES).await;
        let config = json!({"redis.uri": URI, "redis.stream": stream, "topic": "events", "batch.size": 1000});
        let mut source = SourceHarness::<RedisSource>::new(config).await.unwrap();
        let started = Instant::now();
        let mut read = 0;
        while read < ENTRIES {
            read += source.poll().await.unwrap().len();
            source.commit().await.unwrap();
        }
        let source_rate = read as f64 / started.elapsed().as_secs_f64();
        source.close().await.unwrap();

        let prefix = unique_name("connect_throughput_set");
        let config = json!({"redis.uri": URI, "redis.mode": "hset", "redis.key.prefix": format!("{prefix}:"), "topics": "orders",
            "key.converter": "string"});
        let mut sink = SinkHarness::<RedisSink>::new(config).await.unwrap();
        for id in 0..ENTRIES as i64 {
            sink.send_record(order(id, "throughput")).unwrap();
        }
        let started = Instant::now();
        let written = sink.deliver().await.unwrap();
        let sink_rate = written as f64 / started.elapsed().as_secs_f64();
        sink.close().await.unwrap();
        println!(
            "MEASURED redis: source {read} stream entries at {source_rate:.0} records/s acknowledged after commit; sink (hset) {written} records at {sink_rate:.0} records/s ({PROFILE} build)"
        );
        let _: () = connection.del(&stream).await.unwrap();
        let keys: Vec<String> = connection.keys(format!("{prefix}:*")).await.unwrap();
        assert_eq!(keys.len(), ENTRIES);
        for chunk in keys.chunks(1000) {
            let _: () = connection.del(chunk).await.unwrap();
        }
    });
}
