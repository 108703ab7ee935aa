//! datagen-source keeps the source guarantees and emits `<task>-<sequence>` values.

use connect_datagen::{DatagenSource, LogSink};
use connect_sdk::serde_json::json;
use connect_sdk::testing::compliance::SourceCompliance;
use connect_sdk::testing::{SinkHarness, SourceHarness, block_on};

#[test]
fn datagen_source_is_compliant() {
    block_on(async {
        let report =
            SourceCompliance::new(json!({"topic": "t", "tasks.max": 2, "batch.size": 7})).records(40).run::<DatagenSource>().await.unwrap();
        assert_eq!(report.passed.len(), 5, "{report}");
    });
}

#[test]
fn datagen_source_pads_values_and_stops_at_max_records() {
    block_on(async {
        let config = json!({"topic": "t", "max.records": "10", "payload.bytes": "32"});
        let mut harness = SourceHarness::<DatagenSource>::new(config).await.unwrap();
        let records = harness.poll_at_least(10).await.unwrap();
        assert_eq!(records.len(), 10);
        let first = records[0].value.as_str().unwrap().to_owned();
        assert!(first.starts_with("0-0 "), "{first}");
        assert_eq!(first.len(), 32);
        assert!(harness.poll().await.unwrap().is_empty());
    });
}

#[test]
fn log_sink_accepts_records() {
    block_on(async {
        let mut harness = SinkHarness::<LogSink>::new(json!({"topics": "t", "quiet": "true"})).await.unwrap();
        harness.send("t", connect_sdk::data::Value::Null, "x").unwrap();
        assert_eq!(harness.deliver().await.unwrap(), 1);
        harness.flush().await.unwrap();
    });
}
