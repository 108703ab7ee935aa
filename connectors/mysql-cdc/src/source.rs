//! `mysql-cdc-source`: the connector config, and the task that snapshots then streams.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_cdc::{
    self as cdc, ChangeOptions, ChangeRecords, Heartbeats, LagReport, Op, Phase, Reconnects, SnapshotMode, SourceHead, TopicNaming,
};
use connect_jdbc::db::{Connection, ConnectionSettings, Dialect};
use connect_jdbc::filter::TableFilter;
use connect_sdk::config::ConfigErrors;
use connect_sdk::config::groups::{Credentials, Reconnect};
use connect_sdk::data::{Schema, Struct};
use connect_sdk::prelude::*;
use connect_sdk::record::now_millis;

use crate::binlog::{BinlogReader, Change, Position, RowChange, SchemaStatement};
use crate::ddl::{self, TableDdl, TableId};
use crate::history::SchemaHistory;
use crate::schema::{ColumnSpec, TableSchema, TimePrecision, source_schema};
use crate::schema_change::{ChangeType, SchemaChangeSchemas};
use crate::snapshot::{Snapshot, check_binlog, current_position};
use crate::values::from_binlog;

/// Captures row changes of MySQL/MariaDB tables from the binlog (row format): first a
/// consistent snapshot of the captured tables (`op` `r`), then every insert (`c`), update (`u`)
/// and delete (`d`) with the row before and after, into one topic per table,
/// `<topic.prefix>-<database>-<table>`, keyed by the primary key. Each record carries its binlog
/// position (file, position, row, GTID); a restarted task resumes after the last committed
/// record. One task reads the whole server's binlog, in order.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "mysql-cdc-source", aliases = ["io.debezium.connector.mysql.MySqlConnector", "MySqlConnector"],
            task = MySqlCdcTask, split = connect_cdc::one_reader, validate = MySqlCdcSource::check)]
pub struct MySqlCdcSource {
    /// `mysql://host:3306/db` (the database is the default `database.include.list`).
    pub connection_url: String,
    /// `connection.user` needs REPLICATION SLAVE, REPLICATION CLIENT and SELECT.
    #[serde(flatten)]
    pub credentials: Credentials,
    /// `topic.prefix` (also the `source.name` of every record) and `topic.delimiter`.
    #[serde(flatten)]
    pub topics: TopicNaming,
    /// Replica id this connector uses on the server (default: derived from the connector's name).
    #[serde(default)]
    pub database_server_id: Option<u32>,
    /// Databases to capture, regular expressions (default: the URL's database, else all).
    #[serde(default)]
    pub database_include_list: Vec<String>,
    /// Tables to capture, regular expressions on `database.table` (default: all).
    #[serde(default)]
    pub table_include_list: Vec<String>,
    /// Tables not to capture, regular expressions on `database.table`.
    #[serde(default)]
    pub table_exclude_list: Vec<String>,
    /// `snapshot.mode`, `envelope`, `tombstones.on.delete`, `max.batch.size` and `poll.interval.ms`.
    #[serde(flatten)]
    pub changes: ChangeOptions,
    /// With no committed offset, start streaming at this binlog file (with `binlog.position`)
    /// instead of snapshotting or starting now: to replay from a known point, after a restore.
    #[serde(default)]
    pub binlog_filename: Option<String>,
    /// The position in `binlog.filename` to start at (the start of a transaction).
    #[serde(default)]
    pub binlog_position: Option<u64>,
    /// `adaptive` (µs types for columns with more than 3 fractional digits) or `connect`
    /// (Kafka's millisecond types everywhere).
    #[serde(default)]
    pub time_precision_mode: TimePrecision,
    /// Every this many milliseconds without a captured change while the binlog moves on
    /// (changes of other tables), a heartbeat record carries the current position, so the
    /// committed offset keeps up and a restart does not re-read (or miss, once purged) the
    /// binlog of tables it does not capture (0: off).
    #[serde(default)]
    #[schemars(range(max = 604_800_000))]
    pub heartbeat_interval_ms: u64,
    /// Heartbeat records go to `<heartbeat.topics.prefix><topic.delimiter><topic.prefix>`.
    #[serde(default = "default_heartbeat_prefix")]
    #[config(topic_part)]
    pub heartbeat_topics_prefix: String,
    /// `connection.attempts` and `connection.backoff.ms`.
    #[serde(flatten)]
    pub reconnect: Reconnect<5, 2_000>,
}

