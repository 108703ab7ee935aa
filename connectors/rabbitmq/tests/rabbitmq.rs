//! rabbitmq-source and rabbitmq-sink against the machine's RabbitMQ (127.0.0.1:5672,
//! guest/guest). Each test uses its own queues and deletes them.

use std::time::Instant;

use connect_rabbitmq::{RabbitMqSink, RabbitMqSource};
use connect_sdk::data::Value;
use connect_sdk::serde_json::json;
use connect_sdk::testing::compliance::{SinkCompliance, SourceCompliance};
use connect_sdk::testing::{SinkHarness, SourceHarness, block_on, service_available, unique_name};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

/// The build profile, for the measurements' labels.
const PROFILE: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

const URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A channel of the test's own, with the queue declared (durable).
async fn open_channel(queue: &str) -> (Connection, Channel) {
    let connection = Connection::connect(URI, ConnectionProperties::default()).await.expect("RabbitMQ answers");
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    channel.queue_declare(queue.into(), QueueDeclareOptions { durable: true, ..Default::default() }, FieldTable::default()).await.unwrap();
    (connection, channel)
}

async fn publish(channel: &Channel, queue: &str, bodies: impl IntoIterator<Item = String>) {
    let mut confirms = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let properties = BasicProperties::default().with_delivery_mode(2).with_message_id(format!("id-{i}").into());
        confirms.push(
            channel.basic_publish("".into(), queue.into(), BasicPublishOptions::default(), body.as_bytes(), properties).await.unwrap(),
        );
    }
    for confirm in confirms {
        confirm.await.unwrap();
    }
}

/// Messages waiting in `queue` (ready, not delivered).
async fn ready(channel: &Channel, queue: &str) -> u32 {
    let options = QueueDeclareOptions { passive: true, ..Default::default() };
    channel.queue_declare(queue.into(), options, FieldTable::default()).await.unwrap().message_count()
}

/// Takes every message off `queue`.
async fn drain(channel: &Channel, queue: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(message) = channel.basic_get(queue.into(), BasicGetOptions { no_ack: true }).await.unwrap() {
        out.push(String::from_utf8_lossy(&message.delivery.data).into_owned());
    }
    out
}

async fn delete(channel: &Channel, queue: &str) {
    let _ = channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await;
}

fn text(value: &Value) -> String {
    match value {
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_string(),
    }
}

#[test]
fn source_keeps_the_source_guarantees() {
    block_on(async {
        if !service_available("RabbitMQ", "127.0.0.1:5672") {
            return;
        }
        let q = unique_name("connect_source_compliance");
        let (_connection, channel) = open_channel(&q).await;
        let config = json!({"rabbitmq.uri": URI, "rabbitmq.queue": q, "topic": "migrated", "batch.size": 7, "poll.wait.ms": 50});
        let report = SourceCompliance::new(config)
            .records(30)
            .run_resetting::<RabbitMqSource>(async || {
                channel.queue_purge(q.as_str().into(), QueuePurgeOptions::default()).await.unwrap();
                publish(&channel, &q, (0..40).map(|i| format!("m-{i}"))).await;
            })
            .await;
        delete(&channel, &q).await;
        assert_eq!(report.unwrap().passed.len(), 5);
    });
}

#[test]
fn source_acknowledges_only_what_was_committed() {
    block_on(async {
        if !service_available("RabbitMQ", "127.0.0.1:5672") {
            return;
        }
        let q = unique_name("connect_source_acks");
        let (_connection, channel) = open_channel(&q).await;
        publish(&channel, &q, (0..20).map(|i| format!("m-{i}"))).await;
        let config =
            json!({"rabbitmq.uri": URI, "rabbitmq.queue": q, "topic": "migrated", "batch.size": 10, "rabbitmq.prefetch.count": 10});
        let mut harness = SourceHarness::<RabbitMqSource>::new(config).await.unwrap();
        let first = harness.poll_at_least(10).await.unwrap();
        assert_eq!(first[0].key, Value::from("id-0"));
        assert_eq!(first[0].headers.last("rabbitmq.routing.key").map(|h| &h.value), Some(&Value::from(q.as_str())));
        // A crash before the offsets were committed: RabbitMQ delivers the messages again.
        harness.crash_and_restart().await.unwrap();
        // With a prefetch of 10, nothing more comes until a commit acknowledges something.
        let again = harness.poll_at_least(10).await.unwrap();
        assert_eq!(again.iter().map(|r| text(&r.value)).collect::<Vec<_>>(), first.iter().map(|r| text(&r.value)).collect::<Vec<_>>());
        harness.commit().await.unwrap();
        let rest = harness.poll_at_least(10).await.unwrap();
        assert_eq!(text(&rest[0].value), "m-10", "acknowledged messages are not delivered again");
        harness.commit().await.unwrap();
        harness.close().await.unwrap();
        assert_eq!(ready(&channel, &q).await, 0, "committed messages are acknowledged");
        delete(&channel, &q).await;
    });
}

