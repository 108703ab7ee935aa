//! postgres-cdc-source against the machine's PostgreSQL with `wal_level=logical`
//! (`.ci/services` turns it on). Each test makes its own tables, slot and publication in the
//! `test` database and drops them.

use std::time::{Duration, Instant};

use connect_jdbc::db::{Connection, ConnectionSettings, SqlValue};
use connect_postgres_cdc::PostgresCdcSource;
use connect_sdk::data::Value;
use connect_sdk::data::logical::Decimal;
use connect_sdk::record::SourceRecord;
use connect_sdk::serde_json::{Value as Json, json};
use connect_sdk::testing::compliance::SourceCompliance;
use connect_sdk::testing::{SourceHarness, block_on, service_available, skip_unless, unique_name};

/// The build profile, for the measurements' labels.
const PROFILE: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

fn url() -> String {
    std::env::var("CONNECT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn connect() -> Connection {
    let settings = ConnectionSettings { url: url(), user: None, password: None, attempts: 1, backoff: Duration::ZERO };
    settings.connect().await.unwrap_or_else(|e| panic!("{}", e.trace()))
}

async fn text(connection: &mut Connection, sql: &str) -> Option<String> {
    let result = connection.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {}", e.trace()));
    result.rows.into_iter().next().and_then(|row| row.into_iter().next()).and_then(SqlValue::into_text)
}

/// Whether PostgreSQL is there with `wal_level=logical` (required in CI).
async fn logical_wal_available() -> bool {
    if !service_available("PostgreSQL", "127.0.0.1:5432") {
        return false;
    }
    let level = text(&mut connect().await, "SELECT current_setting('wal_level')").await;
    skip_unless(level.as_deref() == Some("logical"), || format!("PostgreSQL runs with wal_level={level:?}; run .ci/services"))
}

async fn exec(connection: &mut Connection, sql: &str) {
    connection.batch(sql).await.unwrap_or_else(|e| panic!("{sql}: {}", e.trace()));
}

/// Drops what a test made: its table, and the slot and publication named after it.
async fn drop_all(connection: &mut Connection, name: &str) {
    exec(connection, &format!("DROP TABLE IF EXISTS {name}; DROP PUBLICATION IF EXISTS {name}")).await;
    exec(
        connection,
        &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{name}' AND NOT active"),
    )
    .await;
}

/// A connector capturing `public.<name>` through slot and publication `<name>`.
fn config(name: &str, extra: Json) -> Json {
    let mut config = json!({"connection.url": url(), "topic.prefix": "pg", "table.include.list": format!("public\\.{name}"),
        "slot.name": name, "publication.name": name, "publication.autocreate.mode": "filtered",
        "poll.interval.ms": 100, "connection.attempts": 1, "name": name});
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    config
}

/// The value at `path` in a record's value, null where there is none.
fn field<'a>(record: &'a SourceRecord, path: &[&str]) -> &'a Value {
    record.value.at(path).unwrap_or(&Value::Null)
}

async fn poll_until(harness: &mut SourceHarness<PostgresCdcSource>, count: usize) -> Vec<SourceRecord> {
    let started = Instant::now();
    let mut out = Vec::new();
    while out.len() < count && started.elapsed() < Duration::from_secs(30) {
        out.extend(harness.poll().await.unwrap_or_else(|e| panic!("{}", e.trace())));
    }
    out
}

