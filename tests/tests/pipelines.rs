//! The scenarios the connectors exist for, end to end through a worker process, a real
//! RocketMQ and the machine's real databases and brokers: change data capture from MariaDB
//! into PostgreSQL and from PostgreSQL into MariaDB (exactly once across worker kills), and a migration from RabbitMQ that
//! loses nothing across a worker crash, and a sink whose Redis goes away and comes back
//! recovering by itself (automatic restarts) with nothing lost or written twice.
//! Each test prints what it measured (`MEASURED ...`, see with `--nocapture`).

mod fixture;

use std::time::{Duration, Instant};

use connect_jdbc::db::{Connection, ConnectionSettings, SqlValue};
use connect_sdk::testing::service_available;
use fixture::sequence::create;
use fixture::{Broker, WorkerProcess};
use serde_json::{Value as Json, json};

const MYSQL: &str = "mysql://root@127.0.0.1:3306/test";
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

async fn connect(url: &str) -> Connection {
    let settings = ConnectionSettings { url: url.to_owned(), user: None, password: None, attempts: 3, backoff: Duration::from_secs(1) };
    settings.connect().await.unwrap_or_else(|e| panic!("{url}: {}", e.trace()))
}

async fn exec(connection: &mut Connection, sql: &str) {
    connection.batch(sql).await.unwrap_or_else(|e| panic!("{sql}: {}", e.trace()));
}

