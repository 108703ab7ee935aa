//! mysql-cdc-source against the machine's MariaDB with its row-based binlog (`.ci/services`
//! turns it on). Each test makes its own tables in the `test` database and drops them.

use std::time::{Duration, Instant};

use connect_jdbc::db::{Connection, ConnectionSettings, SqlValue};
use connect_mysql_cdc::MySqlCdcSource;
use connect_sdk::data::Value;
use connect_sdk::data::logical::Decimal;
use connect_sdk::record::SourceRecord;
use connect_sdk::serde_json::{Value as Json, json};
use connect_sdk::testing::compliance::SourceCompliance;
use connect_sdk::testing::{SourceHarness, block_on, service_available, skip_unless, unique_name};

/// The build profile, for the measurements' labels.
const PROFILE: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

const URL: &str = "mysql://root@127.0.0.1:3306/test";

fn url() -> String {
    std::env::var("CONNECT_TEST_MYSQL_URL").unwrap_or_else(|_| URL.to_owned())
}

async fn connect() -> Connection {
    let settings = ConnectionSettings { url: url(), user: None, password: None, attempts: 1, backoff: Duration::ZERO };
    settings.connect().await.unwrap_or_else(|e| panic!("{}", e.trace()))
}

/// Whether MariaDB is there with a row-based binlog (required in CI).
async fn binlog_available() -> bool {
    if !service_available("MariaDB", "127.0.0.1:3306") {
        return false;
    }
    let mut connection = connect().await;
    let result = connection.query("SELECT CAST(@@log_bin AS CHAR), CAST(@@binlog_format AS CHAR)", &[]).await.unwrap();
    let row: Vec<Option<String>> = result.rows[0].clone().into_iter().map(SqlValue::into_text).collect();
    let binlog = matches!(row.as_slice(), [Some(on), Some(format)] if (on == "1" || on == "ON") && format == "ROW");
    skip_unless(binlog, || format!("MariaDB runs without a row-based binlog ({row:?}); run .ci/services"))
}

async fn exec(connection: &mut Connection, sql: &str) {
    connection.batch(sql).await.unwrap_or_else(|e| panic!("{sql}: {}", e.trace()));
}

async fn binlog_position(connection: &mut Connection) -> (String, i64) {
    let result = connection.query("SHOW MASTER STATUS", &[]).await.unwrap();
    let mut row = result.rows[0].clone().into_iter();
    let file = row.next().and_then(SqlValue::into_text).unwrap();
    let pos = match row.next() {
        Some(SqlValue::Int(pos)) => pos,
        other => panic!("{other:?}"),
    };
    (file, pos)
}

fn config(table: &str, extra: Json) -> Json {
    let mut config = json!({"connection.url": url(), "topic.prefix": "cdc", "table.include.list": format!("test\\.{table}"),
        "poll.interval.ms": 100, "connection.attempts": 1, "name": table});
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    config
}

/// The value at `path` in a record's value, null where there is none.
fn field<'a>(record: &'a SourceRecord, path: &[&str]) -> &'a Value {
    record.value.at(path).unwrap_or(&Value::Null)
}

async fn poll_until(harness: &mut SourceHarness<MySqlCdcSource>, count: usize) -> Vec<SourceRecord> {
    poll_where(harness, count, |_| true).await
}

/// The next `count` row records, leaving out schema change records (topic `cdc`).
async fn poll_rows(harness: &mut SourceHarness<MySqlCdcSource>, count: usize) -> Vec<SourceRecord> {
    poll_where(harness, count, |r| r.topic != "cdc").await
}

/// Polls until `count` records `keep` admits came (or 30 s passed).
async fn poll_where(harness: &mut SourceHarness<MySqlCdcSource>, count: usize, keep: impl Fn(&SourceRecord) -> bool) -> Vec<SourceRecord> {
    let started = Instant::now();
    let mut out = Vec::new();
    while out.len() < count && started.elapsed() < Duration::from_secs(30) {
        out.extend(harness.poll().await.unwrap().into_iter().filter(|r| keep(r)));
    }
    out
}