#[test]
fn snapshot_then_every_insert_update_delete_and_truncate_with_before_and_after() {
    block_on(async {
        if !logical_wal_available().await {
            return;
        }
        let t = unique_name("pgcdc_changes");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY, name TEXT, qty BIGINT)")).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (1, 'one', 1), (2, 'two', 2)")).await;
        let mut harness = SourceHarness::<PostgresCdcSource>::new(config(&t, json!({"slot.drop.on.stop": true}))).await.unwrap();
        let snapshot = poll_until(&mut harness, 2).await;
        assert_eq!(snapshot.len(), 2);
        assert!(snapshot.iter().all(|r| field(r, &["op"]) == &Value::from("r")));
        assert_eq!(snapshot[0].topic, format!("pg-public-{t}"));
        assert_eq!(field(&snapshot[1], &["source", "snapshot"]), &Value::from("last"));

        exec(&mut connection, &format!("INSERT INTO {t} VALUES (3, 'three', 9223372036854775807)")).await;
        exec(&mut connection, &format!("UPDATE {t} SET name = 'TWO' WHERE id = 2")).await;
        exec(&mut connection, &format!("ALTER TABLE {t} REPLICA IDENTITY FULL; UPDATE {t} SET qty = 20 WHERE id = 2")).await;
        exec(&mut connection, &format!("DELETE FROM {t} WHERE id = 1")).await;
        exec(&mut connection, &format!("TRUNCATE {t}")).await;
        let changes = poll_until(&mut harness, 6).await;
        let ops: Vec<&Value> = changes.iter().map(|r| field(r, &["op"])).collect();
        let [c, u, u_full, d, tombstone, t_op] = ops.as_slice() else { panic!("{ops:?}") };
        assert_eq!(
            [*c, *u, *u_full, *d, *t_op],
            [&Value::from("c"), &Value::from("u"), &Value::from("u"), &Value::from("d"), &Value::from("t")]
        );
        assert_eq!(*tombstone, &Value::Null, "a tombstone follows the delete");
        assert_eq!(field(&changes[0], &["after", "qty"]), &Value::Int64(i64::MAX));
        assert_eq!(field(&changes[1], &["before"]), &Value::Null, "the default replica identity sends no old row");
        assert_eq!(field(&changes[1], &["after", "name"]), &Value::from("TWO"));
        assert_eq!(field(&changes[2], &["before", "qty"]), &Value::Int64(2), "REPLICA IDENTITY FULL: the whole old row");
        assert_eq!(field(&changes[2], &["after", "qty"]), &Value::Int64(20));
        assert_eq!(field(&changes[3], &["before", "id"]), &Value::Int32(1));
        let Value::Struct(key) = &changes[4].key else { panic!("keyed by the primary key: {:?}", changes[4].key) };
        assert_eq!(key.get("id"), Some(&Value::Int32(1)));
        let lsn = field(&changes[0], &["source", "lsn"]).as_i64().unwrap();
        assert!(lsn > 0 && field(&changes[0], &["source", "txId"]).as_i64().unwrap() > 0);
        assert!(field(&changes[1], &["source", "lsn"]).as_i64().unwrap() > lsn, "commit order");
        harness.close().await.unwrap();
        assert_eq!(
            text(&mut connection, &format!("SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = '{t}'")).await.as_deref(),
            Some("0")
        );
        drop_all(&mut connection, &t).await;
    });
}

#[test]
fn streaming_keeps_the_source_guarantees_across_restarts_inside_transactions() {
    block_on(async {
        if !logical_wal_available().await {
            return;
        }
        let t = unique_name("pgcdc_compliance");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY, name TEXT); CREATE PUBLICATION {t} FOR TABLE {t}")).await;
        // Every fresh run streams the same transactions from a new slot: several rows each, so
        // restarts land inside them.
        let reset = async || {
            let mut connection = connect().await;
            exec(&mut connection, &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{t}'"))
                .await;
            exec(&mut connection, &format!("SELECT pg_create_logical_replication_slot('{t}', 'pgoutput')")).await;
            exec(&mut connection, &format!("TRUNCATE {t}")).await;
            for batch in 0..8 {
                let rows: Vec<String> = (0..5).map(|i| format!("({}, 'row-{}')", batch * 5 + i, batch * 5 + i)).collect();
                exec(&mut connection, &format!("INSERT INTO {t} VALUES {}", rows.join(", "))).await;
            }
            exec(&mut connection, &format!("UPDATE {t} SET name = name || '!' WHERE id % 3 = 0")).await;
        };
        let config = config(
            &t,
            json!({"envelope": "row", "snapshot.mode": "never", "max.batch.size": 3, "publication.autocreate.mode": "disabled"}),
        );
        let report = SourceCompliance::new(config).records(50).run_resetting::<PostgresCdcSource>(reset).await;
        drop_all(&mut connection, &t).await;
        assert_eq!(report.unwrap_or_else(|e| panic!("{e:?}")).passed.len(), 5);
    });
}

