//! jdbc-source and jdbc-sink against the real PostgreSQL and MariaDB of the machine (each
//! test runs on both; a database that is not reachable skips, except in CI). Every test makes
//! its own tables and drops them.

use std::time::{Duration, Instant};

use connect_jdbc::db::{Connection, ConnectionSettings, Dialect, SqlValue};
use connect_jdbc::{JdbcSink, JdbcSource};
use connect_sdk::config::ConfigOrigin;
use connect_sdk::data::logical::{self, Decimal};
use connect_sdk::data::{Schema, Struct, Value};
use connect_sdk::host::plugin::source_factory;
use connect_sdk::record::Record;
use connect_sdk::serde_json::{Value as Json, json};
use connect_sdk::testing::compliance::{SinkCompliance, SourceCompliance};
use connect_sdk::testing::{SinkHarness, SourceHarness, block_on, service_available, unique_name};

/// The build profile, for the measurements' labels.
const PROFILE: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

/// A database the tests run against.
struct Db {
    dialect: Dialect,
    url: String,
}

fn databases() -> Vec<Db> {
    let mut out = Vec::new();
    let postgres = std::env::var("CONNECT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if service_available("PostgreSQL", "127.0.0.1:5432") {
        out.push(Db { dialect: Dialect::Postgres, url: postgres });
    }
    let mysql = std::env::var("CONNECT_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    if service_available("MariaDB", "127.0.0.1:3306") {
        out.push(Db { dialect: Dialect::MySql, url: mysql });
    }
    out
}

impl Db {
    async fn connect(&self) -> Connection {
        let settings = ConnectionSettings { url: self.url.clone(), user: None, password: None, attempts: 1, backoff: Duration::ZERO };
        settings.connect().await.unwrap_or_else(|e| panic!("{}: {}", self.url, e.trace()))
    }

    /// A table name no other test (or run) uses.
    fn table(&self, purpose: &str) -> String {
        unique_name(&format!("jdbc_{purpose}"))
    }

    /// The column types a test table needs, in this dialect.
    fn types(&self) -> (&'static str, &'static str, &'static str) {
        match self.dialect {
            Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "TIMESTAMP(6)", "BYTEA"),
            Dialect::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "DATETIME(6)", "BLOB"),
        }
    }

    async fn exec(&self, connection: &mut Connection, sql: &str) {
        connection.batch(sql).await.unwrap_or_else(|e| panic!("{sql}: {}", e.trace()));
    }

    async fn drop_table(&self, table: &str) {
        let mut connection = self.connect().await;
        self.exec(&mut connection, &format!("DROP TABLE IF EXISTS {}", self.dialect.quote(table))).await;
    }

    fn source_config(&self, extra: Json) -> Json {
        let mut config = json!({"connection.url": self.url, "topic.prefix": "db-", "poll.interval.ms": 10, "connection.attempts": 1});
        config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        config
    }

    /// Creates `table (id, name, price, updated)` with `rows` rows.
    async fn orders(&self, table: &str, rows: usize) {
        let mut connection = self.connect().await;
        let (id, ts, _) = self.types();
        let q = self.dialect.quote(table);
        self.exec(&mut connection, &format!("CREATE TABLE {q} (id {id}, name VARCHAR(64), price DECIMAL(10,2), updated {ts})")).await;
        insert_orders(self, &mut connection, table, 0, rows).await;
    }
}

async fn insert_orders(db: &Db, connection: &mut Connection, table: &str, from: usize, count: usize) {
    let q = db.dialect.quote(table);
    for chunk in (from..from + count).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> =
            chunk.iter().map(|i| format!("('order-{i}', {}.{:02}, '2024-05-01 12:00:00.{:06}')", i, i % 100, i % 1_000_000)).collect();
        db.exec(connection, &format!("INSERT INTO {q} (name, price, updated) VALUES {}", values.join(", "))).await;
    }
}

fn names(records: &[connect_sdk::record::SourceRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| match &r.value {
            Value::Struct(row) => row.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            other => panic!("not a row: {other:?}"),
        })
        .collect()
}

#[test]
fn source_in_incrementing_mode_keeps_the_source_guarantees() {
    block_on(async {
        for db in databases() {
            let table = db.table("compliance");
            db.orders(&table, 60).await;
            let config = db.source_config(
                json!({"mode": "incrementing", "incrementing.column.name": "id", "table.whitelist": table, "batch.max.rows": 7}),
            );
            let report = SourceCompliance::new(config).records(60).run::<JdbcSource>().await;
            db.drop_table(&table).await;
            assert_eq!(report.unwrap_or_else(|e| panic!("{:?}: {e}", db.dialect)).passed.len(), 5);
        }
    });
}