fn default_heartbeat_prefix() -> String {
    "__debezium-heartbeat".to_owned()
}

impl MySqlCdcSource {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if Dialect::of_url(&self.connection_url) != Some(Dialect::MySql) {
            errors.push("connection.url", "use mysql://host:port/db (or mariadb://)");
        }
        self.topics.check(&mut errors);
        if self.binlog_position.is_some() != self.binlog_filename.is_some() {
            errors.push("binlog.position", "set binlog.filename and binlog.position together");
        }
        if let Err(e) = self.filter() {
            errors.extend_prefixed("", e);
        }
        errors.into_result(())
    }

    fn settings(&self) -> ConnectionSettings {
        ConnectionSettings::new(&self.connection_url, &self.credentials, &self.reconnect)
    }

    fn filter(&self) -> Result<TableFilter, ConfigErrors> {
        let mut databases = self.database_include_list.clone();
        if databases.is_empty()
            && let Some(db) = url_database(&self.connection_url)
        {
            databases.push(regex::escape(&db));
        }
        TableFilter::new("database.include.list", &databases, &self.table_include_list, &self.table_exclude_list)
    }
}

/// The database of `mysql://host/db?options`.
fn url_database(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let path = rest.split_once('/')?.1;
    let db = path.split(['?', '#']).next()?;
    (!db.is_empty()).then(|| db.to_owned())
}

/// Snapshots (when needed), then follows the binlog.
pub struct MySqlCdcTask {
    config: MySqlCdcSource,
    settings: ConnectionSettings,
    filter: TableFilter,
    server_id: u32,
    /// The records of row changes, in the partition of the server.
    changes: ChangeRecords,
    /// For `information_schema` lookups while streaming.
    metadata: Option<Connection>,
    /// The schemas of the tables' definitions now (`None`: the table is gone).
    schemas: HashMap<TableId, Option<Arc<TableSchema>>>,
    /// The captured tables' definitions, changed by the DDL read.
    history: SchemaHistory,
    history_partition: SourcePartition,
    schema_changes: SchemaChangeSchemas,
    /// Whether the snapshot's tables were announced (as schema change records).
    snapshot_announced: bool,
    phase: Phase<Snapshot>,
    /// Where to resume streaming (the last emitted change, or the snapshot's position).
    position: Position,
    reconnects: Reconnects,
    source_schema: Arc<Schema>,
    heartbeats: Heartbeats,
    /// How far behind the server the task is, reported to the worker.
    lag: LagReport,
}

/// A replica id from the connector name, away from the small ids servers are given.
fn server_id_of(name: &str) -> u32 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    10_000 + (hash % 2_000_000_000) as u32
}

fn read_position(offset: &SourceOffset) -> Option<Position> {
    Some(Position {
        file: offset.get_str("file")?.to_owned(),
        pos: offset.get_i64("pos")? as u64,
        rows: offset.get_i64("row").unwrap_or(0) as u64,
    })
}

impl SourceTask for MySqlCdcTask {
    type Config = MySqlCdcSource;

