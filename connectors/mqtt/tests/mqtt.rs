//! mqtt-source and mqtt-sink against the machine's Mosquitto (127.0.0.1:1883). Each test
//! uses its own topics and client ids.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connect_mqtt::{MqttSink, MqttSource};
use connect_sdk::data::Value;
use connect_sdk::serde_json::json;
use connect_sdk::testing::compliance::{SinkCompliance, SourceCompliance};
use connect_sdk::testing::{SinkHarness, SourceHarness, block_on, service_available, unique_name};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// The build profile, for the measurements' labels.
const PROFILE: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

/// A test client: connects, optionally subscribes, and collects what it receives.
struct TestClient {
    client: AsyncClient,
    received: Arc<Mutex<Vec<String>>>,
    acked: Arc<AtomicUsize>,
    driver: connect_sdk::tokio::task::JoinHandle<()>,
}

impl TestClient {
    async fn connect(id: &str, clean: bool, subscribe: Option<&str>) -> TestClient {
        let mut options = MqttOptions::new(id, "127.0.0.1", 1883);
        options.set_clean_session(clean).set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 10_000);
        let received = Arc::new(Mutex::new(Vec::new()));
        let acked = Arc::new(AtomicUsize::new(0));
        let (sink, counter) = (received.clone(), acked.clone());
        let (ready_tx, ready_rx) = connect_sdk::tokio::sync::oneshot::channel();
        let mut ready = Some(ready_tx);
        let filter = subscribe.map(str::to_owned);
        let subscriber = client.clone();
        let driver = connect_sdk::tokio::spawn(async move {
            while let Ok(event) = eventloop.poll().await {
                match event {
                    Event::Incoming(Packet::ConnAck(_)) => {
                        if let Some(filter) = &filter {
                            subscriber.subscribe(filter.as_str(), QoS::AtLeastOnce).await.unwrap();
                        } else if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    Event::Incoming(Packet::SubAck(_)) => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    Event::Incoming(Packet::Publish(p)) => sink.lock().unwrap().push(String::from_utf8_lossy(&p.payload).into_owned()),
                    Event::Incoming(Packet::PubAck(_)) => {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        });
        connect_sdk::tokio::time::timeout(Duration::from_secs(10), ready_rx).await.expect("Mosquitto answers").unwrap();
        TestClient { client, received, acked, driver }
    }

    async fn publish(&self, topic: &str, bodies: impl IntoIterator<Item = String>) {
        let before = self.acked.load(Ordering::Relaxed);
        let mut count = 0;
        for body in bodies {
            self.client.publish(topic, QoS::AtLeastOnce, false, body).await.unwrap();
            count += 1;
        }
        let started = Instant::now();
        while self.acked.load(Ordering::Relaxed) < before + count {
            assert!(started.elapsed() < Duration::from_secs(30), "the broker did not acknowledge the test's messages");
            connect_sdk::tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn close(self) {
        let _ = self.client.disconnect().await;
        connect_sdk::tokio::time::sleep(Duration::from_millis(50)).await;
        self.driver.abort();
    }
}

/// Gives `client_id` a fresh persistent session subscribed to `topic`, then queues `count`
/// messages for it.
async fn fresh_session_with_messages(client_id: &str, topic: &str, count: usize) {
    TestClient::connect(client_id, true, None).await.close().await;
    TestClient::connect(client_id, false, Some(topic)).await.close().await;
    let publisher = TestClient::connect(&unique_name("connect_publisher"), true, None).await;
    publisher.publish(topic, (0..count).map(|i| format!("m-{i}"))).await;
    publisher.close().await;
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
        if !service_available("Mosquitto", "127.0.0.1:1883") {
            return;
        }
        let (topic, client_id) = (unique_name("connect_compliance"), unique_name("connect_source"));
        let config = json!({"mqtt.topics": topic, "mqtt.client.id": client_id, "topic": "devices", "batch.size": 7, "poll.wait.ms": 100});
        // Mosquitto keeps 20 messages in flight to a client until it acknowledges some, and
        // the checks' reference run reads without committing.
        let report = SourceCompliance::new(config)
            .records(18)
            .run_resetting::<MqttSource>(async || fresh_session_with_messages(&client_id, &topic, 40).await)
            .await;
        assert_eq!(report.unwrap().passed.len(), 5);
    });
}

#[test]
fn source_keeps_unacknowledged_messages_with_the_broker_across_a_restart() {
    block_on(async {
        if !service_available("Mosquitto", "127.0.0.1:1883") {
            return;
        }
        let (topic, client_id) = (unique_name("connect_acks"), unique_name("connect_source"));
        fresh_session_with_messages(&client_id, &topic, 10).await;
        let config = json!({"mqtt.topics": topic, "mqtt.client.id": client_id, "topic": "devices", "poll.wait.ms": 100});
        let mut harness = SourceHarness::<MqttSource>::new(config).await.unwrap();
        let first = harness.poll_at_least(10).await.unwrap();
        assert_eq!(first[0].key, Value::from(topic.as_str()));
        // Not committed: the broker delivers them again to the same session.
        harness.crash_and_restart().await.unwrap();
        let publisher = TestClient::connect(&unique_name("connect_publisher"), true, None).await;
        publisher.publish(&topic, (10..20).map(|i| format!("m-{i}"))).await;
        let again = harness.poll_at_least(20).await.unwrap();
        let mut seen: Vec<String> = again.iter().map(|r| text(&r.value)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 20, "{seen:?}");
        harness.commit().await.unwrap();
        harness.close().await.unwrap();
        // Committed, hence acknowledged: a new session under the same id gets nothing more.
        publisher.close().await;
        let mut harness = SourceHarness::<MqttSource>::new(json!({"mqtt.topics": topic, "mqtt.client.id": client_id, "topic": "devices",
            "poll.wait.ms": 300}))
        .await
        .unwrap();
        assert!(harness.poll().await.unwrap().is_empty());
        harness.close().await.unwrap();
    });
}

#[test]
fn sink_keeps_the_sink_guarantees() {
    block_on(async {
        if !service_available("Mosquitto", "127.0.0.1:1883") {
            return;
        }
        let topic = unique_name("connect_sink");
        let subscriber = TestClient::connect(&unique_name("connect_subscriber"), true, Some(&topic)).await;
        let config = json!({"mqtt.topic": topic});
        let report = SinkCompliance::new(config)
            .run::<MqttSink>(async || {
                connect_sdk::tokio::time::sleep(Duration::from_millis(200)).await;
                subscriber.received.lock().unwrap().clone()
            })
            .await;
        subscriber.close().await;
        assert_eq!(report.unwrap().passed.len(), 3);
    });
}

#[test]
#[ignore = "a measurement, not a check: cargo test --release -p connect-mqtt --test mqtt -- --ignored --nocapture"]
fn source_and_sink_throughput() {
    block_on(async {
        if !service_available("Mosquitto", "127.0.0.1:1883") {
            return;
        }
        const MESSAGES: usize = 10_000;
        let (topic, client_id) = (unique_name("connect_throughput"), unique_name("connect_source"));
        TestClient::connect(&client_id, true, None).await.close().await;
        let config =
            json!({"mqtt.topics": topic, "mqtt.client.id": client_id, "topic": "t", "poll.wait.ms": 100, "value.converter": "bytes"});
        let mut source = SourceHarness::<MqttSource>::new(config).await.unwrap();
        source.poll().await.unwrap(); // subscribed
        let publisher = TestClient::connect(&unique_name("connect_publisher"), true, None).await;
        let read = AtomicUsize::new(0);
        let started = Instant::now();
        // Mosquitto drops QoS 1 messages beyond `max_queued_messages` (1000) per client: the
        // publisher keeps at most 500 ahead of the source.
        let publishing = async {
            for chunk in 0..MESSAGES / 500 {
                while read.load(Ordering::Relaxed) + 500 < chunk * 500 {
                    connect_sdk::tokio::time::sleep(Duration::from_millis(1)).await;
                }
                publisher.publish(&topic, (chunk * 500..(chunk + 1) * 500).map(|i| format!("{i:0>512}"))).await;
            }
        };
        let reading = async {
            while read.load(Ordering::Relaxed) < MESSAGES && started.elapsed() < Duration::from_secs(120) {
                let n = source.poll().await.unwrap().len();
                source.commit().await.unwrap();
                read.fetch_add(n, Ordering::Relaxed);
            }
        };
        futures_join(publishing, reading).await;
        let read = read.load(Ordering::Relaxed);
        let source_rate = read as f64 / started.elapsed().as_secs_f64();
        source.close().await.unwrap();

        let target = unique_name("connect_throughput_out");
        let subscriber = TestClient::connect(&unique_name("connect_subscriber"), true, Some(&target)).await;
        let mut sink = SinkHarness::<MqttSink>::new(json!({"mqtt.topic": target, "topics": "t"})).await.unwrap();
        for i in 0..MESSAGES {
            sink.send("t", Value::Null, format!("{i:0>512}")).unwrap();
        }
        let started = Instant::now();
        let written = sink.deliver().await.unwrap();
        let sink_rate = written as f64 / started.elapsed().as_secs_f64();
        sink.close().await.unwrap();
        println!(
            "MEASURED mqtt: source {read} messages (512 B, QoS 1) at {source_rate:.0} records/s acknowledged after commit; sink {written} at {sink_rate:.0} records/s acknowledged ({PROFILE} build)"
        );
        assert_eq!(read, MESSAGES);
        publisher.close().await;
        subscriber.close().await;
    });
}

/// Runs two futures to completion together.
async fn futures_join<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    connect_sdk::tokio::join!(a, b)
}