#[test]
fn source_rows_keep_their_types() {
    block_on(async {
        for db in databases() {
            let table = db.table("types");
            let mut connection = db.connect().await;
            let (id, ts, bytes) = db.types();
            let q = db.dialect.quote(&table);
            let flag = if db.dialect == Dialect::Postgres { "BOOLEAN" } else { "TINYINT(1)" };
            db.exec(
                &mut connection,
                &format!("CREATE TABLE {q} (id {id}, name TEXT, price DECIMAL(10,2), at {ts}, day DATE, data {bytes}, ok {flag}, ratio DOUBLE PRECISION, n INT)"),
            )
            .await;
            let data = if db.dialect == Dialect::Postgres { "'\\x0102ff'::bytea" } else { "X'0102FF'" };
            db.exec(
                &mut connection,
                &format!("INSERT INTO {q} (name, price, at, day, data, ok, ratio, n) VALUES ('a', -12.34, '2024-05-01 12:00:00.123456', '2024-05-01', {data}, TRUE, 0.5, NULL)"),
            )
            .await;
            let config = db.source_config(json!({"mode": "bulk", "table.whitelist": table}));
            let mut harness = SourceHarness::<JdbcSource>::new(config).await.unwrap();
            let records = harness.poll_at_least(1).await.unwrap();
            harness.close().await.unwrap();
            db.drop_table(&table).await;
            let record = &records[0];
            assert_eq!(record.topic, format!("db-{table}"));
            let Value::Struct(row) = &record.value else { panic!("{:?}", record.value) };
            let schema = record.value_schema.as_ref().unwrap();
            let field = |name: &str| schema.field_named(name).unwrap().schema.clone();
            assert_eq!(
                Decimal::from_value(&field("price"), row.get("price").unwrap()).unwrap(),
                Decimal::new(-1234, 2),
                "{:?}",
                db.dialect
            );
            assert_eq!(row.get("at"), Some(&Value::Int64(1_714_564_800_123)), "{:?}: ms since the epoch, UTC", db.dialect);
            assert_eq!(field("at").name.as_deref(), Some(logical::TIMESTAMP));
            assert_eq!(row.get("day"), Some(&Value::Int32(19_844)));
            assert_eq!(row.get("data"), Some(&Value::Bytes(vec![1, 2, 255])));
            assert_eq!(row.get("ok"), Some(&Value::Bool(true)));
            assert_eq!(row.get("ratio"), Some(&Value::Float64(0.5)));
            assert_eq!(row.get("n"), Some(&Value::Null));
            assert_eq!(row.get("name"), Some(&Value::from("a")));
        }
    });
}

#[test]
fn source_in_timestamp_incrementing_mode_sees_each_update_once() {
    block_on(async {
        for db in databases() {
            let table = db.table("updates");
            db.orders(&table, 5).await;
            let config = db.source_config(json!({"mode": "timestamp+incrementing", "incrementing.column.name": "id",
                "timestamp.column.name": "updated", "table.whitelist": table, "batch.max.rows": 2}));
            let mut harness = SourceHarness::<JdbcSource>::new(config).await.unwrap();
            assert_eq!(harness.poll_at_least(5).await.unwrap().len(), 5);
            harness.commit().await.unwrap();
            let mut connection = db.connect().await;
            let q = db.dialect.quote(&table);
            db.exec(&mut connection, &format!("UPDATE {q} SET name = 'changed', updated = '2024-06-01 00:00:00' WHERE id IN (2, 4)")).await;
            let changed = harness.poll_at_least(2).await.unwrap();
            assert_eq!(names(&changed), ["changed", "changed"], "{:?}", db.dialect);
            harness.commit().await.unwrap();
            harness.restart().await.unwrap();
            for _ in 0..5 {
                assert!(harness.poll().await.unwrap().is_empty(), "{:?}: nothing is read twice after a restart", db.dialect);
            }
            harness.close().await.unwrap();
            db.drop_table(&table).await;
        }
    });
}