    async fn open(config: MySqlCdcSource, ctx: SourceContext) -> Result<Self> {
        let settings = config.settings();
        let filter = config.filter().map_err(Error::Config)?;
        let partition = SourcePartition::new().with("server", config.topics.topic_prefix.as_str());
        let committed = ctx.offset(&partition);
        let mut metadata = settings.connect().await?;
        check_binlog(&mut metadata).await?;
        let resume = committed.as_ref().filter(|o| o.get("snapshot").and_then(|s| s.as_bool()) != Some(true)).and_then(read_position);
        let start = config.binlog_filename.clone().zip(config.binlog_position).map(|(file, pos)| Position { file, pos, rows: 0 });
        let (phase, position) = match (resume.or(start), config.changes.snapshot_mode) {
            (Some(position), _) => (Phase::Streaming(None), position),
            (None, SnapshotMode::Never) => (Phase::Streaming(None), current_position(&mut metadata).await?),
            (None, SnapshotMode::Initial) => {
                let snapshot = Snapshot::begin(&settings, &config.topics.topic_prefix, &filter, config.time_precision_mode).await?;
                let position = snapshot.position.clone();
                (Phase::Snapshot(Box::new(snapshot)), position)
            }
        };
        let history_partition = SchemaHistory::partition(&config.topics.topic_prefix);
        let history = match &phase {
            Phase::Snapshot(snapshot) => {
                let mut history = SchemaHistory::default();
                for table in snapshot.tables() {
                    history.define(&TableId::new(&table.database, &table.table), &position, Some(table.specs.clone()));
                }
                history
            }
            Phase::Streaming(_) => SchemaHistory::committed(ctx.offset(&history_partition).as_ref(), &position),
        };
        let what = if phase.is_snapshot() { "snapshot, then stream" } else { "stream" };
        connect_sdk::tracing::info!(connector = ctx.connector_name(), file = %position.file, pos = position.pos, rows = position.rows,
            committed = committed.is_some(), "mysql-cdc-source starts: {what} from this binlog position");
        let server_id = config.database_server_id.unwrap_or_else(|| server_id_of(ctx.connector_name()));
        let changes = ChangeRecords::new(partition, &config.topics, &config.changes);
        let heartbeat_topic = format!("{}{}{}", config.heartbeat_topics_prefix, config.topics.topic_delimiter, config.topics.topic_prefix);
        let heartbeats = Heartbeats::new(config.heartbeat_interval_ms, heartbeat_topic, &config.topics.topic_prefix);
        let mut lag = LagReport::new(ctx.clone());
        if let Phase::Snapshot(snapshot) = &phase {
            lag.snapshot_begins(snapshot.rows_total);
        }
        Ok(MySqlCdcTask {
            lag,
            changes,
            heartbeats,
            config,
            settings,
            filter,
            server_id,
            metadata: Some(metadata),
            schemas: HashMap::new(),
            history,
            history_partition,
            schema_changes: SchemaChangeSchemas::new(source_schema()),
            snapshot_announced: false,
            phase,
            position,
            reconnects: Reconnects::default(),
            source_schema: Arc::new(source_schema()),
        })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let result = match &mut self.phase {
            Phase::Snapshot(_) => self.poll_snapshot().await,
            Phase::Streaming(_) => self.poll_binlog().await,
        };
        match result {
            Ok(records) => {
                self.reconnects.succeeded();
                Ok(records)
            }
            Err(error) if self.reconnects.after(&error, self.config.reconnect.connection_attempts) => {
                connect_sdk::tracing::warn!(error = %error.trace(), "mysql-cdc-source lost its connection; reconnecting");
                if let Some(reader) = self.phase.take_reader() {
                    reader.close().await;
                }
                // The reader starts again at the position: what it defined since comes again.
                self.history.rewind(&self.position);
                self.schemas.clear();
                self.metadata = None;
                connect_sdk::tokio::time::sleep(self.config.reconnect.backoff()).await;
                Ok(Vec::new())
            }
            Err(error) => Err(error),
        }
    }

    async fn close(&mut self) -> Result<()> {
        if let Some(reader) = self.phase.take_reader() {
            reader.close().await;
        }
        Ok(())
    }
}

