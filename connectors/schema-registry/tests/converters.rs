//! The `avro` and `json-schema` converters against a real registry (a worker's, served by its
//! REST API): schemas registered under Confluent's subjects, messages a fresh converter reads
//! back, refusals and an unreachable registry reported with the registry's URL, and the
//! per-record cost against the `json` and `string` converters (`--ignored`, in release).

// The worker's futures hold RocketMQ client types whose `Send` proof is deep.
#![recursion_limit = "256"]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use connect_runtime::Worker;
use connect_runtime::schema_registry::{SchemaRegistry, VersionSelector};
use connect_schema_registry as _;
use connect_sdk::config::ConfigMap;
use connect_sdk::converter::Converter;
use connect_sdk::data::logical::{self, Decimal};
use connect_sdk::data::{Schema, Struct, Value};
use connect_sdk::host::registry::Registry;
use serde_json::json;

/// A standalone worker on an embedded broker, its REST API on a free port; the registry's URL.
async fn worker(name: &str) -> (Worker, String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("connect-avro-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let worker = Worker::builder().standalone(&dir).embedded(0, 0).worker_id("avro-test:1").build().await.expect("worker starts");
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(connect_rest::serve(worker.clone(), "127.0.0.1:0".parse().unwrap(), bound_tx, std::future::pending()));
    let rest = bound_rx.await.expect("REST binds");
    (worker, format!("http://{rest}/registry"), dir)
}

fn converter(class: &str, role: &str, config: serde_json::Value) -> Box<dyn Converter> {
    let config: ConfigMap = config.as_object().cloned().unwrap_or_default();
    Registry::global().converter(class, &config, role).unwrap_or_else(|e| panic!("{class}: {e}"))
}

fn order_schema() -> Schema {
    Schema::structure()
        .named("shop.Order")
        .field("id", Schema::int64())
        .field("customer", Schema::string())
        .field("qty", Schema::int32())
        .field("price", logical::decimal_schema(2))
        .field("placed", logical::timestamp_schema())
        .field("note", Schema::string().optional())
        .field("tags", Schema::array(Schema::string()))
        .field("attributes", Schema::map(Schema::string(), Schema::string()))
}

fn order(schema: &Arc<Schema>, i: i64) -> Value {
    let values = vec![
        Value::Int64(i),
        Value::from(format!("customer-{}", i % 97)),
        Value::Int32((i % 10) as i32),
        Decimal::new(i128::from(i) * 125, 2).to_value(),
        Value::Int64(1_700_000_000_000 + i),
        if i % 3 == 0 { Value::Null } else { Value::from("leave at the door") },
        Value::Array(vec![Value::from("gift"), Value::from("fragile")]),
        Value::Map(BTreeMap::from([(Value::from("channel"), Value::from("web"))])),
    ];
    Value::Struct(Struct::from_values(schema.clone(), values).unwrap())
}

/// Writes and reads one record through `class` on topic `topic`, checking what the registry
/// holds (`schema_type`) and the failures a user meets.
fn round_trip(registry: &SchemaRegistry, url: &str, class: &str, topic: &str, schema_type: &str) {
    let schema = Arc::new(order_schema());
    let record = order(&schema, 7);
    let writer = converter(class, "value.converter", json!({"schema.registry.url": url}));
    let key_writer = converter(class, "key.converter", json!({"schema.registry.url": url}));
    let bytes = writer.encode(topic, Some(&schema), &record).unwrap().unwrap();
    assert_eq!(bytes[0], 0, "magic byte");
    let id = i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    key_writer.encode(topic, Some(&Schema::string()), &Value::from("k-7")).unwrap().unwrap();
    let latest = registry.version(&format!("{topic}-value"), VersionSelector::Latest, false).unwrap();
    assert_eq!((latest.id, latest.schema_type.name()), (id, schema_type), "{latest:?}");
    assert!(registry.versions(&format!("{topic}-key"), false).is_ok(), "the key converter registered under {topic}-key");
    // A fresh converter (a sink's) reads the schema by the message's id.
    let reader = converter(class, "value.converter", json!({"schema.registry.url": url}));
    let read = reader.decode(topic, Some(&bytes)).unwrap();
    assert_eq!(read.value, record);
    assert_eq!(read.schema.as_ref(), Some(&*schema));
    assert!(writer.encode(topic, Some(&schema), &Value::Null).unwrap().is_none(), "a tombstone stays null");
    // Without auto-registration, a schema the subject lacks is an error naming the registry.
    let strict = converter(class, "value.converter", json!({"schema.registry.url": url, "auto.register.schemas": false}));
    let other = Schema::structure().named("shop.Order").field("id", Schema::int64());
    let value = Value::Struct(Struct::from_values(Arc::new(other.clone()), vec![Value::Int64(1)]).unwrap());
    let error = strict.encode(topic, Some(&other), &value).unwrap_err().to_string();
    assert!(error.contains("404") && error.contains(url), "{error}");
    // With use.latest.version, the subject's latest schema writes.
    let latest_writer = converter(
        class,
        "value.converter",
        json!({"schema.registry.url": url, "auto.register.schemas": false, "use.latest.version": true}),
    );
    let bytes = latest_writer.encode(topic, Some(&schema), &record).unwrap().unwrap();
    assert_eq!(i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]), id);
    // A message that is not in the wire format says so.
    assert!(reader.decode(topic, Some(b"{\"id\": 1}")).unwrap_err().to_string().contains("wire format"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_round_trip_through_the_worker_s_registry_under_confluent_s_subjects() {
    let (worker, url, dir) = worker("round-trip").await;
    let registry = worker.schema_registry().clone();
    // Converters block while they ask the registry: off the runtime serving it.
    tokio::task::spawn_blocking(move || {
        round_trip(&registry, &url, "avro", "orders-avro", "AVRO");
        round_trip(&registry, &url, "json-schema", "orders-json", "JSON");
    })
    .await
    .unwrap();
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `datagen-source`'s quickstarts are sample data for these converters: every one of them,
/// nested structs, arrays, maps, optional fields, decimals and timestamps included, is written
/// and read back as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagen_quickstarts_round_trip_through_avro_and_json_schema() {
    use connect_datagen::quickstart::Quickstart;
    let (worker, url, dir) = worker("quickstarts").await;
    tokio::task::spawn_blocking(move || {
        for class in ["avro", "json-schema"] {
            let writer = converter(class, "value.converter", json!({"schema.registry.url": url}));
            let reader = converter(class, "value.converter", json!({"schema.registry.url": url}));
            for quickstart in [Quickstart::Users, Quickstart::Orders, Quickstart::Pageviews, Quickstart::StockTrades, Quickstart::Purchases]
            {
                let (schemas, topic) = (quickstart.schemas(), format!("{quickstart:?}-{class}"));
                for n in 0..20 {
                    let sample = schemas.sample(11, 1, n).unwrap();
                    let bytes = writer.encode(&topic, Some(&sample.value_schema), &sample.value).unwrap().unwrap();
                    let read = reader.decode(&topic, Some(&bytes)).unwrap_or_else(|e| panic!("{class} {quickstart:?}: {e}"));
                    assert_eq!(read.value, sample.value, "{class} {quickstart:?} record {n}");
                }
            }
        }
    })
    .await
    .unwrap();
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreachable_registry_is_retried_then_named() {
    let port = connect_runtime::embedded::free_port().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let avro = converter("io.confluent.connect.avro.AvroConverter", "value.converter", json!({"schema.registry.url": url}));
    let schema = order_schema();
    let started = Instant::now();
    let error = avro.encode("orders", Some(&schema), &order(&Arc::new(schema.clone()), 1)).unwrap_err().to_string();
    assert!(error.contains(&format!("schema registry {url}")) && error.contains("tried 4 times"), "{error}");
    assert!(started.elapsed().as_millis() >= 1_000, "backed off between attempts");
    let bad = Registry::global().converter("avro", &ConfigMap::new(), "value.converter").unwrap();
    let error = bad.encode("orders", Some(&schema), &order(&Arc::new(schema.clone()), 1)).unwrap_err().to_string();
    assert!(error.contains("schema.registry.url"), "{error}");
}

/// Per-record cost of each converter, encode and decode, in one run against the same record
/// (a struct of eight fields: numbers, text, a decimal, a timestamp, an optional, an array and
/// a map): `cargo test --release -p connect-schema-registry --test converters -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release with --ignored"]
async fn per_record_cost() {
    let (worker, url, dir) = worker("cost").await;
    let schema = Arc::new(order_schema());
    const RECORDS: i64 = 200_000;
    let records: Vec<Value> = (0..RECORDS).map(|i| order(&schema, i)).collect();
    let mut rows = Vec::new();
    for (class, config) in [
        ("string", json!({})),
        ("json", json!({})),
        ("avro", json!({"schema.registry.url": url})),
        ("json-schema", json!({"schema.registry.url": url})),
    ] {
        let (schema, records) = (schema.clone(), records.clone());
        let row = tokio::task::spawn_blocking(move || {
            let converter = converter(class, "value.converter", config);
            // A topic per converter: one subject holds one schema type.
            let topic = format!("cost-{class}");
            let encoded: Vec<Vec<u8>> =
                records.iter().take(1_000).map(|r| converter.encode(&topic, Some(&schema), r).unwrap().unwrap()).collect();
            let _ = converter.decode(&topic, Some(&encoded[0])).unwrap();
            let started = Instant::now();
            let mut encoded = Vec::with_capacity(records.len());
            for record in &records {
                encoded.push(converter.encode(&topic, Some(&schema), record).unwrap().unwrap());
            }
            let encode = started.elapsed().as_nanos() as f64 / RECORDS as f64;
            let started = Instant::now();
            for bytes in &encoded {
                std::hint::black_box(converter.decode(&topic, Some(bytes)).unwrap());
            }
            let decode = started.elapsed().as_nanos() as f64 / RECORDS as f64;
            let bytes = encoded.iter().map(Vec::len).sum::<usize>() as f64 / RECORDS as f64;
            (class, encode, decode, bytes)
        })
        .await
        .unwrap();
        rows.push(row);
    }
    let json = rows.iter().find(|r| r.0 == "json").map(|r| r.1 + r.2).unwrap_or(1.0);
    for (class, encode, decode, bytes) in rows {
        println!(
            "MEASURED converter {class:<12} encode {encode:>7.0} ns  decode {decode:>7.0} ns  {bytes:>5.0} B/record  (encode+decode {:.2}x json)",
            (encode + decode) / json
        );
    }
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