#[test]
fn source_in_timestamp_mode_never_splits_rows_sharing_a_timestamp() {
    block_on(async {
        for db in databases() {
            let table = db.table("shared_ts");
            let mut connection = db.connect().await;
            let (id, ts, _) = db.types();
            let q = db.dialect.quote(&table);
            db.exec(&mut connection, &format!("CREATE TABLE {q} (id {id}, name VARCHAR(64), updated {ts})")).await;
            for (i, second) in [1, 1, 1, 1, 1, 2, 2, 3, 3, 3].iter().enumerate() {
                db.exec(&mut connection, &format!("INSERT INTO {q} (name, updated) VALUES ('r{i}', '2024-05-01 00:00:0{second}')")).await;
            }
            let config = db.source_config(
                json!({"mode": "timestamp", "timestamp.column.name": "updated", "table.whitelist": table, "batch.max.rows": 3}),
            );
            let mut harness = SourceHarness::<JdbcSource>::new(config).await.unwrap();
            let mut got = Vec::new();
            for _ in 0..50 {
                got.extend(names(&harness.poll().await.unwrap()));
                harness.commit().await.unwrap();
                harness.restart().await.unwrap();
            }
            got.sort();
            let mut expected: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
            expected.sort();
            assert_eq!(got, expected, "{:?}: each row exactly once, across restarts between batches", db.dialect);
            harness.close().await.unwrap();
            db.drop_table(&table).await;
        }
    });
}

#[test]
fn source_copies_a_query() {
    block_on(async {
        for db in databases() {
            let table = db.table("query");
            db.orders(&table, 10).await;
            let q = db.dialect.quote(&table);
            let config = db.source_config(json!({"mode": "incrementing", "incrementing.column.name": "id",
                "query": format!("SELECT id, name FROM {q} WHERE price >= 5"), "topic.prefix": "expensive"}));
            let mut harness = SourceHarness::<JdbcSource>::new(config).await.unwrap();
            let records = harness.poll_at_least(5).await.unwrap();
            assert_eq!(names(&records), (5..10).map(|i| format!("order-{i}")).collect::<Vec<_>>());
            assert!(records.iter().all(|r| r.topic == "expensive"));
            harness.close().await.unwrap();
            db.drop_table(&table).await;
        }
    });
}

#[test]
fn source_plans_one_task_per_table_group_and_finds_new_tables_when_planning_again() {
    block_on(async {
        for db in databases() {
            let tables: Vec<String> = (0..3).map(|_| db.table("planned")).collect();
            db.orders(&tables[0], 1).await;
            db.orders(&tables[1], 1).await;
            let config = db.source_config(json!({"name": "p", "connector.class": "jdbc-source", "mode": "incrementing",
                "incrementing.column.name": "id", "table.whitelist": tables.join(","), "table.poll.interval.ms": 1000}));
            let plan = || async {
                let factory = source_factory::<JdbcSource>();
                let parsed = (factory.parse)(config.as_object().unwrap(), ConfigOrigin::User).unwrap();
                (factory.plan)(parsed, 2).await.unwrap()
            };
            let first = plan().await;
            assert_eq!(first.tasks.len(), 2);
            assert_eq!(first.replan_after, Some(Duration::from_secs(1)));
            db.orders(&tables[2], 1).await;
            let second = plan().await;
            let planned: Vec<String> =
                second.tasks.iter().flat_map(|t| t["tables"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned())).collect();
            assert_eq!(planned.len(), 3, "{:?}: the new table is planned: {planned:?}", db.dialect);
            for table in &tables {
                db.drop_table(table).await;
            }
        }
    });
}

fn row_schema() -> Schema {
    Schema::structure()
        .named("order")
        .field("id", Schema::int64())
        .field("name", Schema::string().optional())
        .field("price", logical::decimal_schema(2).optional())
        .field("at", logical::timestamp_schema().optional())
}

fn row(id: i64, name: &str) -> Value {
    Value::Struct(
        Struct::from_values(
            row_schema(),
            vec![
                Value::Int64(id),
                Value::from(name),
                Decimal::new(i128::from(id) * 101, 2).to_value(),
                Value::Int64(1_714_564_800_000 + id),
            ],
        )
        .unwrap(),
    )
}

fn keyed(topic: &str, id: i64, value: Value) -> Record {
    let key = Struct::from_values(Schema::structure().field("id", Schema::int64()), vec![Value::Int64(id)]).unwrap();
    let key_schema = key.schema().clone();
    let value_schema = (!value.is_null()).then(row_schema);
    Record { topic: topic.to_owned(), key: Value::Struct(key), key_schema: Some(key_schema), value, value_schema, ..Record::default() }
}