impl MySqlCdcTask {
    async fn poll_snapshot(&mut self) -> Result<Vec<SourceRecord>> {
        if !std::mem::replace(&mut self.snapshot_announced, true) {
            return self.announce_snapshot();
        }
        let Phase::Snapshot(snapshot) = &mut self.phase else { return Ok(Vec::new()) };
        let Some(batch) = snapshot.next_rows(self.config.changes.max_batch_size).await? else {
            return self.phase.end_snapshot().await.map(|()| Vec::new());
        };
        let position = snapshot.position.clone();
        let now = now_millis();
        let mut records = Vec::with_capacity(batch.rows.len());
        let count = batch.rows.len();
        for (i, row) in batch.rows.into_iter().enumerate() {
            let last = batch.last && i + 1 == count;
            let values = row.into_iter().zip(&batch.schema.columns).map(|(v, c)| c.kind.value(v)).collect::<Result<Vec<_>, _>>()?;
            let after = batch.schema.schemas.row(values)?;
            let mut offset = self.offset(&position, None);
            offset.insert("snapshot", !last);
            let source = self.source_info(
                &batch.schema.database,
                Some(&batch.schema.table),
                &position,
                None,
                0,
                now,
                if last { "last" } else { "true" },
                0,
            )?;
            let change = cdc::Change { op: Op::Read, before: None, after: Some(after), source, offset, ts_ms: now };
            records.extend(self.changes.records(&batch.schema.database, &batch.schema.table, &batch.schema.schemas, change)?);
        }
        self.lag.snapshot_read(count as u64, batch.last);
        if batch.last {
            self.phase.end_snapshot().await?;
        }
        Ok(records)
    }

    /// The snapshot's tables as schema change records: the definitions the history starts
    /// with, committed before their rows.
    fn announce_snapshot(&self) -> Result<Vec<SourceRecord>> {
        let Phase::Snapshot(snapshot) = &self.phase else { return Ok(Vec::new()) };
        let now = now_millis();
        let tables = snapshot.tables().iter().map(|t| TableId::new(&t.database, &t.table));
        tables
            .map(|id| self.schema_record(&id.database, None, &snapshot.position, 0, now, "true", &[(ChangeType::Create, id.clone())]))
            .collect()
    }

    async fn poll_binlog(&mut self) -> Result<Vec<SourceRecord>> {
        let Phase::Streaming(reader) = &mut self.phase else { return Ok(Vec::new()) };
        let reader = match reader {
            Some(reader) => reader,
            None => reader.insert(Box::new(BinlogReader::open(&self.settings, self.server_id, &self.position).await?)),
        };
        let deadline = Instant::now() + Duration::from_millis(self.config.changes.poll_interval_ms);
        let (mut changes, mut rows, mut drained) = (Vec::new(), 0, false);
        while rows < self.config.changes.max_batch_size {
            // Once something arrived, only what is already there joins the batch.
            let wait = if changes.is_empty() { deadline.saturating_duration_since(Instant::now()) } else { Duration::from_millis(5) };
            if wait.is_zero() {
                break;
            }
            match reader.next(wait).await? {
                None => {
                    drained = true;
                    break;
                }
                Some(Change::Rows(mut batch)) => {
                    batch.retain(|r| self.filter.admits(&r.database, &r.table));
                    rows += batch.len();
                    changes.push(Change::Rows(batch));
                }
                Some(statement @ Change::SchemaChange(_)) => changes.push(statement),
            }
        }
        self.lag.streamed(reader.last_event_ms(), drained);
        if self.lag.head_due() {
            let files = self.binary_logs().await;
            let bytes = match (&self.phase, files) {
                (Phase::Streaming(Some(reader)), Some(files)) => reader.bytes_behind(&files),
                _ => None,
            };
            self.lag.bytes_behind(bytes);
        }
        let mut records = Vec::with_capacity(rows);
        for change in changes {
            match change {
                Change::Rows(batch) => {
                    for change in batch {
                        self.position = change.resume.clone();
                        records.extend(self.binlog_records(change).await?);
                    }
                }
                Change::SchemaChange(statement) => records.extend(self.schema_change(statement).await?),
            }
        }
        if !records.is_empty() {
            self.heartbeats.emitted();
        } else if let Some(heartbeat) = self.heartbeat()? {
            records.push(heartbeat);
        }
        Ok(records)
    }

