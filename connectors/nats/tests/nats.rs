//! nats-source and nats-sink against the machine's NATS server with JetStream (4222). Each
//! test makes its own streams and deletes them.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use connect_nats::{NatsSink, NatsSource};
use connect_sdk::data::Value;
use connect_sdk::serde_json::json;
use connect_sdk::testing::compliance::{SinkCompliance, SourceCompliance};
use connect_sdk::testing::{SinkHarness, SourceHarness, block_on, service_available, unique_name};
use futures_util::StreamExt;

const ADDRESS: &str = "127.0.0.1:4222";

fn available() -> bool {
    service_available("NATS", ADDRESS)
}

async fn jetstream() -> jetstream::Context {
    jetstream::new(async_nats::connect(ADDRESS).await.unwrap())
}

/// A stream capturing `<name>.>`, replacing any stream of that name.
async fn fresh_stream(js: &jetstream::Context, name: &str) -> stream::Stream {
    let _ = js.delete_stream(name).await;
    js.create_stream(stream::Config { name: name.to_owned(), subjects: vec![format!("{name}.>")], ..Default::default() }).await.unwrap()
}

/// Every payload in a stream, in order.
async fn payloads(js: &jetstream::Context, name: &str) -> Vec<String> {
    let mut stream = js.get_stream(name).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        if let Ok(message) = stream.get_raw_message(seq).await {
            out.push(String::from_utf8_lossy(&message.payload).into_owned());
        }
    }
    out
}

#[test]
fn the_sink_publishes_to_jetstream_exactly_once() {
    block_on(async {
        if !available() {
            return;
        }
        let js = jetstream().await;
        let name = unique_name("ct_sink");
        fresh_stream(&js, &name).await;
        let config = json!({"nats.subject": format!("{name}.${{topic}}")});
        let report = SinkCompliance::new(config).exactly_once().records(40).run::<NatsSink>(async || payloads(&js, &name).await).await;
        js.delete_stream(&name).await.unwrap();
        assert_eq!(report.unwrap_or_else(|e| panic!("{e:?}")).passed.len(), 5);
    });
}

#[test]
fn the_sink_publishes_to_plain_subjects_with_key_and_headers() {
    block_on(async {
        if !available() {
            return;
        }
        let client = async_nats::connect(ADDRESS).await.unwrap();
        let subject = unique_name("ct_plain");
        let mut subscription = client.subscribe(format!("{subject}.orders")).await.unwrap();
        client.flush().await.unwrap();
        let config = json!({"topics": "orders", "nats.subject": format!("{subject}.${{topic}}"), "nats.jetstream": false});
        let mut harness = SinkHarness::<NatsSink>::new(config).await.unwrap();
        for i in 0..3 {
            harness.send("orders", format!("key-{i}"), format!("order-{i}")).unwrap();
        }
        harness.deliver().await.unwrap();
        harness.flush().await.unwrap();
        for i in 0..3 {
            let message = connect_sdk::tokio::time::timeout(Duration::from_secs(5), subscription.next()).await.unwrap().unwrap();
            assert_eq!(message.payload.as_ref(), format!("order-{i}").as_bytes());
            let headers = message.headers.unwrap();
            assert_eq!(headers.get("Connect-Key").map(|v| v.as_str().to_owned()), Some(format!("key-{i}")));
        }
        harness.close().await.unwrap();
    });
}

#[test]
fn a_stream_missing_for_the_sink_names_the_cause() {
    block_on(async {
        if !available() {
            return;
        }
        let config = json!({"topics": "t", "nats.subject": format!("{}.nowhere", unique_name("ct_missing"))});
        let mut harness = SinkHarness::<NatsSink>::new(config).await.unwrap();
        harness.send("t", Value::Null, "x").unwrap();
        let err = harness.deliver().await.unwrap_err().to_string();
        assert!(err.contains("no JetStream stream"), "{err}");
    });
}

#[test]
fn the_source_keeps_the_source_guarantees() {
    block_on(async {
        if !available() {
            return;
        }
        let js = jetstream().await;
        let name = unique_name("ct_source");
        // Every fresh run reads the same 50 messages from a new stream.
        let reset = async || {
            fresh_stream(&js, &name).await;
            for i in 0..50 {
                js.publish(format!("{name}.orders"), format!("order-{i}").into()).await.unwrap().await.unwrap();
            }
        };
        let config = json!({"nats.stream": name, "topic": "orders", "batch.size": 7, "poll.wait.ms": 100, "name": name});
        let report = SourceCompliance::new(config).records(50).run_resetting::<NatsSource>(reset).await;
        js.delete_stream(&name).await.unwrap();
        assert_eq!(report.unwrap_or_else(|e| panic!("{e:?}")).passed.len(), 5);
    });
}