#[test]
fn snapshot_then_every_insert_update_and_delete_with_before_and_after() {
    block_on(async {
        if !binlog_available().await {
            return;
        }
        let t = unique_name("cdc_changes");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(32), qty INT UNSIGNED)")).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (1, 'one', 1), (2, 'two', 2)")).await;
        let mut harness = SourceHarness::<MySqlCdcSource>::new(config(&t, json!({}))).await.unwrap();
        let snapshot = poll_rows(&mut harness, 2).await;
        assert_eq!(snapshot.len(), 2);
        assert!(snapshot.iter().all(|r| field(r, &["op"]) == &Value::from("r")));
        assert_eq!(snapshot[0].topic, format!("cdc-test-{t}"));
        assert_eq!(field(&snapshot[1], &["source", "snapshot"]), &Value::from("last"));

        exec(&mut connection, &format!("INSERT INTO {t} VALUES (3, 'three', 4294967295)")).await;
        exec(&mut connection, &format!("UPDATE {t} SET name = 'TWO' WHERE id = 2")).await;
        exec(&mut connection, &format!("DELETE FROM {t} WHERE id = 1")).await;
        let changes = poll_rows(&mut harness, 4).await;
        let ops: Vec<&Value> = changes.iter().map(|r| field(r, &["op"])).collect();
        assert_eq!(ops, [&Value::from("c"), &Value::from("u"), &Value::from("d"), &Value::Null], "insert, update, delete, tombstone");
        assert_eq!(field(&changes[0], &["after", "qty"]), &Value::Int64(4_294_967_295), "unsigned INT read as unsigned");
        assert_eq!(field(&changes[1], &["before", "name"]), &Value::from("two"));
        assert_eq!(field(&changes[1], &["after", "name"]), &Value::from("TWO"));
        assert_eq!(field(&changes[2], &["before", "id"]), &Value::Int32(1));
        assert_eq!(field(&changes[2], &["after"]), &Value::Null);
        assert!(changes[3].value.is_null(), "a tombstone follows the delete");
        let Value::Struct(key) = &changes[3].key else { panic!("keyed by the primary key: {:?}", changes[3].key) };
        assert_eq!(key.get("id"), Some(&Value::Int32(1)));
        let (file, _) = binlog_position(&mut connection).await;
        assert_eq!(field(&changes[0], &["source", "file"]), &Value::from(file.as_str()));
        assert!(field(&changes[0], &["source", "pos"]).as_i64().unwrap() > 4);
        assert!(field(&changes[0], &["source", "gtid"]).as_str().is_some_and(|g| g.split('-').count() == 3), "a MariaDB GTID");
        harness.close().await.unwrap();
        exec(&mut connection, &format!("DROP TABLE {t}")).await;
    });
}

#[test]
fn streaming_keeps_the_source_guarantees_across_restarts_inside_transactions() {
    block_on(async {
        if !binlog_available().await {
            return;
        }
        let t = unique_name("cdc_compliance");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(32))")).await;
        let (file, pos) = binlog_position(&mut connection).await;
        // Transactions of several rows, so restarts land inside them.
        for batch in 0..8 {
            let rows: Vec<String> = (0..5).map(|i| format!("({}, 'row-{}')", batch * 5 + i, batch * 5 + i)).collect();
            exec(&mut connection, &format!("INSERT INTO {t} VALUES {}", rows.join(", "))).await;
        }
        exec(&mut connection, &format!("UPDATE {t} SET name = CONCAT(name, '!') WHERE id % 3 = 0")).await;
        let config = config(&t, json!({"envelope": "row", "binlog.filename": file, "binlog.position": pos, "max.batch.size": 3}));
        let report = SourceCompliance::new(config).records(50).run::<MySqlCdcSource>().await;
        exec(&mut connection, &format!("DROP TABLE {t}")).await;
        assert_eq!(report.unwrap().passed.len(), 5);
    });
}