    /// The server's binlog files and their sizes, in order (`None`, logged, when it cannot
    /// tell: the lag is then unknown, nothing else is affected).
    async fn binary_logs(&mut self) -> Option<Vec<(String, u64)>> {
        let metadata = match self.metadata.as_mut() {
            Some(metadata) => metadata,
            None => self.metadata.insert(self.settings.connect().await.ok()?),
        };
        match metadata.query("SHOW BINARY LOGS", &[]).await {
            Ok(result) => Some(
                result
                    .rows
                    .into_iter()
                    .filter_map(|row| {
                        let mut cells = row.into_iter();
                        let name = cells.next()?.into_text()?;
                        let size = cells.next()?;
                        let size = size.as_i64().or_else(|| size.into_text()?.parse().ok())?;
                        Some((name, u64::try_from(size).ok()?))
                    })
                    .collect(),
            ),
            Err(error) => {
                connect_sdk::tracing::debug!(%error, "mysql-cdc-source cannot list the binlog files; its lag in bytes is unknown");
                None
            }
        }
    }

    /// A heartbeat record at the reader's position, when one is due and the binlog moved on.
    fn heartbeat(&mut self) -> Result<Option<SourceRecord>> {
        if !self.heartbeats.due() {
            return Ok(None);
        }
        let Phase::Streaming(Some(reader)) = &self.phase else { return Ok(None) };
        let Some(position) = reader.between_transactions().filter(|p| *p != self.position) else { return Ok(None) };
        self.position = position.clone();
        self.heartbeats.record(self.changes.partition(), self.offset(&position, None)).map(Some)
    }

    /// The schema of a table's rows now: from the history, or `information_schema` when the
    /// table is first seen (the history then starts with that definition).
    async fn schema(&mut self, database: &str, table: &str) -> Result<Option<Arc<TableSchema>>> {
        let id = TableId::new(database, table);
        if let Some(known) = self.schemas.get(&id) {
            return Ok(known.clone());
        }
        let specs = match self.history.columns(&id) {
            Some(columns) => columns.map(<[ColumnSpec]>::to_vec),
            None => {
                let specs = self.load_columns(&id).await?;
                if specs.is_some() {
                    self.history.define(&id, &self.position, specs.clone());
                }
                specs
            }
        };
        let (prefix, precision) = (&self.config.topics.topic_prefix, self.config.time_precision_mode);
        let schema = specs.map(|specs| Arc::new(TableSchema::declared(prefix, database, table, specs, precision)));
        self.schemas.insert(id, schema.clone());
        Ok(schema)
    }

    /// The table's columns from `information_schema` (what they are now, not at the reader's position).
    async fn load_columns(&mut self, id: &TableId) -> Result<Option<Vec<ColumnSpec>>> {
        let metadata = match self.metadata.as_mut() {
            Some(metadata) => metadata,
            None => self.metadata.insert(self.settings.connect().await?),
        };
        ColumnSpec::load(metadata, &id.database, &id.table).await
    }

    /// The columns of a table at the reader's position: the history's, else `information_schema`'s.
    async fn columns_now(&mut self, id: &TableId) -> Result<Option<Vec<ColumnSpec>>> {
        match self.history.columns(id) {
            Some(columns) => Ok(columns.map(<[ColumnSpec]>::to_vec)),
            None => self.load_columns(id).await,
        }
    }