#[test]
fn the_source_acknowledges_only_what_was_committed() {
    block_on(async {
        if !available() {
            return;
        }
        let js = jetstream().await;
        let name = unique_name("ct_acks");
        let stream = fresh_stream(&js, &name).await;
        for i in 0..10 {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("id-{i}").as_str());
            js.publish_with_headers(format!("{name}.orders"), headers, format!("order-{i}").into()).await.unwrap().await.unwrap();
        }
        let config = json!({"nats.stream": name, "topic": "orders", "poll.wait.ms": 100, "name": name});
        let mut harness = SourceHarness::<NatsSource>::new(config).await.unwrap();
        let started = Instant::now();
        let mut records = Vec::new();
        while records.len() < 10 && started.elapsed() < Duration::from_secs(20) {
            records.extend(harness.poll().await.unwrap());
        }
        assert_eq!(records.len(), 10);
        assert_eq!(records[3].key, Value::from("id-3"), "keyed by the message id");
        assert_eq!(records[3].value, Value::Bytes(b"order-3".to_vec()));
        let consumer = format!("connect-{name}");
        let info = stream.consumer_info(&consumer).await.unwrap();
        assert_eq!((info.num_ack_pending, info.ack_floor.stream_sequence), (10, 0), "acknowledged before the commit");
        harness.commit().await.unwrap();
        let started = Instant::now();
        let floor = loop {
            let floor = stream.consumer_info(&consumer).await.unwrap().ack_floor.stream_sequence;
            if floor == 10 || started.elapsed() > Duration::from_secs(10) {
                break floor;
            }
            connect_sdk::tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(floor, 10, "the commit acknowledged every message up to it");
        harness.close().await.unwrap();
        js.delete_stream(&name).await.unwrap();
    });
}

#[test]
fn a_bad_configuration_names_its_key() {
    block_on(async {
        let err = SourceHarness::<NatsSource>::new(json!({"nats.stream": "has.dot", "topic": "t"})).await.err().unwrap().to_string();
        assert!(err.contains("nats.stream"), "{err}");
        let err = SinkHarness::<NatsSink>::new(json!({"topics": "t", "nats.subject": "two words"})).await.err().unwrap().to_string();
        assert!(err.contains("nats.subject"), "{err}");
    });
}

#[test]
#[ignore = "a measurement, not a check: cargo test --release -p connect-nats --test nats -- --ignored --nocapture"]
fn throughput() {
    block_on(async {
        if !available() {
            return;
        }
        const RECORDS: usize = 50_000;
        let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
        let js = jetstream().await;
        let name = unique_name("ct_throughput");
        fresh_stream(&js, &name).await;
        let config = json!({"topics": "t", "nats.subject": format!("{name}.t")});
        let mut sink = SinkHarness::<NatsSink>::new(config).await.unwrap();
        let started = Instant::now();
        for chunk in 0..RECORDS / 500 {
            for i in 0..500 {
                sink.send("t", Value::Null, format!("message-{}", chunk * 500 + i)).unwrap();
            }
            sink.deliver().await.unwrap();
            sink.flush().await.unwrap();
        }
        let rate = RECORDS as f64 / started.elapsed().as_secs_f64();
        println!("MEASURED nats-sink (JetStream, acknowledged): {RECORDS} records at {rate:.0} records/s ({profile} build)");
        let config = json!({"nats.stream": name, "topic": "t", "batch.size": 500, "name": name});
        let mut source = SourceHarness::<NatsSource>::new(config).await.unwrap();
        let started = Instant::now();
        let mut read = 0;
        while read < RECORDS && started.elapsed() < Duration::from_secs(120) {
            read += source.poll().await.unwrap().len();
            source.commit().await.unwrap();
        }
        let rate = read as f64 / started.elapsed().as_secs_f64();
        println!("MEASURED nats-source (JetStream, acked after commit): {read} records at {rate:.0} records/s ({profile} build)");
        source.close().await.unwrap();
        js.delete_stream(&name).await.unwrap();
        assert_eq!(read, RECORDS);
    });
}
