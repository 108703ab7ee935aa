//! The embedded name server and broker serve real clients.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use connect_runtime::embedded::{EmbeddedConfig, EmbeddedRocketMq};
use connect_runtime::mq::MqClient;
use rocketmq_model::common::message::message_single::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_broker_round_trips_batches() {
    let dir = std::env::temp_dir().join(format!("connect-embedded-{}", std::process::id()));
    let mq = EmbeddedRocketMq::start(&EmbeddedConfig::free_ports(&dir)).await.unwrap();
    let client = MqClient::new(mq.namesrv_addr(), "test").unwrap();
    let producer = client.producer("smoke-producer").await.unwrap();
    let topic = "smoke-topic";
    for batch in 0..10 {
        let messages =
            (0..64).map(|i| Message::builder().topic(topic).body_slice(format!("{batch}-{i}").as_bytes()).build_unchecked()).collect();
        producer.send_batch(topic, messages).await.unwrap();
    }
    let consumer = client.consumer("smoke-consumer", "smoke", &[topic.to_owned()], 32).await.unwrap();
    consumer.assign(consumer.queues(topic).await.unwrap()).await.unwrap();
    let mut seen = 0;
    let mut offsets = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen < 640 && Instant::now() < deadline {
        for message in consumer.poll(500).await {
            seen += 1;
            offsets
                .insert(connect_runtime::mq::message_queue(topic, message.broker_name(), message.queue_id()), message.queue_offset() + 1);
        }
    }
    assert_eq!(seen, 640);
    consumer.commit(offsets).await.unwrap();
    consumer.shutdown().await;
    producer.shutdown().await;
    client.shutdown().await;
    mq.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