#[test]
fn snapshot_and_stream_read_every_type_the_same_way() {
    block_on(async {
        if !logical_wal_available().await {
            return;
        }
        let t = unique_name("pgcdc_types");
        let mut connection = connect().await;
        exec(
            &mut connection,
            &format!(
                "CREATE TABLE {t} (id BIGINT PRIMARY KEY, price NUMERIC(10,3), amount NUMERIC, at TIMESTAMP(6), stamp TIMESTAMPTZ, day DATE, \
                 clock TIME, flag BOOLEAN, data BYTEA, note TEXT, doc JSONB, uid UUID, small SMALLINT, ratio REAL, tags TEXT[], nums INT[], \
                 span INTERVAL, empty TEXT)"
            ),
        )
        .await;
        let row = "'-12.345', '3.14159265358979323846', '2024-05-01 12:00:00.123456', '2024-05-01 14:00:00.25+02', '2024-05-01', '23:59:59.5', \
                   true, '\\x00ff', 'héllo', '{\"k\": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', -32768, 0.5, '{a,\"b c\",NULL}', '{1,2}', \
                   '1 day 02:00:00', NULL";
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (1, {row})")).await;
        let mut harness =
            SourceHarness::<PostgresCdcSource>::new(config(&t, json!({"envelope": "row", "slot.drop.on.stop": true}))).await.unwrap();
        let snapshot = poll_until(&mut harness, 1).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (2, {row})")).await;
        let streamed = poll_until(&mut harness, 1).await;
        harness.close().await.unwrap();
        drop_all(&mut connection, &t).await;
        let (Value::Struct(a), Value::Struct(b)) = (&snapshot[0].value, &streamed[0].value) else { panic!("rows") };
        for ((name, x), (_, y)) in a.iter().zip(b.iter()).skip(1) {
            assert_eq!(x, y, "column {name}: the snapshot and the stream disagree");
        }
        let schema = snapshot[0].value_schema.as_ref().unwrap();
        let price = Decimal::from_value(&schema.field_named("price").unwrap().schema, b.get("price").unwrap()).unwrap();
        assert_eq!(price, Decimal::new(-12_345, 3));
        assert_eq!(b.get("amount"), Some(&Value::from("3.14159265358979323846")), "an unconstrained numeric stays exact");
        assert_eq!(b.get("at"), Some(&Value::Int64(1_714_564_800_123_456)), "TIMESTAMP in µs");
        assert_eq!(schema.field_named("at").unwrap().schema.name.as_deref(), Some("io.debezium.time.MicroTimestamp"));
        assert_eq!(b.get("stamp"), Some(&Value::Int64(1_714_564_800_250_000)), "TIMESTAMPTZ in µs UTC");
        assert_eq!(b.get("day"), Some(&Value::Int32(19_844)));
        assert_eq!(b.get("clock"), Some(&Value::Int64(86_399_500_000)));
        assert_eq!(b.get("flag"), Some(&Value::Bool(true)));
        assert_eq!(b.get("data"), Some(&Value::Bytes(vec![0, 255])));
        assert_eq!(b.get("note"), Some(&Value::from("héllo")));
        assert_eq!(b.get("doc"), Some(&Value::from("{\"k\": [1, 2]}")));
        assert_eq!(schema.field_named("doc").unwrap().schema.name.as_deref(), Some("io.debezium.data.Json"));
        assert_eq!(b.get("uid"), Some(&Value::from("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")));
        assert_eq!(b.get("small"), Some(&Value::Int16(-32768)));
        assert_eq!(b.get("ratio"), Some(&Value::Float32(0.5)));
        assert_eq!(b.get("tags"), Some(&Value::Array(vec![Value::from("a"), Value::from("b c"), Value::Null])));
        assert_eq!(b.get("nums"), Some(&Value::Array(vec![Value::Int32(1), Value::Int32(2)])));
        assert_eq!(b.get("span"), Some(&Value::from("1 day 02:00:00")));
        assert_eq!(b.get("empty"), Some(&Value::Null));
        assert_eq!(streamed[0].headers.last("__op").map(|h| &h.value), Some(&Value::from("c")));
    });
}

/// The slot's `confirmed_flush_lsn`, as a number.
async fn confirmed(connection: &mut Connection, slot: &str) -> u64 {
    let sql = format!("SELECT (confirmed_flush_lsn - '0/0')::text FROM pg_replication_slots WHERE slot_name = '{slot}'");
    text(connection, &sql).await.and_then(|t| t.parse().ok()).unwrap_or(0)
}