async fn rows(connection: &mut Connection, sql: &str) -> Vec<Vec<SqlValue>> {
    match connection.query(sql, &[]).await {
        Ok(result) => result.rows,
        Err(_) => Vec::new(), // the target table is created by the sink's first write
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_inserts_updates_and_deletes_reach_postgres_through_rocketmq() {
    copy_mysql_to_postgres("row", json!({})).await;
}

/// The same with Debezium's envelope and its unwrap transform, named by its Debezium class.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debezium_envelopes_unwrapped_reach_postgres_as_rows() {
    let unwrap = json!({"transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState"});
    copy_mysql_to_postgres("debezium", unwrap).await;
}

/// MariaDB → mysql-cdc-source (`envelope`) → RocketMQ → jdbc-sink (with `sink_extra` keys) →
/// PostgreSQL: the copy equals the table after inserts, updates and deletes during the snapshot.
async fn copy_mysql_to_postgres(envelope: &str, sink_extra: Json) {
    if !service_available("MariaDB", "127.0.0.1:3306") || !service_available("PostgreSQL", "127.0.0.1:5432") {
        return;
    }
    let id = format!("{}_{envelope}", std::process::id());
    let (source_table, target_table) = (format!("e2e_orders_{id}"), format!("e2e_orders_copy_{id}"));
    let mut mysql = connect(MYSQL).await;
    let mut postgres = connect(POSTGRES).await;
    exec(&mut mysql, &format!("DROP TABLE IF EXISTS {source_table}")).await;
    exec(&mut postgres, &format!("DROP TABLE IF EXISTS {target_table}")).await;
    exec(
        &mut mysql,
        &format!("CREATE TABLE {source_table} (id INT PRIMARY KEY, name VARCHAR(64), price DECIMAL(10,2), updated DATETIME(6))"),
    )
    .await;
    const INITIAL: usize = 500;
    let values: Vec<String> = (0..INITIAL).map(|i| format!("({i}, 'order-{i}', {i}.25, '2024-05-01 12:00:00.{i:06}')")).collect();
    exec(&mut mysql, &format!("INSERT INTO {source_table} VALUES {}", values.join(", "))).await;

    let broker = Broker::start(&format!("e2e-cdc-{envelope}")).await;
    let worker = WorkerProcess::start(&format!("e2e-cdc-{envelope}"), &broker.namesrv(), &broker.dir);
    let json_converters = json!({"key.converter": "json", "value.converter": "json"});
    let prefix = format!("e2e{}", id.replace('_', "-"));
    let mut source = json!({"connector.class": "mysql-cdc-source", "connection.url": MYSQL, "topic.prefix": prefix,
        "table.include.list": format!("test\\.{source_table}"), "envelope": envelope});
    let mut sink = json!({"connector.class": "jdbc-sink", "connection.url": POSTGRES, "topics": format!("{prefix}-test-{source_table}"),
        "table.name.format": target_table, "insert.mode": "upsert", "pk.mode": "record_key", "delete.enabled": true, "auto.create": true});
    sink.as_object_mut().unwrap().extend(sink_extra.as_object().unwrap().clone());
    for config in [&mut source, &mut sink] {
        config.as_object_mut().unwrap().extend(json_converters.as_object().unwrap().clone());
    }
    let started = Instant::now();
    create(&worker, "orders-cdc", source);
    create(&worker, "orders-copy", sink);

    // While the snapshot flows, the table keeps changing: inserts, updates, deletes, and one
    // transaction doing all three.
    for i in INITIAL..INITIAL + 200 {
        exec(&mut mysql, &format!("INSERT INTO {source_table} VALUES ({i}, 'order-{i}', {i}.50, NOW(6))")).await;
    }
    exec(&mut mysql, &format!("UPDATE {source_table} SET name = CONCAT(name, '-paid'), price = price * 2 WHERE id % 7 = 0")).await;
    exec(&mut mysql, &format!("DELETE FROM {source_table} WHERE id % 11 = 0")).await;
    exec(
        &mut mysql,
        &format!(
            "START TRANSACTION; INSERT INTO {source_table} VALUES (100000, 'late', 1.00, NOW(6)); UPDATE {source_table} SET name = 'changed' WHERE id = 1; \
             DELETE FROM {source_table} WHERE id = 2; COMMIT"
        ),
    )
    .await;
    let changed_at = Instant::now();

    let select = |table: &str| format!("SELECT id, name, price, updated FROM {table} ORDER BY id");
    let expected = rows(&mut mysql, &select(&source_table)).await;
    let deadline = Instant::now() + Duration::from_secs(180);
    let (converged, last) = loop {
        let copied = rows(&mut postgres, &select(&target_table)).await;
        if copied == expected || Instant::now() > deadline {
            break (copied == expected, copied);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let status = worker.call("GET", "/connectors/orders-cdc/status", None).1;
    assert!(
        converged,
        "the PostgreSQL copy differs from the MariaDB table: {} rows vs {}; first difference {:?}\nsource status {status}\n{}",
        last.len(),
        expected.len(),
        expected.iter().zip(&last).find(|(a, b)| a != b),
        worker.log_tail()
    );
    println!(
        "MEASURED cdc ({envelope}) → jdbc: {} rows ({INITIAL} snapshotted, then 200 inserts, {} updates, {} deletes) equal in PostgreSQL {:?} after the connectors \
         were created, {:?} after the last change",
        expected.len(),
        (INITIAL + 200) / 7 + 1,
        (INITIAL + 200) / 11 + 1,
        started.elapsed(),
        changed_at.elapsed()
    );
    // The source's freshness, in /metrics: its snapshot read whole, how far behind the binlog
    // it is (caught up: 0 s), and the binlog's bytes not read yet.
    let task = "{connector=\"orders-cdc\",task=\"0\"}";
    // (The snapshot began while the test inserted: it holds the 500 rows and maybe some more.)
    let snapshot_rows = fixture::sequence::metric(&worker, &format!("connect_source_snapshot_rows_done{task}"));
    assert!(snapshot_rows >= INITIAL as f64, "{snapshot_rows}");
    assert_eq!(fixture::sequence::metric(&worker, &format!("connect_source_snapshot_rows_total{task}")), snapshot_rows);
    let caught_up = fixture::time_until(Duration::from_secs(30), Duration::from_millis(200), || {
        fixture::sequence::metric(&worker, &format!("connect_source_lag_seconds{task}")) == 0.0
    })
    .await;
    assert!(caught_up.is_some(), "connect_source_lag_seconds stays above 0 once every change is copied");
    assert!(fixture::sequence::metric(&worker, &format!("connect_source_lag_bytes{task}")) >= 0.0, "the binlog's head was measured");
    drop(worker);
    broker.shutdown().await;
    exec(&mut mysql, &format!("DROP TABLE {source_table}")).await;
    exec(&mut postgres, &format!("DROP TABLE IF EXISTS {target_table}")).await;
}

/// A change-data-capture pipeline's two ends: the database captured and where its changes go.
struct Capture {
    /// Names the test's tables, connectors and broker.
    name: &'static str,
    source_url: &'static str,
    target: Target,
    /// The source connector's keys for capturing `table` under `prefix`, and the topic its
    /// changes go to.
    source: fn(prefix: &str, table: &str) -> (Json, String),
}

/// Where a capture test's changes are applied.
#[derive(Clone, Copy)]
enum Target {
    /// jdbc-sink appends each change to a table of this database (and keeps its positions there).
    Table(&'static str),
    /// object-store-sink writes each change to Parquet files in a directory.
    ParquetFiles,
}

fn mysql_source(prefix: &str, table: &str) -> (Json, String) {
    let config = json!({"connector.class": "mysql-cdc-source", "connection.url": MYSQL, "topic.prefix": prefix,
        "table.include.list": format!("test\\.{table}")});
    (config, format!("{prefix}-test-{table}"))
}

fn postgres_source(prefix: &str, table: &str) -> (Json, String) {
    let config = json!({"connector.class": "postgres-cdc-source", "connection.url": POSTGRES, "topic.prefix": prefix,
        "table.include.list": format!("public\\.{table}"), "slot.name": table, "publication.name": table,
        "publication.autocreate.mode": "filtered"});
    (config, format!("{prefix}-public-{table}"))
}

/// Every change of a MariaDB table is applied exactly once to an append-only PostgreSQL log
/// of changes (plain inserts: a duplicate would show), across five `kill -9`s of the worker
/// at seeded random moments, each followed by a new worker taking the units over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_changes_are_applied_to_postgres_exactly_once_across_worker_kills() {
    let capture = Capture { name: "mysql", source_url: MYSQL, target: Target::Table(POSTGRES), source: mysql_source };
    changes_are_applied_exactly_once_across_worker_kills(&capture).await;
}

/// The same from PostgreSQL (logical replication) to a MariaDB log of changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_changes_are_applied_to_mariadb_exactly_once_across_worker_kills() {
    let capture = Capture { name: "postgres", source_url: POSTGRES, target: Target::Table(MYSQL), source: postgres_source };
    changes_are_applied_exactly_once_across_worker_kills(&capture).await;
}

/// PostgreSQL changes → postgres-cdc-source → RocketMQ → object-store-sink (Parquet): the
/// files, read back with a Parquet reader, hold the table's history, each version of each row
/// once, across five worker kills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_changes_land_in_parquet_files_exactly_once_across_worker_kills() {
    let capture = Capture { name: "lake", source_url: POSTGRES, target: Target::ParquetFiles, source: postgres_source };
    changes_are_applied_exactly_once_across_worker_kills(&capture).await;
}

/// What a capture test's target holds: how many times each (id, version) was applied.
struct Applied {
    target: Target,
    database: Option<Connection>,
    table: String,
    dir: std::path::PathBuf,
}

impl Applied {
    async fn counts(&mut self) -> std::collections::BTreeMap<(i64, i64), usize> {
        let mut counts = std::collections::BTreeMap::new();
        match (self.target, self.database.as_mut()) {
            (Target::Table(_), Some(database)) => {
                let sql = format!("SELECT id, version, COUNT(*) FROM {} GROUP BY id, version", self.table);
                for row in rows(database, &sql).await {
                    let (Some(id), Some(version), Some(count)) = (row[0].as_i64(), row[1].as_i64(), row[2].as_i64()) else { continue };
                    counts.insert((id, version), count as usize);
                }
            }
            _ => {
                for (id, version) in parquet_rows(&self.dir) {
                    *counts.entry((id, version)).or_default() += 1;
                }
            }
        }
        counts
    }
}

/// The (id, version) of every row of every Parquet file under `dir`.
fn parquet_rows(dir: &std::path::Path) -> Vec<(i64, i64)> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;
    let mut out = Vec::new();
    for batch in parquet_batches(dir) {
        let (ids, versions) = (batch.column_by_name("id").unwrap(), batch.column_by_name("version").unwrap());
        let (ids, versions) = (ids.as_primitive::<Int32Type>(), versions.as_primitive::<Int32Type>());
        out.extend((0..batch.num_rows()).map(|i| (i64::from(ids.value(i)), i64::from(versions.value(i)))));
    }
    out
}