    /// Applies a DDL statement to the history of the captured tables it changes, and gives
    /// its schema change record (none when it changed no captured table).
    async fn schema_change(&mut self, statement: SchemaStatement) -> Result<Option<SourceRecord>> {
        self.position = statement.at.clone();
        let ddl = match ddl::parse(&statement.ddl, &statement.database) {
            Ok(ddl) => ddl,
            Err(error) => {
                // Which tables it changed is unknown: those known are read again as they are now.
                connect_sdk::tracing::warn!(statement = %statement.ddl, %error,
                    "mysql-cdc-source cannot parse a DDL statement; the captured tables are read again from information_schema");
                let known: Vec<TableId> = self.schemas.keys().cloned().collect();
                known.into_iter().map(TableDdl::Redefined).collect()
            }
        };
        let mut changed: Vec<(ChangeType, TableId)> = Vec::new();
        for change in ddl {
            let (kind, id, columns) = match change {
                TableDdl::Create(id, columns) if self.admits(&id) => (ChangeType::Create, id, Some(columns)),
                TableDdl::CreateLike(id, source) if self.admits(&id) => {
                    let columns = self.columns_now(&source).await?;
                    (ChangeType::Create, id, columns)
                }
                TableDdl::Redefined(id) if self.admits(&id) => {
                    let columns = self.load_columns(&id).await?;
                    (if columns.is_some() { ChangeType::Alter } else { ChangeType::Drop }, id, columns)
                }
                TableDdl::Alter(id, changes) if self.admits(&id) => {
                    let columns = match self.history.columns(&id) {
                        Some(Some(columns)) => {
                            let mut columns = columns.to_vec();
                            match ddl::apply(&mut columns, &changes) {
                                Ok(()) => Some(columns),
                                Err(error) => {
                                    connect_sdk::tracing::warn!(table = %id, statement = %statement.ddl, %error,
                                        "mysql-cdc-source cannot apply a DDL statement to the table's history; it is read again from information_schema");
                                    self.load_columns(&id).await?
                                }
                            }
                        }
                        // Not known before: information_schema has it with this change (at least).
                        _ => self.load_columns(&id).await?,
                    };
                    (ChangeType::Alter, id, columns)
                }
                TableDdl::Drop(id) if self.admits(&id) => (ChangeType::Drop, id, None),
                TableDdl::Rename(from, to) => {
                    let columns = if self.admits(&to) { self.columns_now(&from).await? } else { None };
                    if self.admits(&from) {
                        self.define(&from, None);
                        changed.push((ChangeType::Drop, from));
                    }
                    if !self.admits(&to) {
                        continue;
                    }
                    (ChangeType::Create, to, columns)
                }
                _ => continue,
            };
            self.define(&id, columns);
            changed.push((kind, id));
        }
        if changed.is_empty() {
            return Ok(None);
        }
        let at = &statement.at;
        self.schema_record(&statement.database, Some(&statement.ddl), at, statement.server_id, statement.ts_ms, "false", &changed).map(Some)
    }

    /// A schema change record: what happened to these tables (their columns from the history),
    /// its offset the history itself.
    #[allow(clippy::too_many_arguments)]
    fn schema_record(
        &self,
        database: &str,
        ddl: Option<&str>,
        at: &Position,
        server_id: u32,
        ts_ms: i64,
        snapshot: &str,
        changed: &[(ChangeType, TableId)],
    ) -> Result<SourceRecord> {
        let tables: Vec<(ChangeType, &TableId, Option<&[ColumnSpec]>)> =
            changed.iter().map(|(kind, id)| (*kind, id, self.history.columns(id).flatten())).collect();
        let source = self.source_info(database, None, at, None, server_id, ts_ms, snapshot, 0)?;
        let value = self.schema_changes.value(source, ts_ms, database, ddl, &tables)?;
        let (key_schema, value_schema) = self.schema_changes.key_and_value();
        Ok(SourceRecord::new(self.history_partition.clone(), self.history.offset(), &self.config.topics.topic_prefix, value)
            .with_value_schema(value_schema)
            .with_key(self.schema_changes.key(database)?)
            .with_key_schema(key_schema)
            .with_timestamp(ts_ms))
    }