#[test]
fn snapshot_and_stream_read_every_type_the_same_way() {
    block_on(async {
        if !binlog_available().await {
            return;
        }
        let t = unique_name("cdc_types");
        let mut connection = connect().await;
        exec(
            &mut connection,
            &format!(
                "CREATE TABLE {t} (id BIGINT UNSIGNED PRIMARY KEY, price DECIMAL(10,3), at DATETIME(6), stamp TIMESTAMP(3) NULL, day DATE, \
                 state ENUM('new','paid'), tags SET('a','b','c'), y YEAR, flag TINYINT(1), data VARBINARY(8), note TEXT, doc JSON, small TINYINT UNSIGNED)"
            ),
        )
        .await;
        let row = "'-12.345', '2024-05-01 12:00:00.123456', '2024-05-01 12:00:00.250', '2024-05-01', 'paid', 'a,c', 2024, 1, X'00FF', 'héllo', '{\"k\": 1}', 200";
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (18446744073709551615, {row})")).await;
        let mut harness = SourceHarness::<MySqlCdcSource>::new(config(&t, json!({"envelope": "row"}))).await.unwrap();
        let snapshot = poll_rows(&mut harness, 1).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (1, {row})")).await;
        let streamed = poll_rows(&mut harness, 1).await;
        harness.close().await.unwrap();
        exec(&mut connection, &format!("DROP TABLE {t}")).await;
        let (Value::Struct(a), Value::Struct(b)) = (&snapshot[0].value, &streamed[0].value) else { panic!("rows") };
        for ((name, x), (_, y)) in a.iter().zip(b.iter()).skip(1) {
            assert_eq!(x, y, "column {name}: the snapshot and the binlog disagree");
        }
        let schema = snapshot[0].value_schema.as_ref().unwrap();
        let id = Decimal::from_value(&schema.field_named("id").unwrap().schema, a.get("id").unwrap()).unwrap();
        assert_eq!(id, Decimal::new(i128::from(u64::MAX), 0));
        assert_eq!(b.get("at"), Some(&Value::Int64(1_714_564_800_123_456)), "DATETIME(6) in µs");
        assert_eq!(schema.field_named("at").unwrap().schema.name.as_deref(), Some("io.debezium.time.MicroTimestamp"));
        assert_eq!(b.get("stamp"), Some(&Value::Int64(1_714_564_800_250)));
        assert_eq!(b.get("state"), Some(&Value::from("paid")));
        assert_eq!(b.get("tags"), Some(&Value::from("a,c")));
        assert_eq!(b.get("y"), Some(&Value::Int32(2024)));
        assert_eq!(b.get("flag"), Some(&Value::Bool(true)));
        assert_eq!(b.get("data"), Some(&Value::Bytes(vec![0, 255])));
        assert_eq!(b.get("note"), Some(&Value::from("héllo")));
        assert_eq!(b.get("small"), Some(&Value::Int16(200)));
        assert_eq!(streamed[0].headers.last("__op").map(|h| &h.value), Some(&Value::from("c")));
    });
}

#[test]
fn heartbeats_carry_the_position_past_changes_of_tables_not_captured() {
    block_on(async {
        if !binlog_available().await {
            return;
        }
        let (t, other) = (unique_name("cdc_watched"), unique_name("cdc_busy"));
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY); CREATE TABLE {other} (id INT PRIMARY KEY)")).await;
        let (file, pos) = binlog_position(&mut connection).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (1)")).await;
        let config = config(&t, json!({"binlog.filename": file, "binlog.position": pos, "heartbeat.interval.ms": 200, "envelope": "row"}));
        let store = std::sync::Arc::new(connect_sdk::testing::InMemoryOffsetStore::new());
        let mut harness = SourceHarness::<MySqlCdcSource>::with_store(config.clone(), store.clone()).await.unwrap();
        let change: Vec<SourceRecord> = poll_until(&mut harness, 2).await.into_iter().filter(|r| r.topic != "cdc").collect();
        assert_eq!(change.len(), 1);
        let change_pos = change[0].source_offset.get_i64("pos").unwrap();
        // Only the table not captured changes now: heartbeats move the offset on.
        for i in 0..20 {
            exec(&mut connection, &format!("INSERT INTO {other} VALUES ({i})")).await;
        }
        let started = Instant::now();
        let mut heartbeats = Vec::new();
        while heartbeats.is_empty() && started.elapsed() < Duration::from_secs(20) {
            heartbeats.extend(harness.poll().await.unwrap());
        }
        let heartbeat = heartbeats.last().expect("a heartbeat while the binlog moved on");
        assert_eq!(heartbeat.topic, "__debezium-heartbeat-cdc");
        let (_, now) = binlog_position(&mut connection).await;
        assert_eq!(
            heartbeat.source_offset.get_i64("pos"),
            Some(now),
            "the heartbeat is at the binlog's end, past the other table's changes"
        );
        assert!(now > change_pos);
        // Resumed from the heartbeat: the next watched change arrives, the first does not again.
        harness.commit().await.unwrap();
        harness.close().await.unwrap();
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (2)")).await;
        let mut harness = SourceHarness::<MySqlCdcSource>::with_store(config, store).await.unwrap();
        let next = poll_until(&mut harness, 1).await;
        assert_eq!(
            next.iter().filter(|r| r.topic != heartbeat.topic && r.topic != "cdc").map(|r| field(r, &["id"]).clone()).collect::<Vec<_>>(),
            [Value::Int32(2)]
        );
        harness.close().await.unwrap();
        exec(&mut connection, &format!("DROP TABLE {t}; DROP TABLE {other}")).await;
    });
}

/// The column names of a row record.
fn columns(record: &SourceRecord) -> Vec<String> {
    record.value_schema.as_ref().map(|s| s.fields.iter().map(|f| f.name.clone()).collect()).unwrap_or_default()
}