/// Every record batch of every Parquet file under `dir`.
fn parquet_batches(dir: &std::path::Path) -> Vec<arrow_array::RecordBatch> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                let file = std::fs::File::open(&path).unwrap();
                let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
                out.extend(reader.map(Result::unwrap));
            }
        }
    }
    out
}

async fn changes_are_applied_exactly_once_across_worker_kills(capture: &Capture) {
    if !service_available("MariaDB", "127.0.0.1:3306") || !service_available("PostgreSQL", "127.0.0.1:5432") {
        return;
    }
    const KILLS: usize = 5;
    const ROWS: i64 = 200;
    let name = capture.name;
    let mut moments = fixture::KillMoments::new(&format!("{name} cdc kill test"));
    let seed = moments.seed;
    let id = std::process::id();
    let (source_table, changes, offsets) =
        (format!("eos_{name}_orders_{id}"), format!("eos_{name}_changes_{id}"), format!("eos_{name}_offsets_{id}"));
    let mut source_db = connect(capture.source_url).await;
    exec(&mut source_db, &format!("DROP TABLE IF EXISTS {source_table}")).await;
    let target_db = match capture.target {
        Target::Table(url) => {
            let mut target_db = connect(url).await;
            for table in [&changes, &offsets] {
                exec(&mut target_db, &format!("DROP TABLE IF EXISTS {table}")).await;
            }
            Some(target_db)
        }
        Target::ParquetFiles => None,
    };
    exec(&mut source_db, &format!("CREATE TABLE {source_table} (id INT PRIMARY KEY, version INT NOT NULL)")).await;
    let initial: Vec<String> = (0..ROWS).map(|i| format!("({i}, 0)")).collect();
    exec(&mut source_db, &format!("INSERT INTO {source_table} VALUES {}", initial.join(", "))).await;

    let broker = Broker::start(&format!("eos-cdc-{name}")).await;
    let mut applied = Applied { target: capture.target, database: target_db, table: changes.clone(), dir: broker.dir.join("lake") };
    let mut worker = WorkerProcess::start(&format!("eos-cdc-{name}"), &broker.namesrv(), &broker.dir);
    let json_converters = json!({"key.converter": "json", "value.converter": "json"});
    let (mut source, topic) = (capture.source)(&format!("eos{name}{id}"), &source_table);
    source["envelope"] = json!("row");
    let mut sink = match capture.target {
        Target::Table(url) => json!({"connector.class": "jdbc-sink", "connection.url": url, "topics": topic,
            "table.name.format": changes, "insert.mode": "insert", "auto.create": true, "offsets.table": offsets}),
        Target::ParquetFiles => json!({"connector.class": "object-store-sink", "topics": topic, "store.url": applied.dir,
            "format": "parquet", "flush.size": 50, "rotate.schedule.interval.ms": 1000}),
    };
    for config in [&mut source, &mut sink] {
        config.as_object_mut().unwrap().extend(json_converters.as_object().unwrap().clone());
    }
    create(&worker, "changes-cdc", source);
    create(&worker, "changes-log", sink);
    let deadline = Instant::now() + Duration::from_secs(180);
    while (applied.counts().await.len() as i64) < ROWS {
        assert!(Instant::now() < deadline, "the snapshot did not arrive:\n{}", worker.log_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each round bumps the version of every row in small transactions while the worker runs,
    // and kills it at a random moment once the round's changes are being applied; a new
    // worker takes over.
    let mut versions = 0;
    for kill in 0..KILLS {
        versions += 1;
        let before = applied.counts().await.len();
        let (table, url) = (source_table.clone(), capture.source_url);
        let updating = tokio::spawn(async move {
            let mut source_db = connect(url).await;
            for chunk in 0..40 {
                let (low, high) = (chunk * ROWS / 40, (chunk + 1) * ROWS / 40);
                exec(&mut source_db, &format!("UPDATE {table} SET version = version + 1 WHERE id >= {low} AND id < {high}")).await;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        while applied.counts().await.len() <= before {
            assert!(Instant::now() < deadline, "round {versions} is not applied:\n{}", worker.log_tail());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let delay = moments.below(800);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        worker.kill();
        println!("kill {kill}: {delay} ms after round {versions} began to apply, {} changes applied", applied.counts().await.len());
        updating.await.unwrap();
        worker = WorkerProcess::start(&format!("eos-cdc-{name}"), &broker.namesrv(), &broker.dir);
    }

    let expected = (ROWS * (versions + 1)) as usize;
    let deadline = Instant::now() + Duration::from_secs(180);
    while applied.counts().await.len() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Anything still in flight lands: the counts stop changing.
    let counts = fixture::settled(Duration::from_secs(60), Duration::from_secs(2), async || applied.counts().await).await;
    let twice: Vec<(&(i64, i64), &usize)> = counts.iter().filter(|(_, count)| **count != 1).collect();
    let distinct = counts.len();
    println!("MEASURED {name} cdc across {KILLS} kills: {expected} changes, {distinct} applied, {} applied more than once", twice.len());
    let status = worker.call("GET", "/connectors/changes-cdc/status", None).1;
    assert_eq!(distinct, expected, "seed {seed}: changes missing; source status {status}\n{}", worker.log_tail());
    assert!(twice.is_empty(), "seed {seed}: changes applied twice: {:?}", &twice[..twice.len().min(5)]);
    drop(worker);
    broker.shutdown().await;
    exec(&mut source_db, &format!("DROP TABLE {source_table}")).await;
    if capture.source_url == POSTGRES {
        drop_slot_and_publication(&mut source_db, &source_table).await;
    }
    if let Some(target_db) = applied.database.as_mut() {
        for table in [&changes, &offsets] {
            exec(target_db, &format!("DROP TABLE IF EXISTS {table}")).await;
        }
    }
}

/// Drops what a postgres-cdc-source left behind: its slot (once no session holds it) and publication.
async fn drop_slot_and_publication(postgres: &mut Connection, name: &str) {
    exec(postgres, &format!("DROP PUBLICATION IF EXISTS {name}")).await;
    for _ in 0..60 {
        let active = rows(postgres, &format!("SELECT 1 FROM pg_replication_slots WHERE slot_name = '{name}' AND active")).await;
        if active.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    exec(postgres, &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{name}'")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rabbitmq_queue_migrates_to_rocketmq_losing_nothing_across_a_worker_crash() {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions};
    use lapin::{BasicProperties, Connection as Amqp, ConnectionProperties};
    if !service_available("RabbitMQ", "127.0.0.1:5672") {
        return;
    }
    const URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let queue = format!("e2e-migration-{}", std::process::id());
    let amqp = Amqp::connect(URI, ConnectionProperties::default()).await.unwrap();
    let channel = amqp.create_channel().await.unwrap();
    channel.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    channel.queue_declare(queue.as_str().into(), durable, Default::default()).await.unwrap();
    let publish = async |range: std::ops::Range<usize>| {
        let mut confirms = Vec::new();
        for i in range {
            let body = format!("message-{i}");
            let properties = BasicProperties::default().with_delivery_mode(2);
            let confirm =
                channel.basic_publish("".into(), queue.as_str().into(), BasicPublishOptions::default(), body.as_bytes(), properties);
            confirms.push(confirm.await.unwrap());
        }
        for confirm in confirms {
            confirm.await.unwrap();
        }
    };
    const BEFORE: usize = 20_000;
    const DURING: usize = 5_000;
    publish(0..BEFORE).await;

    let broker = Broker::start("e2e-rabbitmq").await;
    let output = broker.dir.join("migrated.txt");
    let mut worker = WorkerProcess::start("e2e-rabbitmq", &broker.namesrv(), &broker.dir);
    create(
        &worker,
        "from-rabbitmq",
        json!({"connector.class": "rabbitmq-source", "rabbitmq.uri": URI, "rabbitmq.queue": queue, "topic": "migrated",
            "rabbitmq.prefetch.count": 500, "value.converter": "bytes"}),
    );
    create(&worker, "to-file", json!({"connector.class": "file-sink", "topics": "migrated", "file": output, "value.converter": "string"}));
    let started = Instant::now();
    assert!(fixture::wait_until(Duration::from_secs(120), || fixture::lines(&output).len() >= 5_000).await, "{}", worker.log_tail());

    // The worker dies mid-migration while producers keep publishing to RabbitMQ.
    worker.kill();
    let lines_at_crash = fixture::lines(&output).len();
    publish(BEFORE..BEFORE + DURING).await;
    let worker = WorkerProcess::start("e2e-rabbitmq", &broker.namesrv(), &broker.dir);
    let total = BEFORE + DURING;
    let complete = || {
        let mut seen = vec![0u32; total];
        for line in fixture::lines(&output) {
            if let Some(i) = line.strip_prefix("message-").and_then(|n| n.parse::<usize>().ok()).filter(|i| *i < total) {
                seen[i] += 1;
            }
        }
        seen
    };
    let arrived = fixture::wait_until(Duration::from_secs(180), || complete().iter().all(|&c| c > 0)).await;
    let seen = complete();
    let missing = seen.iter().filter(|&&c| c == 0).count();
    let duplicated: u32 = seen.iter().map(|&c| c.saturating_sub(1)).sum();
    println!(
        "MEASURED rabbitmq → rocketmq → file: {total} messages ({DURING} published while the worker was down), killed after {lines_at_crash} \
         lines; {missing} lost, {duplicated} duplicated; all there {:?} after the connectors were created",
        started.elapsed()
    );
    assert!(arrived && missing == 0, "{missing} messages lost\n{}", worker.log_tail());
    drop(worker);
    broker.shutdown().await;
    let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
}

/// A private `redis-server` on a free port, its data in an append-only file under `dir` (so a
/// restart keeps what was written); stopped (SIGTERM) when dropped.
struct PrivateRedis {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl PrivateRedis {
    fn start(port: u16, dir: &std::path::Path) -> PrivateRedis {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let redis = PrivateRedis { child, port, dir: dir.to_owned() };
        let deadline = Instant::now() + Duration::from_secs(30);
        while redis.cli(&["PING"]).trim() != "PONG" {
            assert!(Instant::now() < deadline, "redis-server on {port} did not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    fn cli(&self, args: &[&str]) -> String {
        let output = std::process::Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output();
        output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }

    /// SIGTERM (Redis writes its file and exits), and waits.
    fn stop(mut self) -> (u16, std::path::PathBuf) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        (self.port, self.dir.clone())
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_whose_redis_goes_away_and_comes_back_recovers_by_itself_losing_nothing() {
    if std::process::Command::new("redis-server").arg("--version").output().is_err() {
        assert!(std::env::var("CI").is_err(), "redis-server is not installed (CI installs it with .ci/services)");
        println!("SKIPPED: redis-server is not installed");
        return;
    }
    const LINES: usize = 4_000;
    let broker = Broker::start("e2e-redis-restart").await;
    let redis_dir = broker.dir.join("redis");
    std::fs::create_dir_all(&redis_dir).unwrap();
    let redis = PrivateRedis::start(connect_runtime::embedded::free_port().unwrap(), &redis_dir);
    let input = broker.dir.join("input.txt");
    let write = |range: std::ops::Range<usize>| {
        use std::io::Write;
        let text: String = range.map(|i| format!("line-{i}\n")).collect();
        std::fs::OpenOptions::new().create(true).append(true).open(&input).unwrap().write_all(text.as_bytes()).unwrap();
    };
    write(0..LINES / 2);
    let worker = WorkerProcess::start("e2e-redis-restart", &broker.namesrv(), &broker.dir);
    create(&worker, "lines", json!({"connector.class": "file-source", "file": input, "topic": "lines", "value.converter": "string"}));
    create(
        &worker,
        "to-redis",
        json!({"connector.class": "redis-sink", "topics": "lines", "redis.uri": format!("redis://127.0.0.1:{}", redis.port),
            "redis.mode": "xadd", "redis.stream": "copied", "value.converter": "string",
            "errors.restart.backoff.ms": 200, "errors.restart.backoff.max.ms": 1000, "errors.restart.max.attempts": 100}),
    );
    let stream_len = |redis: &PrivateRedis| redis.cli(&["XLEN", "copied"]).trim().parse::<usize>().unwrap_or(0);
    assert!(fixture::wait_until(Duration::from_secs(120), || stream_len(&redis) >= LINES / 4).await, "{}", worker.log_tail());

    // Redis goes away while lines keep coming; the sink fails, and keeps restarting by itself.
    let (port, dir) = redis.stop();
    write(LINES / 2..LINES);
    let task_status = || worker.call("GET", "/connectors/to-redis/status", None).1["tasks"][0].clone();
    let restarted = fixture::wait_until(Duration::from_secs(60), || task_status()["restarts"].as_u64().unwrap_or(0) >= 2).await;
    assert!(restarted, "no automatic restarts while Redis was away: {}\n{}", task_status(), worker.log_tail());
    let redis = PrivateRedis::start(port, &dir);
    let arrived = fixture::wait_until(Duration::from_secs(120), || stream_len(&redis) >= LINES).await;
    fixture::settled(Duration::from_secs(60), Duration::from_secs(2), async || stream_len(&redis)).await;
    let entries = redis.cli(&["XRANGE", "copied", "-", "+"]);
    let mut seen = vec![0u32; LINES];
    for i in entries.lines().filter_map(|l| l.trim().strip_prefix("line-")).filter_map(|n| n.parse::<usize>().ok()) {
        if i < LINES {
            seen[i] += 1;
        }
    }
    let missing = seen.iter().filter(|&&c| c == 0).count();
    let duplicated: u32 = seen.iter().map(|&c| c.saturating_sub(1)).sum();
    let status = task_status();
    println!(
        "MEASURED redis-sink across a Redis restart: {LINES} lines, {} automatic restarts, {missing} lost, {duplicated} duplicated; status {status}",
        status["restarts"]
    );
    assert!(arrived && missing == 0 && duplicated == 0, "{missing} lost, {duplicated} duplicated\n{}", worker.log_tail());
    assert_eq!(status["state"], "RUNNING", "{status}");
    assert!(status["last_error"].as_str().is_some_and(|e| !e.is_empty()), "the status keeps the failure it recovered from: {status}");
    let (_, metrics) = fixture::http_text(worker.rest, "GET", "/metrics", None);
    let restarts_metric = metrics
        .lines()
        .find_map(|l| l.strip_prefix("connect_task_restarts_total{connector=\"to-redis\",task=\"0\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert!(restarts_metric.is_some_and(|n| n >= 2.0), "connect_task_restarts_total: {restarts_metric:?}");
    drop(worker);
    drop(redis);
    broker.shutdown().await;
}

/// PostgreSQL → jdbc-source → `avro` (schemas in the worker's own registry) → RocketMQ →
/// jdbc-sink → MariaDB. A column added to the source table mid-stream registers an evolved
/// schema (BACKWARD: the new column is optional) and the target table gains the column; a
/// column whose type changes incompatibly is refused: the source task fails with the
/// registry's 409 in its status, and nothing of the refused schema reaches the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_records_evolve_from_postgres_to_mariadb_through_the_worker_s_registry() {
    if !service_available("MariaDB", "127.0.0.1:3306") || !service_available("PostgreSQL", "127.0.0.1:5432") {
        return;
    }
    let id = std::process::id();
    let (source_table, target_table) = (format!("avro_orders_{id}"), format!("avro_orders_copy_{id}"));
    let mut postgres = connect(POSTGRES).await;
    let mut mysql = connect(MYSQL).await;
    exec(&mut postgres, &format!("DROP TABLE IF EXISTS {source_table}")).await;
    exec(&mut mysql, &format!("DROP TABLE IF EXISTS {target_table}")).await;
    exec(&mut postgres, &format!("CREATE TABLE {source_table} (id SERIAL PRIMARY KEY, qty INT NOT NULL, price NUMERIC(10,2))")).await;
    exec(&mut postgres, &format!("INSERT INTO {source_table} (qty, price) VALUES (1, 1.50), (2, 2.50), (3, 3.50)")).await;

    let broker = Broker::start("avro-evolve").await;
    let worker = WorkerProcess::start("avro-evolve", &broker.namesrv(), &broker.dir);
    let prefix = format!("avro{id}-");
    let topic = format!("{prefix}{source_table}");
    create(
        &worker,
        "orders-avro",
        json!({"connector.class": "jdbc-source", "connection.url": POSTGRES, "mode": "incrementing", "incrementing.column.name": "id",
            "table.whitelist": source_table, "topic.prefix": prefix, "poll.interval.ms": 200, "value.converter": "avro"}),
    );
    create(
        &worker,
        "orders-copy",
        json!({"connector.class": "jdbc-sink", "connection.url": MYSQL, "topics": topic, "table.name.format": target_table,
            "insert.mode": "insert", "auto.create": true, "auto.evolve": true, "value.converter": "avro"}),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while rows(&mut mysql, &format!("SELECT id FROM {target_table}")).await.len() < 3 {
        assert!(Instant::now() < deadline, "3 rows copied:\n{}", worker.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A column added mid-stream: a new (compatible) version, and the target table evolves.
    exec(&mut postgres, &format!("ALTER TABLE {source_table} ADD COLUMN note TEXT")).await;
    exec(&mut postgres, &format!("INSERT INTO {source_table} (qty, price, note) VALUES (4, 4.50, 'four'), (5, 5.50, NULL)")).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let notes = rows(&mut mysql, &format!("SELECT id, note FROM {target_table} ORDER BY id")).await;
        if notes.len() == 5 {
            assert_eq!(notes[3][1], SqlValue::Text("four".into()), "{notes:?}");
            assert_eq!(notes[4][1], SqlValue::Null, "{notes:?}");
            break;
        }
        assert!(Instant::now() < deadline, "5 rows with the new column:\n{}", worker.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let subject = format!("/registry/subjects/{topic}-value/versions");
    assert_eq!(worker.call("GET", &subject, None).1, json!([1, 2]), "the evolved schema is version 2");
    let (_, latest) = worker.call("GET", &format!("{subject}/latest"), None);
    assert!(latest["schema"].as_str().unwrap().contains("\"note\""), "{latest}");

    // An incompatible change (an int column becomes text): refused, the source task says why.
    exec(&mut postgres, &format!("ALTER TABLE {source_table} ALTER COLUMN qty TYPE TEXT USING qty::text")).await;
    exec(&mut postgres, &format!("INSERT INTO {source_table} (qty, price) VALUES ('six', 6.50)")).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let trace = loop {
        let (_, status) = worker.call("GET", "/connectors/orders-avro/status", None);
        let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
        if status["tasks"][0]["state"] == "FAILED" && trace.contains("409") {
            break trace.to_owned();
        }
        assert!(Instant::now() < deadline, "the source fails on the incompatible schema: {status}\n{}", worker.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(trace.contains("409") && trace.contains("/registry") && trace.contains(&format!("{topic}-value")), "{trace}");
    assert!(trace.contains("'qty'"), "the refusal names the changed column: {trace}");
    assert_eq!(worker.call("GET", &subject, None).1, json!([1, 2]), "nothing registered for the refused schema");
    assert_eq!(rows(&mut mysql, &format!("SELECT id FROM {target_table}")).await.len(), 5, "nothing of it copied");
    println!(
        "MEASURED avro evolution: 5 rows copied over 2 schema versions; the incompatible third refused: {}",
        trace.lines().next().unwrap_or_default()
    );
    drop(worker);
    broker.shutdown().await;
    exec(&mut postgres, &format!("DROP TABLE IF EXISTS {source_table}")).await;
    exec(&mut mysql, &format!("DROP TABLE IF EXISTS {target_table}")).await;
}

/// The README's schema'd sample pipeline: `datagen-source` (quickstart `users`, a timestamp
/// field among strings) → `avro` in the worker's registry → RocketMQ → `jdbc-sink` →
/// PostgreSQL, the table created from the schema. Every record arrives, as generated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagen_quickstart_records_reach_postgres_as_rows_through_avro() {
    if !service_available("PostgreSQL", "127.0.0.1:5432") {
        return;
    }
    let id = std::process::id();
    let (topic, table) = (format!("users-avro-{id}"), format!("datagen_users_{id}"));
    let mut postgres = connect(POSTGRES).await;
    exec(&mut postgres, &format!("DROP TABLE IF EXISTS {table}")).await;
    let broker = Broker::start("datagen-avro").await;
    let worker = WorkerProcess::start("datagen-avro", &broker.namesrv(), &broker.dir);
    create(
        &worker,
        "users",
        json!({"connector.class": "datagen-source", "topic": topic, "quickstart": "users", "random.seed": "42",
            "max.records": "50", "records.per.second": "100", "value.converter": "avro"}),
    );
    create(
        &worker,
        "users-table",
        json!({"connector.class": "jdbc-sink", "connection.url": POSTGRES, "topics": topic, "table.name.format": table,
            "insert.mode": "insert", "auto.create": true, "value.converter": "avro"}),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let written = loop {
        let written = rows(&mut postgres, &format!("SELECT userid, regionid, gender FROM {table} ORDER BY registertime")).await;
        if written.len() >= 50 {
            break written;
        }
        assert!(Instant::now() < deadline, "50 users written ({} so far):\n{}", written.len(), worker.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(written.len(), 50, "each record once");
    let schemas = connect_datagen::quickstart::Quickstart::Users.schemas();
    let first = schemas.sample(42, 0, 0).unwrap().value;
    assert_eq!(written[0][0], SqlValue::Text(first.field("userid").and_then(|v| v.as_str()).unwrap().to_owned()), "{written:?}");
    let (_, versions) = worker.call("GET", &format!("/registry/subjects/{topic}-value/versions"), None);
    assert_eq!(versions, json!([1]), "the users schema registered once");
    drop(worker);
    broker.shutdown().await;
    exec(&mut postgres, &format!("DROP TABLE IF EXISTS {table}")).await;
}

/// The README's second sample pipeline: `datagen-source` with an Avro schema of the user's
/// (`schema.string`, bounded by `arg.properties`) → `json-schema` in the worker's registry →
/// RocketMQ → `object-store-sink` writing Parquet. Every record is in a file once, as the
/// seed makes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagen_schema_string_records_land_in_parquet_files_through_json_schema() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    const RECORDS: u64 = 60;
    let schema = r#"{"type": "record", "name": "Order", "namespace": "shop", "fields": [
        {"name": "id", "type": {"type": "long", "arg.properties": {"range": {"min": 1, "max": 1000000000}}}},
        {"name": "region", "type": {"type": "string", "arg.properties": {"options": ["eu", "us", "apac"]}}},
        {"name": "quantity", "type": {"type": "int", "arg.properties": {"range": {"min": 1, "max": 9}}}},
        {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "note", "type": ["null", "string"]}]}"#;
    let broker = Broker::start("datagen-parquet").await;
    let lake = broker.dir.join("lake");
    let worker = WorkerProcess::start("datagen-parquet", &broker.namesrv(), &broker.dir);
    let bad = schema.replace(r#"["eu", "us", "apac"]"#, "[1, 2]");
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(&json!({"name": "bad", "config": {"connector.class": "datagen-source",
        "topic": "orders", "schema.string": bad}})),
    );
    let message = body["message"].as_str().unwrap_or_default();
    assert!(code == 400 && message.contains("schema.string") && message.contains("1 is not a value of type string"), "{code} {body}");
    create(
        &worker,
        "orders",
        json!({"connector.class": "datagen-source", "topic": "orders", "schema.string": schema, "schema.keyfield": "id",
            "random.seed": "7", "max.records": RECORDS.to_string(), "records.per.second": "100", "value.converter": "json-schema"}),
    );
    create(
        &worker,
        "orders-lake",
        json!({"connector.class": "object-store-sink", "topics": "orders", "store.url": lake, "format": "parquet",
            "flush.size": 25, "rotate.schedule.interval.ms": 1000, "value.converter": "json-schema"}),
    );
    let ids = || -> Vec<i64> {
        let batches = parquet_batches(&lake);
        batches.iter().flat_map(|b| b.column_by_name("id").unwrap().as_primitive::<Int64Type>().values().to_vec()).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while (ids().len() as u64) < RECORDS {
        assert!(Instant::now() < deadline, "{} of {RECORDS} records in Parquet files:\n{}", ids().len(), worker.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let generated = connect_datagen::user_schema::UserSchema::parse(schema, Some("id")).unwrap();
    let mut expected: Vec<i64> = (0..RECORDS)
        .map(|n| match generated.sample(7, 0, n).unwrap().key {
            connect_sdk::data::Value::Int64(id) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    let mut written = ids();
    expected.sort_unstable();
    written.sort_unstable();
    assert_eq!(written, expected, "each record once, as seed 7 makes it");
    let columns: Vec<String> = parquet_batches(&lake)[0].schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(columns, ["id", "region", "quantity", "placed_at", "note"]);
    drop(worker);
    broker.shutdown().await;
}