async fn wait_for_confirmed(connection: &mut Connection, slot: &str, beyond: u64) -> u64 {
    let started = Instant::now();
    loop {
        let now = confirmed(connection, slot).await;
        if now > beyond || started.elapsed() > Duration::from_secs(20) {
            return now;
        }
        connect_sdk::tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn the_slot_advances_only_to_what_was_committed_and_over_changes_not_captured() {
    block_on(async {
        if !logical_wal_available().await {
            return;
        }
        let t = unique_name("pgcdc_slot");
        let other = format!("{t}_other");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY); CREATE TABLE {other} (id INT PRIMARY KEY)")).await;
        exec(&mut connection, &format!("CREATE PUBLICATION {t} FOR TABLE {t}, {other}")).await;
        let config = config(&t, json!({"snapshot.mode": "never", "slot.drop.on.stop": true, "publication.autocreate.mode": "disabled"}));
        let mut harness = SourceHarness::<PostgresCdcSource>::new(config).await.unwrap();
        let start = confirmed(&mut connection, &t).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (1)")).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (2)")).await;
        assert_eq!(poll_until(&mut harness, 2).await.len(), 2);
        // Polled, not committed: the slot keeps the changes.
        for _ in 0..5 {
            harness.poll().await.unwrap();
        }
        connect_sdk::tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(confirmed(&mut connection, &t).await, start, "the slot advanced past records the worker had not committed");
        harness.commit().await.unwrap();
        harness.poll().await.unwrap();
        let after_commit = wait_for_confirmed(&mut connection, &t, start).await;
        assert!(after_commit > start, "the slot did not advance after the commit");

        // Changes of a table the connector does not capture: no records, and the slot moves on.
        for i in 0..20 {
            exec(&mut connection, &format!("INSERT INTO {other} VALUES ({i})")).await;
        }
        let wal = text(&mut connection, "SELECT (pg_current_wal_lsn() - '0/0')::text").await.unwrap().parse::<u64>().unwrap();
        let started = Instant::now();
        while confirmed(&mut connection, &t).await < wal && started.elapsed() < Duration::from_secs(30) {
            assert!(harness.poll().await.unwrap().is_empty(), "a change of a table not captured became a record");
        }
        assert!(confirmed(&mut connection, &t).await >= wal, "an idle slot kept WAL of changes it does not capture");
        harness.close().await.unwrap();
        drop_all(&mut connection, &t).await;
        exec(&mut connection, &format!("DROP TABLE {other}")).await;
    });
}

#[test]
fn rows_before_and_after_an_alter_table_keep_their_own_columns() {
    block_on(async {
        if !logical_wal_available().await {
            return;
        }
        let t = unique_name("pgcdc_alter");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY, name TEXT)")).await;
        let mut harness = SourceHarness::<PostgresCdcSource>::new(config(
            &t,
            json!({"envelope": "row", "snapshot.mode": "never", "slot.drop.on.stop": true}),
        ))
        .await
        .unwrap();
        // All three are written before the task reads any of them.
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (1, 'before')")).await;
        exec(&mut connection, &format!("ALTER TABLE {t} ADD COLUMN price NUMERIC(6,2) DEFAULT 1.50")).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (2, 'after', 9.99)")).await;
        exec(&mut connection, &format!("ALTER TABLE {t} DROP COLUMN name")).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (3, 0.01)")).await;
        let records = poll_until(&mut harness, 3).await;
        harness.close().await.unwrap();
        drop_all(&mut connection, &t).await;
        let names = |r: &SourceRecord| r.value_schema.as_ref().unwrap().fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&records[0]), ["id", "name"]);
        assert_eq!(names(&records[1]), ["id", "name", "price"]);
        assert_eq!(names(&records[2]), ["id", "price"]);
        assert_eq!(field(&records[1], &["name"]), &Value::from("after"));
        assert_eq!(field(&records[2], &["price"]), &Decimal::new(1, 2).to_value());
    });
}

#[test]
fn a_bad_configuration_names_its_key() {
    block_on(async {
        let err = SourceHarness::<PostgresCdcSource>::new(
            json!({"connection.url": "mysql://x/y", "topic.prefix": "p", "table.include.list": "(", "slot.name": "Bad-Name"}),
        )
        .await
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("connection.url") && err.contains("table.include.list") && err.contains("slot.name"), "{err}");
    });
}

