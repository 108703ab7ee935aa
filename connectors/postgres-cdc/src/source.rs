//! `postgres-cdc-source`: the connector config, and the task that snapshots then streams.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_cdc::{Change, ChangeOptions, ChangeRecords, LagReport, Op, Phase, Reconnects, SnapshotMode, SourceHead, TopicNaming};
use connect_jdbc::filter::TableFilter;
use connect_sdk::config::groups::{Credentials, Reconnect};
use connect_sdk::config::{ConfigError, ConfigErrors};
use connect_sdk::data::{Schema, Struct};
use connect_sdk::prelude::*;
use connect_sdk::record::now_millis;
use pgwire_replication::ReplicationEvent;

use crate::database::{Database, Endpoint};
use crate::pgoutput::{self, Cell, Message, Relation};
use crate::replication::Stream;
use crate::snapshot::Snapshot;
use crate::tables::{Column, TableSchema, source_schema};
use crate::types::PgKind;

/// How the publication is made when it does not exist (Debezium's `publication.autocreate.mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicationMode {
    /// `CREATE PUBLICATION ... FOR ALL TABLES` (needs a superuser); the table lists filter.
    #[default]
    AllTables,
    /// `CREATE PUBLICATION ... FOR TABLE` the tables the lists capture when it is created.
    Filtered,
    /// Never create it: it must exist.
    Disabled,
}

/// Captures row changes of PostgreSQL tables by logical replication with the built-in
/// `pgoutput` plugin: first a consistent snapshot of the captured tables (`op` `r`), read in
/// the snapshot the replication slot exported, then every insert (`c`), update (`u`), delete
/// (`d`) and truncate (`t`) in commit order, into one topic per table,
/// `<topic.prefix>-<schema>-<table>`, keyed by the primary key. A record's offset is its
/// transaction's commit LSN and its place in it; the slot's confirmed position advances only
/// to what the worker committed, so a restarted task misses nothing and the server frees the
/// WAL before it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "postgres-cdc-source", aliases = ["io.debezium.connector.postgresql.PostgresConnector", "PostgresConnector"],
            task = PostgresCdcTask, split = connect_cdc::one_reader, validate = PostgresCdcSource::check)]
pub struct PostgresCdcSource {
    /// `postgres://host:5432/db`. The user needs the REPLICATION attribute and SELECT on the
    /// captured tables (and CREATE on the database to create the publication).
    pub connection_url: String,
    /// `connection.user` and `connection.password`, when the URL holds none.
    #[serde(flatten)]
    pub credentials: Credentials,
    /// `topic.prefix` (also the `source.name` of every record) and `topic.delimiter`.
    #[serde(flatten)]
    pub topics: TopicNaming,
    /// The logical replication slot (default: `connect_` and the connector's name).
    #[serde(default)]
    pub slot_name: Option<String>,
    /// The publication streamed (default: the slot's name).
    #[serde(default)]
    pub publication_name: Option<String>,
    /// `all_tables`, `filtered` or `disabled`: how a missing publication is created.
    #[serde(default)]
    pub publication_autocreate_mode: PublicationMode,
    /// Drop the slot when the task stops (for tests and throwaway pipelines: a dropped slot
    /// cannot resume, and its changes since are lost to this connector).
    #[serde(default)]
    pub slot_drop_on_stop: bool,
    /// Schemas to capture, regular expressions (default: all).
    #[serde(default)]
    pub schema_include_list: Vec<String>,
    /// Tables to capture, regular expressions on `schema.table` (default: all).
    #[serde(default)]
    pub table_include_list: Vec<String>,
    /// Tables not to capture, regular expressions on `schema.table`.
    #[serde(default)]
    pub table_exclude_list: Vec<String>,
    /// `snapshot.mode` (`never`: stream from the slot, created now when missing), `envelope`,
    /// `tombstones.on.delete`, `max.batch.size` and `poll.interval.ms`.
    #[serde(flatten)]
    pub changes: ChangeOptions,
    /// `connection.attempts` and `connection.backoff.ms`.
    #[serde(flatten)]
    pub reconnect: Reconnect<5, 2_000>,
}

/// A slot or publication name PostgreSQL accepts unquoted: lower-case letters, digits and `_`, at most 63.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `connect_` and the connector's name, made a valid slot name.
fn default_slot(connector: &str) -> String {
    let cleaned: String = connector.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("connect_{cleaned}").chars().take(63).collect()
}