fn marker_id(marker: &str) -> i64 {
    marker.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

async fn column_texts(db: &Db, table: &str, column: &str) -> Vec<String> {
    let mut connection = db.connect().await;
    let sql = format!("SELECT {} FROM {} ORDER BY id", db.dialect.quote(column), db.dialect.quote(table));
    let result = connection.query(&sql, &[]).await.unwrap();
    result.rows.into_iter().map(|r| r.into_iter().next().unwrap()).filter_map(SqlValue::into_text).collect()
}

#[test]
fn sink_in_upsert_mode_keeps_the_sink_guarantees() {
    block_on(async {
        for db in databases() {
            let table = db.table("sink_compliance");
            let config = json!({"connection.url": db.url, "insert.mode": "upsert", "pk.mode": "record_key",
                "auto.create": true, "table.name.format": table, "key.converter": "json"});
            let report = SinkCompliance::new(config)
                .record_with(|marker| keyed("any", marker_id(marker), row(marker_id(marker), marker)))
                .run::<JdbcSink>(async || column_texts(&db, &table, "name").await)
                .await;
            db.drop_table(&table).await;
            assert_eq!(report.unwrap_or_else(|e| panic!("{:?}: {e}", db.dialect)).passed.len(), 3);
        }
    });
}

#[test]
fn sink_in_insert_mode_writes_each_record_once_across_a_crash() {
    block_on(async {
        for db in databases() {
            let table = db.table("sink_once");
            let offsets = db.table("offsets");
            let config = json!({"name": table, "connection.url": db.url, "insert.mode": "insert", "auto.create": true,
                "table.name.format": table, "offsets.table": offsets, "key.converter": "json"});
            let report = SinkCompliance::new(config)
                .exactly_once()
                .record_with(|marker| keyed("any", marker_id(marker), row(marker_id(marker), marker)))
                .run::<JdbcSink>(async || column_texts(&db, &table, "name").await)
                .await;
            db.drop_table(&table).await;
            db.drop_table(&offsets).await;
            let report = report.unwrap_or_else(|e| panic!("{:?}: {e}", db.dialect));
            assert!(report.passed.contains(&"a_crash_between_write_and_commit_writes_nothing_twice"), "{report}");
            assert!(report.passed.contains(&"queues_handed_over_again_mid_run_go_on_where_the_task_left_off"), "{report}");
        }
    });
}

#[test]
fn sink_creates_the_table_upserts_and_deletes() {
    block_on(async {
        for db in databases() {
            let table = db.table("sink_cdc");
            let config = json!({"connection.url": db.url, "insert.mode": "upsert", "pk.mode": "record_key", "auto.create": true,
                "delete.enabled": true, "table.name.format": table, "topics": "orders", "key.converter": "json"});
            let mut harness = SinkHarness::<JdbcSink>::new(config).await.unwrap();
            for (id, value) in
                [(1, row(1, "one")), (2, row(2, "two")), (3, row(3, "three")), (2, row(2, "TWO")), (3, Value::Null), (1, row(1, "ONE"))]
            {
                harness.send_record(keyed("orders", id, value)).unwrap();
            }
            harness.deliver().await.unwrap();
            harness.flush().await.unwrap();
            assert_eq!(column_texts(&db, &table, "name").await, ["ONE", "TWO"], "{:?}", db.dialect);
            // A redelivery (at least once) writes the same rows again.
            harness.crash_and_restart().await.unwrap();
            harness.send_record(keyed("orders", 1, row(1, "ONE"))).unwrap();
            harness.deliver().await.unwrap();
            assert_eq!(column_texts(&db, &table, "name").await, ["ONE", "TWO"]);
            let mut connection = db.connect().await;
            let result = connection.query(&format!("SELECT price, at FROM {} WHERE id = 2", db.dialect.quote(&table)), &[]).await.unwrap();
            assert_eq!(result.rows[0][0], SqlValue::Decimal(Decimal::new(202, 2)), "{:?}", db.dialect);
            assert_eq!(result.rows[0][1], SqlValue::Timestamp((1_714_564_800_000 + 2) * 1000));
            harness.close().await.unwrap();
            db.drop_table(&table).await;
        }
    });
}

#[test]
fn sink_adds_missing_columns_with_auto_evolve_and_names_them_without() {
    block_on(async {
        for db in databases() {
            let table = db.table("sink_evolve");
            let mut connection = db.connect().await;
            db.exec(&mut connection, &format!("CREATE TABLE {} (id BIGINT PRIMARY KEY, name VARCHAR(64))", db.dialect.quote(&table))).await;
            let config = json!({"connection.url": db.url, "insert.mode": "upsert", "pk.mode": "record_key", "table.name.format": table, "topics": "t",
                "key.converter": "json"});
            let mut strict = SinkHarness::<JdbcSink>::new(config.clone()).await.unwrap();
            strict.send_record(keyed("t", 1, row(1, "one"))).unwrap();
            let error = strict.deliver().await.expect_err("missing columns are an error").trace();
            assert!(error.contains("no column price, at") && error.contains("auto.evolve"), "{error}");
            strict.close().await.unwrap();

            let mut config = config;
            config["auto.evolve"] = json!(true);
            let mut evolving = SinkHarness::<JdbcSink>::new(config).await.unwrap();
            evolving.send_record(keyed("t", 1, row(1, "one"))).unwrap();
            evolving.deliver().await.unwrap();
            assert_eq!(connection.columns(&table).await.unwrap(), ["id", "name", "price", "at"]);
            evolving.close().await.unwrap();
            db.drop_table(&table).await;
        }
    });
}

#[test]
fn sink_sends_a_record_the_database_refuses_to_the_dead_letter_queue_and_writes_the_rest() {
    block_on(async {
        for db in databases() {
            let table = db.table("sink_refused");
            let mut connection = db.connect().await;
            let q = db.dialect.quote(&table);
            db.exec(
                &mut connection,
                &format!("CREATE TABLE {q} (id BIGINT PRIMARY KEY, name VARCHAR(5), price DECIMAL(10,2), at {})", db.types().1),
            )
            .await;
            let config = json!({"connection.url": db.url, "insert.mode": "upsert", "pk.mode": "record_key", "table.name.format": table,
                "topics": "t", "errors.tolerance": "all", "key.converter": "json"});
            let mut harness = SinkHarness::<JdbcSink>::new(config).await.unwrap();
            for (id, name) in [(1, "ok"), (2, "much too long for the column"), (3, "fine")] {
                harness.send_record(keyed("t", id, row(id, name))).unwrap();
            }
            harness.deliver().await.unwrap();
            assert_eq!(column_texts(&db, &table, "name").await, ["ok", "fine"], "{:?}", db.dialect);
            let letters = harness.dead_letters();
            assert_eq!(letters.len(), 1, "{letters:?}");
            assert_eq!(letters[0].offset, 1);
            harness.close().await.unwrap();
            db.drop_table(&table).await;
        }
    });
}

#[test]
#[ignore = "a measurement, not a check: cargo test --release -p connect-jdbc --test jdbc -- --ignored --nocapture"]
fn source_and_sink_throughput() {
    block_on(async {
        for db in databases() {
            const ROWS: usize = 20_000;
            let table = db.table("throughput");
            db.orders(&table, ROWS).await;
            let config = db.source_config(
                json!({"mode": "incrementing", "incrementing.column.name": "id", "table.whitelist": table, "batch.max.rows": 1000}),
            );
            let mut source = SourceHarness::<JdbcSource>::new(config).await.unwrap();
            let started = Instant::now();
            let read = source.poll_at_least(ROWS).await.unwrap().len();
            let source_rate = read as f64 / started.elapsed().as_secs_f64();
            source.close().await.unwrap();

            let target = db.table("throughput_sink");
            let config = json!({"connection.url": db.url, "insert.mode": "upsert", "pk.mode": "record_key", "auto.create": true,
                "table.name.format": target, "topics": "t", "batch.size": 1000, "key.converter": "json"});
            let mut sink = SinkHarness::<JdbcSink>::new(config).await.unwrap();
            for id in 0..ROWS as i64 {
                sink.send_record(keyed("t", id, row(id, "throughput"))).unwrap();
            }
            let started = Instant::now();
            let written = sink.deliver().await.unwrap();
            sink.flush().await.unwrap();
            let sink_rate = written as f64 / started.elapsed().as_secs_f64();
            sink.close().await.unwrap();
            println!(
                "MEASURED jdbc {:?}: source {read} rows at {source_rate:.0} rows/s, sink (upsert) {written} records at {sink_rate:.0} records/s ({PROFILE} build, through the harness's converters)",
                db.dialect
            );
            assert_eq!((read, written), (ROWS, ROWS));
            db.drop_table(&table).await;
            db.drop_table(&target).await;
        }
    });
}