#[test]
fn rows_are_read_with_the_columns_they_were_written_with_however_far_behind_the_reader_is() {
    block_on(async {
        if !binlog_available().await {
            return;
        }
        let t = unique_name("cdc_history");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY, a VARCHAR(10))")).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (1, 'one')")).await;
        let config = config(&t, json!({"envelope": "row"}));
        let store = std::sync::Arc::new(connect_sdk::testing::InMemoryOffsetStore::new());
        let mut harness = SourceHarness::<MySqlCdcSource>::with_store(config.clone(), store.clone()).await.unwrap();
        let snapshot = poll_until(&mut harness, 2).await;
        assert_eq!(snapshot[0].topic, "cdc", "the snapshot announces the table's definition first");
        assert!(matches!(field(&snapshot[0], &["tableChanges"]), Value::Array(tables) if tables.len() == 1));
        assert_eq!(columns(&snapshot[1]), ["id", "a"]);
        harness.commit().await.unwrap();
        harness.close().await.unwrap();

        // While the connector is away the table changes three times.
        for sql in [
            format!("INSERT INTO {t} VALUES (2, 'two')"),
            format!("ALTER TABLE {t} ADD COLUMN b INT AFTER id"),
            format!("INSERT INTO {t} (id, a, b) VALUES (3, 'three', 30)"),
            format!("ALTER TABLE {t} DROP COLUMN a"),
            format!("INSERT INTO {t} VALUES (4, 40)"),
            format!("ALTER TABLE {t} CHANGE COLUMN b bb BIGINT"),
            format!("INSERT INTO {t} VALUES (5, 50)"),
        ] {
            exec(&mut connection, &sql).await;
        }
        let mut harness = SourceHarness::<MySqlCdcSource>::with_store(config.clone(), store.clone()).await.unwrap();
        let records = poll_until(&mut harness, 7).await;
        let (changes, rows): (Vec<_>, Vec<_>) = records.iter().partition(|r| r.topic == "cdc");
        assert_eq!(
            rows.iter().map(|r| columns(r)).collect::<Vec<_>>(),
            [vec!["id", "a"], vec!["id", "b", "a"], vec!["id", "b"], vec!["id", "bb"]]
        );
        assert_eq!(field(rows[1], &["a"]), &Value::from("three"));
        assert_eq!(field(rows[1], &["b"]), &Value::Int32(30));
        assert_eq!(field(rows[2], &["b"]), &Value::Int32(40));
        assert_eq!(field(rows[3], &["bb"]), &Value::Int64(50), "BIGINT after the CHANGE");
        assert_eq!(changes.len(), 3, "one schema change record per ALTER");
        assert!(field(changes[0], &["ddl"]).as_str().is_some_and(|ddl| ddl.contains("ADD COLUMN b")));
        let Value::Array(tables) = field(changes[2], &["tableChanges"]) else { panic!("tableChanges") };
        let Value::Struct(change) = &tables[0] else { panic!() };
        assert_eq!(change.get("id"), Some(&Value::from(format!("test.{t}"))));
        assert_eq!(change.get("type"), Some(&Value::from("ALTER")));
        harness.commit().await.unwrap();
        harness.close().await.unwrap();

        // The history is committed with the offsets: a restart reads a row written before
        // the next ALTER with the columns the history holds, not those the table has now.
        exec(&mut connection, &format!("INSERT INTO {t} VALUES (6, 60)")).await;
        exec(&mut connection, &format!("ALTER TABLE {t} ADD COLUMN c VARCHAR(10) FIRST")).await;
        exec(&mut connection, &format!("INSERT INTO {t} VALUES ('seven', 7, 70)")).await;
        let mut harness = SourceHarness::<MySqlCdcSource>::with_store(config, store).await.unwrap();
        let records = poll_until(&mut harness, 3).await;
        let rows: Vec<&SourceRecord> = records.iter().filter(|r| r.topic != "cdc").collect();
        assert_eq!(rows.iter().map(|r| columns(r)).collect::<Vec<_>>(), [vec!["id", "bb"], vec!["c", "id", "bb"]]);
        assert_eq!(field(rows[1], &["c"]), &Value::from("seven"));
        harness.close().await.unwrap();
        exec(&mut connection, &format!("DROP TABLE {t}")).await;
    });
}

#[test]
fn a_bad_configuration_names_its_key() {
    block_on(async {
        let err = SourceHarness::<MySqlCdcSource>::new(
            json!({"connection.url": "postgres://x/y", "topic.prefix": "p", "table.include.list": "("}),
        )
        .await
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("connection.url") && err.contains("table.include.list"), "{err}");
    });
}