impl PostgresCdcSource {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if !self.connection_url.starts_with("postgres") && !self.connection_url.starts_with("jdbc:postgres") {
            errors.push("connection.url", "use postgres://host:port/db");
        } else if let Err(e) = self.endpoint() {
            errors.push(e.key, e.message);
        }
        self.topics.check(&mut errors);
        for (key, name) in [("slot.name", &self.slot_name), ("publication.name", &self.publication_name)] {
            if let Some(name) = name
                && !valid_name(name)
            {
                errors.push(key, "use 1 to 63 lower-case letters, digits and _");
            }
        }
        if let Err(e) = self.filter() {
            errors.extend_prefixed("", e);
        }
        errors.into_result(())
    }

    fn endpoint(&self) -> Result<Endpoint, ConfigError> {
        Endpoint::parse(&self.connection_url, self.credentials.connection_user.as_deref(), self.credentials.connection_password.as_deref())
    }

    fn filter(&self) -> Result<TableFilter, ConfigErrors> {
        TableFilter::new("schema.include.list", &self.schema_include_list, &self.table_include_list, &self.table_exclude_list)
    }
}

/// A record's place in the stream: its transaction's commit LSN and its index among the
/// transaction's changes (-1: before the transaction's first, the end of a snapshot).
type Position = (u64, i64);

/// The transaction being streamed.
struct Transaction {
    commit_lsn: u64,
    xid: u32,
    ts_ms: i64,
    /// Changes of it seen so far (captured or not).
    changes: i64,
}

/// Snapshots (when needed), then follows the slot.
pub struct PostgresCdcTask {
    config: PostgresCdcSource,
    endpoint: Endpoint,
    filter: TableFilter,
    slot: String,
    publication: String,
    /// The records of row changes, in the partition of the server.
    changes: ChangeRecords,
    /// For primary keys of relations the stream describes.
    catalog: Option<Database>,
    /// Per relation OID: its schema, `None` when not captured.
    relations: HashMap<u32, Option<Arc<TableSchema>>>,
    phase: Phase<Snapshot>,
    transaction: Option<Transaction>,
    /// The last record emitted (or the committed one the task resumed from): changes up to
    /// it are skipped when the server sends them again.
    position: Position,
    /// The last position the worker committed.
    committed: Position,
    /// The last WAL position with no transaction open, all of it read.
    idle_lsn: u64,
    /// The position acknowledged to the server.
    acknowledged: u64,
    reconnects: Reconnects,
    source_schema: Arc<Schema>,
    /// How far behind the server the task is, reported to the worker.
    lag: LagReport,
    /// When the newest transaction read was committed (ms since the epoch).
    newest_commit_ms: Option<i64>,
}

fn read_position(offset: &SourceOffset) -> Option<Position> {
    Some((offset.get_i64("lsn")? as u64, offset.get_i64("index").unwrap_or(-1)))
}

fn in_snapshot(offset: &SourceOffset) -> bool {
    offset.get("snapshot").and_then(|s| s.as_bool()) == Some(true)
}

impl SourceTask for PostgresCdcTask {
    type Config = PostgresCdcSource;