#[test]
fn sink_keeps_the_sink_guarantees() {
    block_on(async {
        if !service_available("RabbitMQ", "127.0.0.1:5672") {
            return;
        }
        let q = unique_name("connect_sink_compliance");
        let (_connection, channel) = open_channel(&q).await;
        let config = json!({"rabbitmq.uri": URI, "rabbitmq.routing.key": q});
        let report = SinkCompliance::new(config).run::<RabbitMqSink>(async || drain(&channel, &q).await).await;
        delete(&channel, &q).await;
        assert_eq!(report.unwrap().passed.len(), 3);
    });
}

#[test]
fn a_missing_queue_is_named_unless_declared() {
    block_on(async {
        if !service_available("RabbitMQ", "127.0.0.1:5672") {
            return;
        }
        let q = unique_name("connect_missing");
        let config = json!({"rabbitmq.uri": URI, "rabbitmq.queue": q, "topic": "t"});
        let error = SourceHarness::<RabbitMqSource>::new(config.clone()).await.err().expect("no such queue").to_string();
        assert!(error.contains(&q) && error.contains("rabbitmq.queue.declare"), "{error}");
        let mut config = config;
        config["rabbitmq.queue.declare"] = json!(true);
        let mut harness = SourceHarness::<RabbitMqSource>::new(config).await.unwrap();
        harness.close().await.unwrap();
        let (_connection, channel) = open_channel(&q).await;
        delete(&channel, &q).await;
    });
}

#[test]
#[ignore = "a measurement, not a check: cargo test --release -p connect-rabbitmq --test rabbitmq -- --ignored --nocapture"]
fn source_and_sink_throughput() {
    block_on(async {
        if !service_available("RabbitMQ", "127.0.0.1:5672") {
            return;
        }
        const MESSAGES: usize = 20_000;
        let q = unique_name("connect_throughput");
        let (_connection, channel) = open_channel(&q).await;
        publish(&channel, &q, (0..MESSAGES).map(|i| format!("{i:0>512}"))).await;
        let config = json!({"rabbitmq.uri": URI, "rabbitmq.queue": q, "topic": "t", "batch.size": 1000, "value.converter": "bytes"});
        let mut source = SourceHarness::<RabbitMqSource>::new(config).await.unwrap();
        let started = Instant::now();
        let mut read = 0;
        while read < MESSAGES {
            read += source.poll().await.unwrap().len();
            source.commit().await.unwrap();
        }
        let source_rate = read as f64 / started.elapsed().as_secs_f64();
        source.close().await.unwrap();

        let out = unique_name("connect_throughput_out");
        let (_c, out_channel) = open_channel(&out).await;
        let mut sink =
            SinkHarness::<RabbitMqSink>::new(json!({"rabbitmq.uri": URI, "rabbitmq.routing.key": out, "topics": "t"})).await.unwrap();
        for i in 0..MESSAGES {
            sink.send("t", Value::Null, format!("{i:0>512}")).unwrap();
        }
        let started = Instant::now();
        let written = sink.deliver().await.unwrap();
        let sink_rate = written as f64 / started.elapsed().as_secs_f64();
        sink.close().await.unwrap();
        println!(
            "MEASURED rabbitmq: source {read} messages (512 B) at {source_rate:.0} records/s acked after commit; sink {written} at {sink_rate:.0} records/s confirmed ({PROFILE} build)"
        );
        assert_eq!(ready(&out_channel, &out).await as usize, MESSAGES);
        delete(&channel, &q).await;
        delete(&out_channel, &out).await;
    });
}
