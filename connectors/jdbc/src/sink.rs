//! `jdbc-sink`: records into tables, as Kafka's JDBC sink does.

use std::collections::BTreeMap;

use connect_sdk::config::ConfigErrors;
use connect_sdk::config::groups::{BatchSize, Credentials, Reconnect};
use connect_sdk::prelude::*;

use crate::db::{Connection, ConnectionSettings, Dialect};
use crate::positions::PositionTable;
use crate::write::{InsertMode, PkMode, RowBatch, TableWriter, WriteRules};

/// Writes records with a struct value (and schema) into PostgreSQL or MySQL/MariaDB tables
/// (Kafka's JDBC sink connector, same keys). Each `put` is one transaction: rows are inserted,
/// upserted on the primary key (`insert.mode=upsert`) or updated; with `delete.enabled`, a
/// tombstone deletes the row of its key. The same transaction stores the queue positions of
/// the records in `offsets.table` (created when missing, one row per connector and queue),
/// and a task resumes from them: exactly once, even for plain inserts, unless
/// `exactly.once=false` (at least once, no table written but the records').
/// `auto.create` creates a missing table from the record schema, `auto.evolve` adds missing
/// columns. A record the database refuses is retried alone, then reported to the dead-letter
/// queue when errors are tolerated, or it stops the task.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "jdbc-sink", aliases = ["io.confluent.connect.jdbc.JdbcSinkConnector", "JdbcSinkConnector"],
            task = JdbcSinkTask, validate = JdbcSink::check)]
pub struct JdbcSink {
    /// `postgres://host:5432/db` or `mysql://host:3306/db` (a `jdbc:` prefix is accepted).
    pub connection_url: String,
    /// `connection.user` and `connection.password`.
    #[serde(flatten)]
    pub credentials: Credentials,
    /// `connection.attempts` and `connection.backoff.ms`.
    #[serde(flatten)]
    pub reconnect: Reconnect<3, 10_000>,
    /// The table of a record: `${topic}` is replaced by its topic.
    #[serde(default = "default_table_format")]
    pub table_name_format: String,
    /// `insert`, `upsert` (insert or update on the primary key) or `update`.
    #[serde(default)]
    pub insert_mode: InsertMode,
    /// Where the primary key comes from: `none`, `kafka` (topic, queue, offset), `record_key` or `record_value`.
    #[serde(default)]
    pub pk_mode: PkMode,
    /// The primary key's fields (`record_key`: the key struct's fields, or the column name of
    /// a primitive key; `record_value`: fields of the value; default: all key fields).
    #[serde(default)]
    pub pk_fields: Vec<String>,
    /// Value fields to write (default: all).
    #[serde(default)]
    pub fields_whitelist: Vec<String>,
    /// Create a missing table from the record's schema.
    #[serde(default)]
    pub auto_create: bool,
    /// Add columns the table lacks.
    #[serde(default)]
    pub auto_evolve: bool,
    /// Delete the row of a tombstone's key (needs `pk.mode=record_key`).
    #[serde(default)]
    pub delete_enabled: bool,
    /// Rows per statement at most.
    #[serde(flatten)]
    pub batch: BatchSize<3_000>,
    /// Store the positions of written records with them, in `offsets.table`.
    #[serde(default = "enabled")]
    pub exactly_once: bool,
    /// The table of stored positions (with `exactly.once`).
    #[serde(default = "default_offsets_table")]
    pub offsets_table: String,
}

fn default_table_format() -> String {
    "${topic}".to_owned()
}

fn enabled() -> bool {
    true
}

fn default_offsets_table() -> String {
    "connect_offsets".to_owned()
}

impl JdbcSink {
    /// What of this config shapes rows and statements.
    fn write_rules(&self) -> WriteRules {
        WriteRules {
            table_name_format: self.table_name_format.clone(),
            delete_enabled: self.delete_enabled,
            insert_mode: self.insert_mode,
            pk_mode: self.pk_mode,
            pk_fields: self.pk_fields.clone(),
            fields_whitelist: self.fields_whitelist.clone(),
            batch_size: self.batch.batch_size,
            auto_create: self.auto_create,
            auto_evolve: self.auto_evolve,
        }
    }

    fn settings(&self) -> ConnectionSettings {
        ConnectionSettings::new(&self.connection_url, &self.credentials, &self.reconnect)
    }

    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if Dialect::of_url(&self.connection_url).is_none() {
            errors.push("connection.url", "use postgres://host:port/db or mysql://host:port/db");
        }
        if self.delete_enabled && self.pk_mode != PkMode::RecordKey {
            errors.push("delete.enabled", "deletes need pk.mode=record_key");
        }
        if self.insert_mode != InsertMode::Insert && self.pk_mode == PkMode::None {
            errors.push("pk.mode", format!("insert.mode={} needs a primary key", self.insert_mode));
        }
        if self.pk_mode == PkMode::RecordValue && self.pk_fields.is_empty() {
            errors.push("pk.fields", "pk.mode=record_value needs the key fields");
        }
        if self.table_name_format.trim().is_empty() {
            errors.push("table.name.format", "cannot be empty");
        }
        if self.exactly_once && self.offsets_table.trim().is_empty() {
            errors.push("offsets.table", "cannot be empty with exactly.once");
        }
        errors.into_result(())
    }
}