    async fn open(config: PostgresCdcSource, ctx: SourceContext) -> Result<Self> {
        let endpoint = config.endpoint().map_err(|e| Error::Config(e.into()))?;
        let filter = config.filter().map_err(Error::Config)?;
        let slot = config.slot_name.clone().unwrap_or_else(|| default_slot(ctx.connector_name()));
        let publication = config.publication_name.clone().unwrap_or_else(|| slot.clone());
        let partition = SourcePartition::new().with("server", config.topics.topic_prefix.as_str());
        let committed = ctx.offset(&partition);
        let catalog = Database::connect(&endpoint).await?;
        catalog.check_logical_wal().await?;
        let tables = match config.publication_autocreate_mode {
            PublicationMode::AllTables => Some(None),
            PublicationMode::Filtered => {
                let all = catalog.user_tables().await?;
                Some(Some(all.into_iter().filter(|(s, t)| filter.admits(s, t)).map(|(s, t)| format!("{s}.{t}")).collect::<Vec<_>>()))
            }
            PublicationMode::Disabled => None,
        };
        if let Some(tables) = tables {
            catalog.ensure_publication(&publication, tables.as_deref()).await?;
        }
        let resume = committed.as_ref().filter(|o| !in_snapshot(o)).and_then(read_position);
        let (phase, position) = match (resume, config.changes.snapshot_mode) {
            (Some(position), _) => (Phase::Streaming(None), position),
            (None, SnapshotMode::Never) => {
                if !catalog.slot_exists(&slot).await? {
                    Stream::create_slot_only(&endpoint, &slot, &publication).await?;
                }
                (Phase::Streaming(None), (0, -1))
            }
            (None, SnapshotMode::Initial) => {
                if catalog.slot_exists(&slot).await? {
                    // No committed stream position: what the slot kept is not known to be
                    // delivered, and a snapshot needs a slot created with it.
                    catalog.drop_slot(&slot).await?;
                }
                let snapshot = Snapshot::begin(&endpoint, &slot, &publication, &config.topics.topic_prefix, &filter).await?;
                let position = (snapshot.consistent_point, -1);
                (Phase::Snapshot(Box::new(snapshot)), position)
            }
        };
        let what = if phase.is_snapshot() { "snapshot, then stream" } else { "stream" };
        connect_sdk::tracing::info!(connector = ctx.connector_name(), slot, publication, lsn = %lsn_text(position.0), index = position.1,
            committed = committed.is_some(), "postgres-cdc-source starts: {what} from this position");
        let changes = ChangeRecords::new(partition, &config.topics, &config.changes);
        let mut lag = LagReport::new(ctx.clone());
        if let Phase::Snapshot(snapshot) = &phase {
            lag.snapshot_begins(snapshot.rows_total);
        }
        Ok(PostgresCdcTask {
            lag,
            newest_commit_ms: None,
            changes,
            config,
            endpoint,
            filter,
            slot,
            publication,
            catalog: Some(catalog),
            relations: HashMap::new(),
            phase,
            transaction: None,
            position,
            committed: position,
            idle_lsn: position.0,
            acknowledged: position.0,
            reconnects: Reconnects::default(),
            source_schema: Arc::new(source_schema()),
        })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let result = match &mut self.phase {
            Phase::Snapshot(_) => self.poll_snapshot().await,
            Phase::Streaming(_) => self.poll_stream().await,
        };
        match result {
            Ok(records) => {
                self.reconnects.succeeded();
                Ok(records)
            }
            Err(error) if self.reconnects.after(&error, self.config.reconnect.connection_attempts) => {
                connect_sdk::tracing::warn!(error = %error.trace(), "postgres-cdc-source lost its connection; reconnecting");
                if let Some(stream) = self.phase.take_reader() {
                    stream.close().await;
                }
                self.transaction = None;
                self.catalog = None;
                connect_sdk::tokio::time::sleep(self.config.reconnect.backoff()).await;
                Ok(Vec::new())
            }
            Err(error) => Err(error),
        }
    }

    async fn commit(&mut self, committed: &CommittedOffsets) -> Result<()> {
        let Some(offset) = committed.get(self.changes.partition()) else { return Ok(()) };
        if in_snapshot(offset) {
            return Ok(());
        }
        if let Some(position) = read_position(offset) {
            self.committed = self.committed.max(position);
            // Transactions committed before this one's are durable; this one is sent again
            // after a restart, and its delivered changes skipped.
            self.acknowledge(position.0);
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        if let Some(stream) = self.phase.take_reader() {
            stream.close().await;
        }
        if let Phase::Snapshot(snapshot) = std::mem::replace(&mut self.phase, Phase::Streaming(None)) {
            snapshot.stream.close().await;
        }
        if self.config.slot_drop_on_stop {
            let catalog = Database::connect(&self.endpoint).await?;
            catalog.drop_slot(&self.slot).await?;
        }
        Ok(())
    }
}

/// `16/B374D848`, as PostgreSQL writes an LSN.
fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

/// Microseconds since 2000-01-01 (PostgreSQL's epoch) as milliseconds since 1970.
fn unix_ms(pg_micros: i64) -> i64 {
    (pg_micros + 946_684_800_000_000).div_euclid(1000)
}

impl PostgresCdcTask {
    fn acknowledge(&mut self, lsn: u64) {
        if lsn > self.acknowledged
            && let Phase::Streaming(Some(stream)) = &self.phase
        {
            stream.acknowledge(lsn);
            self.acknowledged = lsn;
        }
    }

