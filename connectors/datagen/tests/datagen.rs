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

/// Every quickstart's records, as a fresh task emits them under `seed`.
fn samples(quickstart: &str, seed: u64, count: usize) -> Vec<connect_sdk::record::SourceRecord> {
    block_on(async {
        let config = json!({"topic": "t", "quickstart": quickstart, "random.seed": seed.to_string(), "max.records": count.to_string()});
        let mut harness = SourceHarness::<DatagenSource>::new(config).await.unwrap();
        harness.poll_at_least(count).await.unwrap()
    })
}

const QUICKSTARTS: [&str; 5] = ["users", "orders", "pageviews", "stock_trades", "purchases"];

#[test]
fn quickstarts_emit_records_valid_for_their_schemas_and_the_same_ones_for_the_same_seed() {
    for quickstart in QUICKSTARTS {
        let records = samples(quickstart, 7, 50);
        assert_eq!(records.len(), 50, "{quickstart}");
        for record in &records {
            let schema = record.value_schema.as_ref().unwrap_or_else(|| panic!("{quickstart}: a value schema"));
            schema.validate(&record.value).unwrap_or_else(|e| panic!("{quickstart}: {e}"));
            record.key_schema.as_ref().expect("a key schema").validate(&record.key).unwrap();
        }
        let again = samples(quickstart, 7, 50);
        let values = |rs: &[connect_sdk::record::SourceRecord]| rs.iter().map(|r| format!("{:?} {:?}", r.key, r.value)).collect::<Vec<_>>();
        assert_eq!(values(&records), values(&again), "{quickstart}: one seed, one sequence");
        assert_ne!(values(&records), values(&samples(quickstart, 8, 50)), "{quickstart}: another seed, other values");
    }
}

#[test]
fn the_nested_quickstart_covers_arrays_maps_optional_fields_decimals_and_timestamps() {
    use connect_sdk::data::logical;
    use connect_sdk::data::{SchemaType, Value};
    let records = samples("purchases", 1, 200);
    let schema = records[0].value_schema.clone().unwrap();
    let field = |name: &str| schema.field_named(name).unwrap_or_else(|| panic!("{name}")).schema.clone();
    assert_eq!(field("items").kind, SchemaType::Array);
    assert_eq!(field("attributes").kind, SchemaType::Map);
    assert!(field("coupon").optional);
    assert_eq!(logical::logical_name(&field("total")), Some(logical::DECIMAL));
    assert_eq!(logical::logical_name(&field("purchased_at")), Some(logical::TIMESTAMP));
    let coupons = records.iter().filter(|r| r.value.field("coupon").is_some_and(Value::is_null)).count();
    assert!(coupons > 0 && coupons < 200, "some purchases have a coupon, some not ({coupons} without)");
}

#[test]
fn quickstarts_keep_the_source_guarantees() {
    block_on(async {
        for quickstart in QUICKSTARTS {
            let config = json!({"topic": "t", "tasks.max": 2, "quickstart": quickstart, "random.seed": "3"});
            let report = SourceCompliance::new(config).records(30).run::<DatagenSource>().await.unwrap();
            assert_eq!(report.passed.len(), 5, "{quickstart}: {report}");
        }
    });
}

#[test]
fn an_unknown_quickstart_is_refused_naming_the_key() {
    block_on(async {
        let error = SourceHarness::<DatagenSource>::new(json!({"topic": "t", "quickstart": "userz"})).await.err().expect("refused");
        assert!(error.to_string().contains("quickstart"), "{error}");
    });
}