/// Writes each `put` in one transaction, with the positions of its records.
pub struct JdbcSinkTask {
    config: JdbcSink,
    /// What of the config shapes rows and statements.
    rules: WriteRules,
    ctx: SinkContext,
    connection: Option<Connection>,
    /// What it learnt of each table (columns, whether it exists).
    tables: BTreeMap<String, TableWriter>,
    /// Where the positions are kept (`exactly.once`).
    positions: Option<PositionTable>,
}

impl SinkTask for JdbcSinkTask {
    type Config = JdbcSink;

    async fn open(config: JdbcSink, ctx: SinkContext) -> Result<Self> {
        let mut connection = config.settings().connect().await?;
        let positions = match config.exactly_once {
            true => Some(PositionTable::open(&mut connection, &config.offsets_table, ctx.connector_name()).await?),
            false => None,
        };
        Ok(JdbcSinkTask { rules: config.write_rules(), config, ctx, connection: Some(connection), tables: BTreeMap::new(), positions })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let batch = RowBatch::of(&self.rules, &records);
        let connection = connected(&mut self.connection, &self.config).await?;
        let after = offsets_after(&records);
        let result = match batch {
            Ok(batch) => write_all(connection, &self.rules, &mut self.tables, &batch, self.positions.as_mut(), &after).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => Ok(()),
            Err(error) if error.is_retriable() => {
                // The connection is gone: the runtime retries the put on a new one.
                self.connection = None;
                Err(error)
            }
            Err(error) => self.put_one_by_one(records, error).await,
        }
    }

    /// Stores the offsets the runtime is about to commit, when they go beyond the positions
    /// stored with the rows (records a transform dropped or the dead-letter queue took).
    async fn flush(&mut self, offsets: &QueueOffsets) -> Result<()> {
        let Some(positions) = self.positions.as_mut().filter(|p| !p.holds(offsets)) else { return Ok(()) };
        let connection = connected(&mut self.connection, &self.config).await?;
        positions.write(connection, offsets).await?;
        positions.written(offsets);
        Ok(())
    }

    async fn stored_offsets(&mut self, queues: &[QueueId]) -> Result<QueueOffsets> {
        let Some(positions) = self.positions.as_mut() else { return Ok(QueueOffsets::new()) };
        let connection = connected(&mut self.connection, &self.config).await?;
        positions.read(connection, queues).await
    }
}

/// The task's connection, opened again when a failure dropped it.
async fn connected<'a>(slot: &'a mut Option<Connection>, config: &JdbcSink) -> Result<&'a mut Connection> {
    Ok(match slot {
        Some(connection) => connection,
        None => slot.insert(config.settings().connect().await?),
    })
}

async fn write_all(
    connection: &mut Connection,
    rules: &WriteRules,
    tables: &mut BTreeMap<String, TableWriter>,
    batch: &RowBatch,
    positions: Option<&mut PositionTable>,
    after: &QueueOffsets,
) -> Result<()> {
    connection.batch("BEGIN").await?;
    let written = async {
        for (table, rows) in batch.runs() {
            let writer = match tables.get_mut(table) {
                Some(writer) => writer,
                None => tables.entry(table.to_owned()).or_insert(TableWriter::new(table)),
            };
            writer.write(connection, rules, rows).await?;
        }
        if let Some(positions) = &positions {
            positions.write(connection, after).await?;
        }
        Ok::<(), Error>(())
    }
    .await;
    match written {
        Ok(()) => {
            connection.batch("COMMIT").await?;
            if let Some(positions) = positions {
                positions.written(after);
            }
            Ok(())
        }
        Err(error) => {
            let _ = connection.batch("ROLLBACK").await;
            // A failed DDL may have left what was learnt of a table wrong.
            tables.clear();
            Err(error)
        }
    }
}

impl JdbcSinkTask {
    /// A batch failed for a reason other than the connection: writes its records one at a
    /// time, so only the bad ones fail; those go to the dead-letter queue when there is one.
    async fn put_one_by_one(&mut self, records: Vec<SinkRecord>, batch_error: Error) -> Result<()> {
        connect_sdk::tracing::warn!(error = %batch_error.trace(), records = records.len(), "a batch failed; writing its records one by one");
        for record in records {
            let one = std::slice::from_ref(&record);
            let connection = connected(&mut self.connection, &self.config).await?;
            let after = offsets_after(one);
            let result = match RowBatch::of(&self.rules, one) {
                Ok(batch) => write_all(connection, &self.rules, &mut self.tables, &batch, self.positions.as_mut(), &after).await,
                Err(error) => Err(error),
            };
            match (result, self.ctx.errant_record_reporter()) {
                (Ok(()), _) => {}
                (Err(error), _) if error.is_retriable() => {
                    self.connection = None;
                    return Err(error);
                }
                (Err(error), Some(reporter)) => reporter.report(&record, &error).await?,
                (Err(error), None) => return Err(error),
            }
        }
        Ok(())
    }
}