    async fn poll_snapshot(&mut self) -> Result<Vec<SourceRecord>> {
        let Phase::Snapshot(snapshot) = &mut self.phase else { return Ok(Vec::new()) };
        let Some(batch) = snapshot.next_rows(self.config.changes.max_batch_size).await? else {
            return self.phase.end_snapshot().await.map(|()| Vec::new());
        };
        let lsn = snapshot.consistent_point;
        let now = now_millis();
        let mut records = Vec::with_capacity(batch.rows.len());
        let count = batch.rows.len();
        for (i, row) in batch.rows.into_iter().enumerate() {
            let last = batch.last && i + 1 == count;
            let cells = row.into_iter().map(|v| v.map_or(Cell::Null, Cell::Text)).collect();
            let after = batch.table.image(cells, None)?;
            let offset = SourceOffset::new().with("lsn", lsn).with("snapshot", !last);
            let source = self.source_info(&batch.table, None, Some(lsn), now, if last { "last" } else { "true" })?;
            let change = Change { op: Op::Read, before: None, after: Some(after), source, offset, ts_ms: now };
            records.extend(self.changes.records(&batch.table.namespace, &batch.table.table, &batch.table.schemas, change)?);
        }
        self.lag.snapshot_read(count as u64, batch.last);
        if batch.last {
            self.phase.end_snapshot().await?;
        }
        Ok(records)
    }

    async fn poll_stream(&mut self) -> Result<Vec<SourceRecord>> {
        let Phase::Streaming(stream) = &mut self.phase else { return Ok(Vec::new()) };
        if stream.is_none() {
            // Resume after the last record emitted: the server sends again from the slot's
            // confirmed position (or this one, if later), and what was emitted is skipped.
            let opened = Stream::open(&self.endpoint, &self.slot, &self.publication, self.committed.0).await?;
            *stream = Some(opened);
            self.acknowledged = self.committed.0;
        }
        let deadline = Instant::now() + Duration::from_millis(self.config.changes.poll_interval_ms);
        let (mut records, mut drained) = (Vec::new(), false);
        while records.len() < self.config.changes.max_batch_size {
            // Once something arrived, only what is already there joins the batch.
            let wait = if records.is_empty() { deadline.saturating_duration_since(Instant::now()) } else { Duration::from_millis(2) };
            if wait.is_zero() {
                break;
            }
            let Phase::Streaming(Some(stream)) = &mut self.phase else { break };
            let Some(event) = stream.next(wait).await? else {
                drained = true;
                break;
            };
            self.handle(event, &mut records).await?;
        }
        self.lag.streamed(self.newest_commit_ms, drained);
        if self.lag.head_due() {
            if self.catalog.is_none() {
                self.catalog = Database::connect(&self.endpoint).await.ok();
            }
            let bytes = match &self.catalog {
                Some(catalog) => catalog.wal_bytes_after(&lsn_text(self.idle_lsn)).await,
                None => None,
            };
            self.lag.bytes_behind(bytes);
        }
        // Nothing emitted is waiting for its commit, and no transaction is open: the WAL
        // read so far (changes of tables not captured, empty transactions) is done with.
        if self.committed >= self.position && self.transaction.is_none() {
            self.acknowledge(self.idle_lsn);
        }
        Ok(records)
    }

