//! object-store-sink into a local directory and into a real S3-compatible server (moto, on
//! 127.0.0.1:9000, started by `.ci/services`): file names, rolling, partitioning, JSON lines
//! and Parquet read back with a Parquet reader, and exactly once across a crash.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type};
use connect_object_store::ObjectStoreSink;
use connect_sdk::data::logical::{self, Decimal};
use connect_sdk::data::{Schema, Struct, Value};
use connect_sdk::record::Record;
use connect_sdk::serde_json::json;
use connect_sdk::testing::compliance::SinkCompliance;
use connect_sdk::testing::{SinkHarness, block_on, service_available};
use futures_util::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A fresh directory under the system's temporary directory.
fn temp_dir(purpose: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-object-store-{purpose}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Every line of every file under `dir`.
fn lines(dir: &Path) -> Vec<String> {
    files(dir).iter().flat_map(|f| std::fs::read_to_string(dir.join(f)).unwrap().lines().map(str::to_owned).collect::<Vec<_>>()).collect()
}

#[test]
fn files_are_named_by_their_first_offset_and_written_when_full() {
    block_on(async {
        let dir = temp_dir("names");
        let config = json!({"topics": "orders", "store.url": format!("file://{}", dir.display()), "flush.size": 10});
        let mut harness = SinkHarness::<ObjectStoreSink>::new(config).await.unwrap();
        for i in 0..25 {
            harness.send("orders", Value::Null, format!("order-{i}")).unwrap();
        }
        harness.deliver().await.unwrap();
        harness.flush().await.unwrap();
        assert_eq!(
            files(&dir),
            [
                "topics/orders/queue=harness-broker-0/orders+harness-broker+0+00000000000000000000.jsonl",
                "topics/orders/queue=harness-broker-0/orders+harness-broker+0+00000000000000000010.jsonl"
            ]
        );
        assert_eq!(lines(&dir)[10], "\"order-10\"");
        let committed: Vec<i64> = harness.committed().values().copied().collect();
        assert_eq!(committed, [20], "the 5 records of the file still filling are not committed");
        harness.close().await.unwrap();
    });
}

#[test]
fn json_lines_pass_the_sink_checks_exactly_once() {
    block_on(async {
        let dir = temp_dir("compliance");
        let config = json!({"store.url": dir.display().to_string(), "flush.size": 3});
        let read_back = async || lines(&dir).into_iter().map(|l| connect_sdk::serde_json::from_str::<String>(&l).unwrap()).collect();
        let report = SinkCompliance::new(config).exactly_once().records(40).run::<ObjectStoreSink>(read_back).await;
        assert_eq!(report.unwrap_or_else(|e| panic!("{e:?}")).passed.len(), 5);
    });
}

#[test]
fn a_record_for_another_partition_or_time_window_starts_a_new_file() {
    block_on(async {
        let dir = temp_dir("partitions");
        let config = json!({"topics": "events", "store.url": dir.display().to_string(), "partitioner": "time",
            "path.format": "dt=%Y-%m-%d/hour=%H", "flush.size": 100, "rotate.interval.ms": 60_000});
        let mut harness = SinkHarness::<ObjectStoreSink>::new(config).await.unwrap();
        // 10:00, 10:00:30, 10:01 (a minute past the file's first: a new file), 11:00 (a new hour).
        let hour = 1_714_557_600_000i64;
        for (i, at) in [hour, hour + 30_000, hour + 60_000, hour + 3_600_000, hour + 3_600_001].into_iter().enumerate() {
            harness.send_record(Record { timestamp: Some(at), ..Record::new("events", format!("e{i}")) }).unwrap();
        }
        harness.deliver().await.unwrap();
        harness.flush().await.unwrap();
        assert_eq!(
            files(&dir),
            [
                "topics/events/dt=2024-05-01/hour=10/events+harness-broker+0+00000000000000000000.jsonl",
                "topics/events/dt=2024-05-01/hour=10/events+harness-broker+0+00000000000000000002.jsonl"
            ],
            "the 10:00 file is written when 10:01 arrives, the 10:01 file when 11:00 does; 11:00 still fills"
        );
        assert_eq!(harness.committed().values().copied().collect::<Vec<_>>(), [3]);
        harness.close().await.unwrap();
    });
}

/// A struct record with a decimal, the shape a database row has.
fn order(schema: &Arc<Schema>, id: i64) -> Record {
    let row = Struct::from_values(
        schema.clone(),
        vec![Value::Int64(id), Value::from(format!("order-{id}")), Decimal::new(i128::from(id * 100 + 25), 2).to_value()],
    )
    .unwrap();
    Record { value_schema: Some(Schema::clone(schema)), ..Record::new("orders", Value::Struct(row)) }
}

fn order_schema() -> Arc<Schema> {
    Arc::new(
        Schema::structure()
            .named("shop.orders.Value")
            .field("id", Schema::int64())
            .field("name", Schema::string().optional())
            .field("price", logical::decimal_schema(2).optional()),
    )
}

/// Rows of Parquet files: (id, name, price unscaled).
fn parquet_rows(file: bytes::Bytes) -> Vec<(i64, String, i128)> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let (ids, names, prices) = (
            batch.column(0).as_primitive::<Int64Type>(),
            batch.column(1).as_string::<i32>(),
            batch.column(2).as_primitive::<Decimal128Type>(),
        );
        for i in 0..batch.num_rows() {
            out.push((ids.value(i), names.value(i).to_owned(), prices.value(i)));
        }
    }
    out
}

