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

/// A schema of the user's with every kind of type, and `arg.properties` bounding some.
const ORDER_SCHEMA: &str = r#"{"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": {"type": "long", "arg.properties": {"range": {"min": 100, "max": 199}}}},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}},
    {"name": "region", "type": {"type": "string", "arg.properties": {"options": ["eu", "us"]}}},
    {"name": "code", "type": {"type": "string", "arg.properties": {"length": 6}}},
    {"name": "note", "type": ["null", "string"]},
    {"name": "paid", "type": "boolean"},
    {"name": "weight", "type": {"type": "double", "arg.properties": {"range": {"min": 0.5, "max": 2.5}}}},
    {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2,
        "arg.properties": {"range": {"min": 1, "max": 50}}}},
    {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "lines", "type": {"type": "array", "arg.properties": {"length": {"min": 1, "max": 3}},
        "items": {"type": "record", "name": "Line", "fields": [
            {"name": "sku", "type": {"type": "string", "arg.properties": {"options": ["A-1", "B-2"]}}},
            {"name": "quantity", "type": {"type": "int", "arg.properties": {"range": {"min": 1, "max": 5}}}}]}}},
    {"name": "tags", "type": {"type": "map", "values": "string"}}
]}"#;

/// Records of `ORDER_SCHEMA` (keyed by `key_field`) as a fresh task emits them under `seed`.
fn user_records(seed: u64, key_field: Option<&str>, count: usize) -> Vec<connect_sdk::record::SourceRecord> {
    block_on(async {
        let mut config =
            json!({"topic": "t", "schema.string": ORDER_SCHEMA, "random.seed": seed.to_string(), "max.records": count.to_string()});
        if let Some(field) = key_field {
            config["schema.keyfield"] = json!(field);
        }
        let mut harness = SourceHarness::<DatagenSource>::new(config).await.unwrap();
        harness.poll_at_least(count).await.unwrap()
    })
}

#[test]
fn schema_string_records_fit_the_schema_and_its_arg_properties_and_repeat_for_a_seed() {
    use connect_sdk::data::Value;
    let records = user_records(5, Some("id"), 200);
    assert_eq!(records.len(), 200);
    let decimal = |record: &connect_sdk::record::SourceRecord| {
        let schema = record.value_schema.as_ref().unwrap().field_named("total").unwrap().schema.clone();
        connect_sdk::data::logical::Decimal::from_value(&schema, record.value.field("total").unwrap()).unwrap().to_f64()
    };
    for record in &records {
        let schema = record.value_schema.as_ref().expect("a value schema");
        schema.validate(&record.value).unwrap();
        let field = |name: &str| record.value.field(name).unwrap_or_else(|| panic!("{name}")).clone();
        let Value::Int64(id) = field("id") else { panic!("id {:?}", field("id")) };
        assert!((100..=199).contains(&id), "id {id}");
        assert_eq!(record.key, Value::Int64(id), "keyed by schema.keyfield");
        assert!(["NEW", "PAID", "SHIPPED"].contains(&field("status").as_str().unwrap()));
        assert!(["eu", "us"].contains(&field("region").as_str().unwrap()));
        assert_eq!(field("code").as_str().unwrap().len(), 6);
        let Value::Float64(weight) = field("weight") else { panic!() };
        assert!((0.5..=2.5).contains(&weight), "weight {weight}");
        assert!((1.0..=50.0).contains(&decimal(record)), "total {}", decimal(record));
        let Value::Array(lines) = field("lines") else { panic!() };
        assert!((1..=3).contains(&lines.len()));
        for line in &lines {
            assert!(["A-1", "B-2"].contains(&line.field("sku").unwrap().as_str().unwrap()));
        }
    }
    let notes = records.iter().filter(|r| r.value.field("note").is_some_and(Value::is_null)).count();
    assert!(notes > 0 && notes < 200, "the optional field is null for some records only ({notes})");
    let text = |rs: &[connect_sdk::record::SourceRecord]| rs.iter().map(|r| format!("{:?} {:?}", r.key, r.value)).collect::<Vec<_>>();
    assert_eq!(text(&records), text(&user_records(5, Some("id"), 200)), "one seed, one sequence");
    assert_ne!(text(&records), text(&user_records(6, Some("id"), 200)), "another seed, other values");
    assert_eq!(user_records(5, None, 1)[0].key, Value::Int64(0), "keyed by the task without schema.keyfield");
}

#[test]
fn schema_string_records_keep_the_source_guarantees() {
    block_on(async {
        let config = json!({"topic": "t", "tasks.max": 2, "schema.string": ORDER_SCHEMA, "schema.keyfield": "id"});
        let report = SourceCompliance::new(config).records(30).run::<DatagenSource>().await.unwrap();
        assert_eq!(report.passed.len(), 5, "{report}");
    });
}

#[test]
fn a_schema_string_datagen_cannot_fill_is_refused_naming_the_key_and_the_fault() {
    let refused = |extra: connect_sdk::serde_json::Value| {
        let mut config = json!({"topic": "t"});
        config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        block_on(SourceHarness::<DatagenSource>::new(config)).err().expect("refused").to_string()
    };
    let record = |field_type: &str| format!(r#"{{"type": "record", "name": "R", "fields": [{{"name": "f", "type": {field_type}}}]}}"#);
    for (extra, expected) in [
        (json!({"schema.string": "{not json"}), "schema.string"),
        (json!({"schema.string": "\"string\""}), "must be an Avro record schema"),
        (json!({"schema.string": record(r#""nope""#)}), "the Avro type nope is not defined"),
        (json!({"schema.string": record(r#"{"type": "string", "arg.properties": {"regex": "a+"}}"#)}), "\"regex\" is not supported"),
        (
            json!({"schema.string": record(r#"{"type": "int", "arg.properties": {"options": ["x"]}}"#)}),
            "\"x\" is not a value of type int32",
        ),
        (
            json!({"schema.string": record(r#"{"type": "int", "arg.properties": {"range": {"min": 9, "max": 1}}}"#)}),
            "min 9 is above its max 1",
        ),
        (
            json!({"schema.string": record(
                r#"{"type": "array", "arg.properties": {"length": 10000}, "items": {"type": "array", "arg.properties": {"length": 10000}, "items": "long"}}"#
            )}),
            "the most is 1048576",
        ),
        (json!({"schema.string": ORDER_SCHEMA, "schema.keyfield": "nope"}), "schema.keyfield"),
        (json!({"schema.keyfield": "id"}), "schema.string, which is not set"),
        (json!({"schema.string": ORDER_SCHEMA, "quickstart": "users"}), "not both"),
    ] {
        let error = refused(extra.clone());
        assert!(error.contains(expected), "{extra}: {error}");
        let key =
            if extra.get("schema.keyfield").is_some() && !error.contains("schema.string") { "schema.keyfield" } else { "schema.string" };
        assert!(error.contains(key), "{extra}: names {key}: {error}");
    }
}