    async fn handle(&mut self, event: ReplicationEvent, records: &mut Vec<SourceRecord>) -> Result<()> {
        match event {
            ReplicationEvent::Begin { final_lsn, xid, commit_time_micros } => {
                self.newest_commit_ms = Some(unix_ms(commit_time_micros));
                self.transaction =
                    Some(Transaction { commit_lsn: final_lsn.as_u64(), xid, ts_ms: unix_ms(commit_time_micros), changes: 0 });
            }
            ReplicationEvent::Commit { end_lsn, .. } => {
                self.transaction = None;
                self.idle_lsn = self.idle_lsn.max(end_lsn.as_u64());
            }
            ReplicationEvent::KeepAlive { wal_end, .. } if self.transaction.is_none() => {
                self.idle_lsn = self.idle_lsn.max(wal_end.as_u64());
            }
            ReplicationEvent::XLogData { data, .. } => {
                let message = pgoutput::decode(&data).map_err(|e| Error::other(format!("slot {}: {e}", self.slot)))?;
                self.change(message, records).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The records of one decoded message.
    async fn change(&mut self, message: Message, records: &mut Vec<SourceRecord>) -> Result<()> {
        let (relations, op) = match &message {
            Message::Relation(relation) => {
                let schema = self.relation_schema(relation).await?;
                self.relations.insert(relation.id, schema);
                return Ok(());
            }
            Message::Insert { relation, .. } => (vec![*relation], Op::Create),
            Message::Update { relation, .. } => (vec![*relation], Op::Update),
            Message::Delete { relation, .. } => (vec![*relation], Op::Delete),
            Message::Truncate { relations } => (relations.clone(), Op::Truncate),
            Message::Other => return Ok(()),
        };
        let Some(transaction) = &self.transaction else {
            return Err(Error::other(format!("slot {}: a change outside a transaction", self.slot)));
        };
        let (commit_lsn, xid, ts_ms) = (transaction.commit_lsn, transaction.xid, transaction.ts_ms);
        for relation in relations {
            let index = match &mut self.transaction {
                Some(transaction) => {
                    transaction.changes += 1;
                    transaction.changes - 1
                }
                None => break,
            };
            let position = (commit_lsn, index);
            if position <= self.position {
                continue;
            }
            let table = match self.relations.get(&relation) {
                Some(Some(table)) => table.clone(),
                Some(None) => continue,
                None => return Err(Error::other(format!("slot {}: a change of relation {relation} before its description", self.slot))),
            };
            self.position = position;
            let offset = SourceOffset::new().with("lsn", commit_lsn).with("index", index).with("txId", xid);
            let source = self.source_info(&table, Some(xid), Some(commit_lsn), ts_ms, "false")?;
            let (before, after) = match &message {
                Message::Insert { new, .. } => (None, Some(table.image(new.clone(), None)?)),
                Message::Update { old, new, .. } => {
                    let before = old.clone().map(|old| table.image(old, None)).transpose()?;
                    let after = table.image(new.clone(), before.as_ref())?;
                    // A key-only old image (the key changed, default replica identity) is no before image.
                    (before.filter(|_| table.full_identity), Some(after))
                }
                Message::Delete { old, .. } => (Some(table.image(old.clone(), None)?), None),
                _ => (None, None),
            };
            let change = Change { op, before, after, source, offset, ts_ms };
            records.extend(self.changes.records(&table.namespace, &table.table, &table.schemas, change)?);
        }
        Ok(())
    }

    /// The schema of a relation the stream describes, `None` when it is not captured.
    async fn relation_schema(&mut self, relation: &Relation) -> Result<Option<Arc<TableSchema>>> {
        if !self.filter.admits(&relation.namespace, &relation.name) {
            return Ok(None);
        }
        let catalog = match self.catalog.as_mut() {
            Some(catalog) => catalog,
            None => self.catalog.insert(Database::connect(&self.endpoint).await?),
        };
        let primary_key = catalog.primary_key(relation.id).await?;
        let columns = relation
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                kind: PgKind::of(c.type_oid, c.modifier),
                // Without a primary key (any more), the replica identity's columns, unless
                // that is the whole row.
                key: if primary_key.is_empty() { c.identity && relation.replica_identity != b'f' } else { primary_key.contains(&c.name) },
            })
            .collect();
        let mut schema = TableSchema::new(&self.config.topics.topic_prefix, &relation.namespace, &relation.name, columns);
        schema.full_identity = relation.replica_identity == b'f';
        Ok(Some(Arc::new(schema)))
    }

    fn source_info(&self, table: &TableSchema, xid: Option<u32>, lsn: Option<u64>, ts_ms: i64, snapshot: &str) -> Result<Struct> {
        let head =
            SourceHead { connector: "postgresql", name: &self.config.topics.topic_prefix, ts_ms, snapshot, db: &self.endpoint.database };
        head.block(
            &self.source_schema,
            [
                Value::from(table.namespace.as_str()),
                Value::from(table.table.as_str()),
                xid.map_or(Value::Null, |x| Value::Int64(i64::from(x))),
                lsn.map_or(Value::Null, |l| Value::Int64(l as i64)),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_positions_and_times_read_as_postgresql_writes_them() {
        assert_eq!(default_slot("Orders CDC-1"), "connect_orders_cdc_1");
        assert!(valid_name(&default_slot(&"x".repeat(100))));
        assert!(!valid_name("Has-Caps"));
        assert_eq!(lsn_text(0x16_B374_D848), "16/B374D848");
        assert_eq!(unix_ms(0), 946_684_800_000);
    }
}