    fn admits(&self, id: &TableId) -> bool {
        self.filter.admits(&id.database, &id.table)
    }

    /// Records a table's definition from the reader's position on.
    fn define(&mut self, id: &TableId, columns: Option<Vec<ColumnSpec>>) {
        self.history.define(id, &self.position, columns);
        self.schemas.remove(id);
    }

    async fn binlog_records(&mut self, change: RowChange) -> Result<Vec<SourceRecord>> {
        let id = TableId::new(&change.database, &change.table);
        let first_sight = self.history.columns(&id).is_none();
        let mut records = Vec::new();
        let Some(schema) = self.schema(&change.database, &change.table).await? else {
            return Err(Error::other(format!(
                "{}.{} changed in the binlog but no longer exists; its rows cannot be named",
                change.database, change.table
            )));
        };
        let image = |values: Option<Vec<mysql_async::binlog::value::BinlogValue<'static>>>| -> Result<Option<Struct>> {
            let Some(values) = values else { return Ok(None) };
            if values.len() != schema.columns.len() {
                return Err(Error::other(format!(
                    "{}.{}: the binlog row has {} columns, the table now {}: its definition changed since; snapshot again",
                    change.database,
                    change.table,
                    values.len(),
                    schema.columns.len()
                )));
            }
            let values = values
                .into_iter()
                .zip(&schema.columns)
                .map(|(v, c)| from_binlog(c, v).and_then(|sql| c.kind.value(sql).map_err(Error::from)))
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(schema.schemas.row(values)?))
        };
        if first_sight {
            // The definition it starts the history with is committed with this record.
            let (at, changed) = (&change.resume, [(ChangeType::Create, id)]);
            records.push(self.schema_record(&change.database, None, at, change.server_id, change.ts_ms, "false", &changed)?);
        }
        let (before, after) = (image(change.before)?, image(change.after)?);
        let offset = self.offset(&change.resume, change.gtid.as_deref());
        let source = self.source_info(
            &schema.database,
            Some(&schema.table),
            &change.resume,
            change.gtid.as_deref(),
            change.server_id,
            change.ts_ms,
            "false",
            change.row_in_event,
        )?;
        let change = cdc::Change { op: change.op, before, after, source, offset, ts_ms: change.ts_ms };
        records.extend(self.changes.records(&schema.database, &schema.table, &schema.schemas, change)?);
        Ok(records)
    }

    fn offset(&self, position: &Position, gtid: Option<&str>) -> SourceOffset {
        let mut offset = SourceOffset::new().with("file", position.file.as_str()).with("pos", position.pos).with("row", position.rows);
        if let Some(gtid) = gtid {
            offset.insert("gtid", gtid);
        }
        offset
    }

    #[allow(clippy::too_many_arguments)]
    fn source_info(
        &self,
        database: &str,
        table: Option<&str>,
        position: &Position,
        gtid: Option<&str>,
        server_id: u32,
        ts_ms: i64,
        snapshot: &str,
        row: i32,
    ) -> Result<Struct> {
        let head = SourceHead { connector: "mysql", name: &self.config.topics.topic_prefix, ts_ms, snapshot, db: database };
        head.block(
            &self.source_schema,
            [
                table.map_or(Value::Null, Value::from),
                Value::Int64(i64::from(server_id)),
                gtid.map_or(Value::Null, Value::from),
                Value::from(position.file.as_str()),
                Value::Int64(position.pos as i64),
                Value::Int32(row),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_default_database() {
        assert_eq!(url_database("mysql://root@127.0.0.1:3306/shop?ssl=false"), Some("shop".into()));
        assert_eq!(url_database("mysql://127.0.0.1:3306/"), None);
        assert_ne!(server_id_of("a"), server_id_of("b"));
        assert!(server_id_of("a") >= 10_000);
    }
}