#[test]
#[ignore = "a measurement, not a check: cargo test --release -p connect-postgres-cdc --test postgres_cdc -- --ignored --nocapture"]
fn streaming_throughput() {
    block_on(async {
        if !logical_wal_available().await {
            return;
        }
        const ROWS: usize = 20_000;
        let t = unique_name("pgcdc_throughput");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY, name TEXT, price NUMERIC(10,2))")).await;
        let config = config(&t, json!({"snapshot.mode": "never", "slot.drop.on.stop": true}));
        let mut harness = SourceHarness::<PostgresCdcSource>::new(config).await.unwrap();
        for chunk in (0..ROWS).collect::<Vec<_>>().chunks(1000) {
            let rows: Vec<String> = chunk.iter().map(|i| format!("({i}, 'name-{i}', {i}.5)")).collect();
            exec(&mut connection, &format!("INSERT INTO {t} VALUES {}", rows.join(", "))).await;
        }
        let started = Instant::now();
        let read = poll_until(&mut harness, ROWS).await.len();
        let rate = read as f64 / started.elapsed().as_secs_f64();
        println!(
            "MEASURED postgres-cdc: {read} row changes streamed at {rate:.0} records/s ({PROFILE} build, Debezium envelope, through the harness's JSON converter)"
        );
        harness.close().await.unwrap();
        drop_all(&mut connection, &t).await;
        assert_eq!(read, ROWS);
    });
}

/// Polls (reading whatever comes) until the task reports it read everything there is.
async fn poll_until_caught_up(harness: &mut SourceHarness<PostgresCdcSource>) -> Vec<SourceRecord> {
    let started = Instant::now();
    let mut out = Vec::new();
    while harness.lag(0).unwrap().seconds != Some(0.0) && started.elapsed() < Duration::from_secs(30) {
        out.extend(harness.poll().await.unwrap_or_else(|e| panic!("{}", e.trace())));
    }
    out
}

#[test]
fn reports_the_snapshot_progress_then_how_far_behind_the_wal_it_reads() {
    use connect_sdk::lag::SnapshotProgress;
    block_on(async {
        if !logical_wal_available().await {
            return;
        }
        let t = unique_name("pgcdc_lag");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY, pad TEXT)")).await;
        exec(&mut connection, &format!("INSERT INTO {t} SELECT g, repeat('x', 100) FROM generate_series(1, 250) g")).await;
        let config = config(&t, json!({"max.batch.size": 100, "slot.drop.on.stop": true}));
        let mut harness = SourceHarness::<PostgresCdcSource>::new(config).await.unwrap();
        let progress = |done, total| Some(SnapshotProgress { rows_done: done, rows_total: total });
        assert_eq!(harness.lag(0).unwrap().snapshot, progress(0, 250), "counted when the snapshot begins");
        assert_eq!(harness.poll().await.unwrap().len(), 100);
        let lag = harness.lag(0).unwrap();
        assert_eq!(lag.snapshot, progress(100, 250));
        assert_eq!(lag.status_note().as_deref(), Some("reading the initial snapshot: 40 % of 250 rows"));
        assert_eq!(poll_until(&mut harness, 150).await.len(), 150);
        assert_eq!(harness.lag(0).unwrap().snapshot, progress(250, 250), "read: kept at its total");
        assert_eq!(harness.lag(0).unwrap().status_note(), None);
        poll_until_caught_up(&mut harness).await;
        assert!(harness.lag(0).unwrap().bytes.is_some(), "the WAL's head was asked for: {:?}", harness.lag(0));

        // One transaction of 1,000 rows of 1 KB, committed 6 s before the task reads its first
        // 100: it is that far behind, by most of a megabyte of WAL.
        exec(&mut connection, &format!("INSERT INTO {t} SELECT g, repeat('y', 1000) FROM generate_series(1001, 2000) g")).await;
        std::thread::sleep(Duration::from_secs(6));
        let first = poll_until(&mut harness, 1).await;
        assert!(!first.is_empty() && first.len() <= 100, "{}", first.len());
        let lag = harness.lag(0).unwrap();
        let seconds = lag.seconds.unwrap();
        assert!(seconds >= 5.0, "seconds behind the change read: {lag:?}");
        assert!(lag.bytes.unwrap() > 500_000, "bytes of WAL not read yet: {lag:?}");
        let rest = poll_until_caught_up(&mut harness).await;
        assert_eq!(first.len() + rest.len(), 1000, "every row of the transaction, then caught up");
        assert_eq!(harness.lag(0).unwrap().seconds, Some(0.0));
        harness.close().await.unwrap();
        drop_all(&mut connection, &t).await;
    });
}