/// Creates a bucket on the S3 server (moto accepts it without credentials).
fn create_bucket(address: &str, bucket: &str) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "PUT /{bucket} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "creating bucket {bucket}: {answer}");
}

#[test]
fn parquet_files_in_an_s3_bucket_read_back_equal_across_a_crash() {
    block_on(async {
        let address = std::env::var("CONNECT_TEST_S3_ADDRESS").unwrap_or_else(|_| "127.0.0.1:9000".to_owned());
        if !service_available("an S3-compatible server (moto)", &address) {
            return;
        }
        let bucket = format!("connect-{}", std::process::id());
        create_bucket(&address, &bucket);
        let config = json!({"topics": "orders", "store.url": format!("s3://{bucket}/lake"), "s3.endpoint": format!("http://{address}"),
            "aws.access.key.id": "test", "aws.secret.access.key": "test", "format": "parquet", "flush.size": 40});
        let mut harness = SinkHarness::<ObjectStoreSink>::new(config).await.unwrap();
        let schema = order_schema();
        for id in 0..100 {
            harness.send_record(order(&schema, id)).unwrap();
        }
        harness.deliver().await.unwrap();
        harness.flush().await.unwrap();
        // More records, written to files, then a crash before their offsets are committed:
        // the same files are written again under the same names, nothing twice.
        for id in 100..160 {
            harness.send_record(order(&schema, id)).unwrap();
        }
        harness.deliver().await.unwrap();
        harness.crash_and_restart().await.unwrap();
        harness.deliver().await.unwrap();
        harness.flush().await.unwrap();
        harness.close().await.unwrap();

        let store = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_region("us-east-1")
            .with_endpoint(format!("http://{address}"))
            .with_allow_http(true)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap();
        let mut objects: Vec<String> = store.list(None).map_ok(|meta| meta.location.to_string()).try_collect::<Vec<_>>().await.unwrap();
        objects.sort();
        let expected: Vec<String> = [0, 40, 80, 120]
            .iter()
            .map(|start| format!("lake/topics/orders/queue=harness-broker-0/orders+harness-broker+0+{start:020}.parquet"))
            .collect();
        assert_eq!(objects, expected, "160 records: 4 full files of 40");
        let mut rows = Vec::new();
        for object in &objects {
            let bytes = store.get(&object.as_str().into()).await.unwrap().bytes().await.unwrap();
            rows.extend(parquet_rows(bytes));
        }
        let expected: Vec<(i64, String, i128)> = (0..160).map(|id| (id, format!("order-{id}"), i128::from(id * 100 + 25))).collect();
        assert_eq!(rows, expected, "every record once, in order, with its decimal exact");
    });
}

#[test]
fn a_bad_configuration_names_its_key() {
    block_on(async {
        let err = SinkHarness::<ObjectStoreSink>::new(json!({"topics": "t", "store.url": "relative/dir", "partitioner": "field"}))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("store.url") && err.contains("partition.field.name"), "{err}");
    });
}

#[test]
#[ignore = "a measurement, not a check: cargo test --release -p connect-object-store --test object_store -- --ignored --nocapture"]
fn throughput() {
    block_on(async {
        const RECORDS: i64 = 200_000;
        let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
        let schema = order_schema();
        for format in ["json", "parquet"] {
            let dir = temp_dir(&format!("throughput-{format}"));
            let config = json!({"topics": "orders", "store.url": dir.display().to_string(), "format": format, "flush.size": 10_000});
            let mut harness = SinkHarness::<ObjectStoreSink>::new(config).await.unwrap();
            let started = std::time::Instant::now();
            for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(2_000) {
                for &id in chunk {
                    harness.send_record(order(&schema, id)).unwrap();
                }
                harness.deliver().await.unwrap();
                harness.flush().await.unwrap();
            }
            let rate = RECORDS as f64 / started.elapsed().as_secs_f64();
            println!(
                "MEASURED object-store-sink ({format}, local directory): {RECORDS} records of 3 fields at {rate:.0} records/s ({profile} build, through the harness's JSON converter)"
            );
            assert_eq!(files(&dir).len(), (RECORDS / 10_000) as usize);
            harness.close().await.unwrap();
            let _ = std::fs::remove_dir_all(&dir);
        }
    });
}