#[test]
#[ignore = "a measurement, not a check: cargo test --release -p connect-mysql-cdc --test mysql_cdc -- --ignored --nocapture"]
fn streaming_throughput() {
    block_on(async {
        if !binlog_available().await {
            return;
        }
        const ROWS: usize = 20_000;
        let t = unique_name("cdc_throughput");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(64), price DECIMAL(10,2))")).await;
        let (file, pos) = binlog_position(&mut connection).await;
        for chunk in (0..ROWS).collect::<Vec<_>>().chunks(1000) {
            let rows: Vec<String> = chunk.iter().map(|i| format!("({i}, 'name-{i}', {i}.5)")).collect();
            exec(&mut connection, &format!("INSERT INTO {t} VALUES {}", rows.join(", "))).await;
        }
        let config = config(&t, json!({"binlog.filename": file, "binlog.position": pos}));
        let mut harness = SourceHarness::<MySqlCdcSource>::new(config).await.unwrap();
        let started = Instant::now();
        let read = poll_rows(&mut harness, ROWS).await.len();
        let rate = read as f64 / started.elapsed().as_secs_f64();
        println!(
            "MEASURED mysql-cdc: {read} row changes streamed at {rate:.0} records/s ({PROFILE} build, Debezium envelope, through the harness's JSON converter)"
        );
        harness.close().await.unwrap();
        exec(&mut connection, &format!("DROP TABLE {t}")).await;
        assert_eq!(read, ROWS);
    });
}

/// Polls (reading whatever comes) until the task reports it read everything there is.
async fn poll_until_caught_up(harness: &mut SourceHarness<MySqlCdcSource>) -> Vec<SourceRecord> {
    let started = Instant::now();
    let mut out = Vec::new();
    while harness.lag(0).unwrap().seconds != Some(0.0) && started.elapsed() < Duration::from_secs(30) {
        out.extend(harness.poll().await.unwrap().into_iter().filter(|r| r.topic != "cdc"));
    }
    out
}

#[test]
fn reports_the_snapshot_progress_then_how_far_behind_the_binlog_it_reads() {
    use connect_sdk::lag::SnapshotProgress;
    block_on(async {
        if !binlog_available().await {
            return;
        }
        let t = unique_name("cdc_lag");
        let mut connection = connect().await;
        exec(&mut connection, &format!("CREATE TABLE {t} (id INT PRIMARY KEY, pad TEXT)")).await;
        exec(&mut connection, &format!("INSERT INTO {t} SELECT seq, REPEAT('x', 100) FROM seq_1_to_250")).await;
        let mut harness = SourceHarness::<MySqlCdcSource>::new(config(&t, json!({"max.batch.size": 100}))).await.unwrap();
        let progress = |done, total| Some(SnapshotProgress { rows_done: done, rows_total: total });
        assert_eq!(harness.lag(0).unwrap().snapshot, progress(0, 250), "counted when the snapshot begins");
        assert_eq!(poll_rows(&mut harness, 100).await.len(), 100);
        let lag = harness.lag(0).unwrap();
        assert_eq!(lag.snapshot, progress(100, 250));
        assert_eq!(lag.status_note().as_deref(), Some("reading the initial snapshot: 40 % of 250 rows"));
        assert_eq!(poll_rows(&mut harness, 150).await.len(), 150);
        assert_eq!(harness.lag(0).unwrap().snapshot, progress(250, 250), "read: kept at its total");
        poll_until_caught_up(&mut harness).await;
        assert!(harness.lag(0).unwrap().bytes.is_some(), "the binlog's head was asked for: {:?}", harness.lag(0));

        // One transaction of 1,000 rows of 1 KB, written 6 s before the task reads its first
        // 100: it is that far behind, by most of a megabyte of binlog.
        exec(&mut connection, &format!("INSERT INTO {t} SELECT seq, REPEAT('y', 1000) FROM seq_1001_to_2000")).await;
        std::thread::sleep(Duration::from_secs(6));
        let first = poll_rows(&mut harness, 1).await;
        assert!(!first.is_empty() && first.len() <= 200, "{}", first.len());
        let lag = harness.lag(0).unwrap();
        assert!(lag.seconds.unwrap() >= 5.0, "seconds behind the change read: {lag:?}");
        assert!(lag.bytes.unwrap() > 500_000, "bytes of binlog not read yet: {lag:?}");
        let rest = poll_until_caught_up(&mut harness).await;
        assert_eq!(first.len() + rest.len(), 1000, "every row of the transaction, then caught up");
        harness.close().await.unwrap();
        exec(&mut connection, &format!("DROP TABLE {t}")).await;
    });
}
