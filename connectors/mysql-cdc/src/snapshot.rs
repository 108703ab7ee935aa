//! The initial snapshot: every captured table read in one consistent-snapshot transaction,
//! and the binlog position that transaction saw, where streaming then starts.

use std::sync::Arc;

use connect_jdbc::db::{Connection, ConnectionSettings, Dialect, SqlValue};
use connect_sdk::prelude::*;

use crate::binlog::Position;
use crate::schema::{TableSchema, TimePrecision};
use connect_jdbc::filter::TableFilter;

/// A snapshot being read.
pub struct Snapshot {
    connection: Connection,
    /// The binlog position the snapshot is consistent with.
    pub position: Position,
    tables: Vec<Arc<TableSchema>>,
    /// The rows of the captured tables (counted, or estimated for large tables).
    pub rows_total: u64,
    /// The table being read and how many of its rows were read.
    next_table: usize,
    offset: u64,
}

/// The rows of one table the snapshot returned.
pub struct SnapshotRows {
    /// The table.
    pub schema: Arc<TableSchema>,
    /// Its rows, in column order.
    pub rows: Vec<Vec<SqlValue>>,
    /// Whether these are the last rows of the snapshot.
    pub last: bool,
}

/// The binlog position now (to stream without a snapshot).
pub async fn current_position(connection: &mut Connection) -> Result<Position> {
    let result = connection.query("SHOW MASTER STATUS", &[]).await?;
    let Some(row) = result.rows.into_iter().next() else {
        return Err(Error::other(
            "SHOW MASTER STATUS returned nothing: the server does not write a binlog (start it with --log-bin --binlog-format=ROW)",
        ));
    };
    position_of(row.into_iter())
}

fn position_of(mut cells: impl Iterator<Item = SqlValue>) -> Result<Position> {
    let file = match cells.next() {
        Some(SqlValue::Text(file)) => file,
        other => return Err(Error::other(format!("unexpected binlog file {other:?}"))),
    };
    let pos = match cells.next() {
        Some(SqlValue::Int(pos)) => pos as u64,
        Some(SqlValue::Text(pos)) => pos.parse().map_err(|_| Error::other(format!("unexpected binlog position {pos:?}")))?,
        Some(SqlValue::Decimal(d)) => d.unscaled as u64,
        other => return Err(Error::other(format!("unexpected binlog position {other:?}"))),
    };
    Ok(Position { file, pos, rows: 0 })
}

/// Checks that the server writes a row-based binlog, with a message saying how to fix it.
pub async fn check_binlog(connection: &mut Connection) -> Result<()> {
    let result = connection.query("SELECT CAST(@@log_bin AS CHAR), CAST(@@binlog_format AS CHAR)", &[]).await?;
    let row: Vec<Option<String>> = result.rows.into_iter().next().unwrap_or_default().into_iter().map(SqlValue::into_text).collect();
    match row.as_slice() {
        [Some(on), Some(format)] if (on == "1" || on.eq_ignore_ascii_case("ON")) && format.eq_ignore_ascii_case("ROW") => Ok(()),
        [on, format] => Err(Error::other(format!(
            "the server's binlog is log_bin={} binlog_format={}: change data capture needs log_bin=ON and binlog_format=ROW",
            on.as_deref().unwrap_or("?"),
            format.as_deref().unwrap_or("?")
        ))),
        _ => Err(Error::other("cannot read @@log_bin and @@binlog_format")),
    }
}

/// The captured tables: base tables of the databases `filter` admits.
pub async fn captured_tables(connection: &mut Connection, filter: &TableFilter) -> Result<Vec<(String, String)>> {
    let sql = "SELECT CAST(table_schema AS CHAR), CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_type = 'BASE TABLE' \
               AND table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1, 2";
    let result = connection.query(sql, &[]).await?;
    Ok(result
        .rows
        .into_iter()
        .filter_map(|row| {
            let mut cells = row.into_iter().map(SqlValue::into_text);
            Some((cells.next()??, cells.next()??))
        })
        .filter(|(db, table)| filter.admits(db, table))
        .collect())
}

/// The rows of `db`.`table`: counted in the snapshot's transaction when the server estimates
/// fewer than [`connect_cdc::COUNT_ROWS_BELOW`], else the estimate.
async fn rows_of(connection: &mut Connection, db: &str, table: &str) -> Result<u64> {
    let estimate = connection
        .query(
            "SELECT CAST(table_rows AS CHAR) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            &[SqlValue::Text(db.to_owned()), SqlValue::Text(table.to_owned())],
        )
        .await?;
    let estimate = first_number(estimate.rows);
    if estimate.is_some_and(|rows| rows >= connect_cdc::COUNT_ROWS_BELOW) {
        return Ok(estimate.unwrap_or_default());
    }
    let d = Dialect::MySql;
    let counted = connection.query(&format!("SELECT CAST(COUNT(*) AS CHAR) FROM {}", d.quote(&format!("{db}.{table}"))), &[]).await?;
    Ok(first_number(counted.rows).unwrap_or_default())
}

/// The first cell of the first row, as a number.
fn first_number(rows: Vec<Vec<SqlValue>>) -> Option<u64> {
    rows.into_iter().next()?.into_iter().next()?.into_text()?.parse().ok()
}

impl Snapshot {
    /// The tables it reads, as they were when it began.
    pub fn tables(&self) -> &[Arc<TableSchema>] {
        &self.tables
    }

    /// Opens a consistent snapshot of the tables `filter` admits.
    pub async fn begin(settings: &ConnectionSettings, prefix: &str, filter: &TableFilter, precision: TimePrecision) -> Result<Snapshot> {
        let mut connection = settings.connect().await?;
        check_binlog(&mut connection).await?;
        connection.batch("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ").await?;
        connection.batch("START TRANSACTION WITH CONSISTENT SNAPSHOT").await?;
        // MariaDB tells the binlog position of the snapshot itself; MySQL needs the tables
        // locked for a moment to read it.
        let status =
            connection.query("SHOW STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position')", &[]).await?;
        let values: Vec<SqlValue> = status.rows.into_iter().filter_map(|row| row.into_iter().nth(1)).collect();
        let position = match values.len() {
            2 => position_of(values.into_iter())?,
            _ => {
                connection.batch("ROLLBACK").await?;
                connection.batch("FLUSH TABLES WITH READ LOCK").await?;
                let position = current_position(&mut connection).await;
                let started = connection.batch("START TRANSACTION WITH CONSISTENT SNAPSHOT").await;
                connection.batch("UNLOCK TABLES").await?;
                started?;
                position?
            }
        };
        let (mut tables, mut rows_total) = (Vec::new(), 0);
        for (db, table) in captured_tables(&mut connection, filter).await? {
            if let Some(schema) = TableSchema::load(&mut connection, prefix, &db, &table, precision).await? {
                rows_total += rows_of(&mut connection, &db, &table).await?;
                tables.push(Arc::new(schema));
            }
        }
        Ok(Snapshot { connection, position, tables, rows_total, next_table: 0, offset: 0 })
    }

    /// The next rows (at most `max`), or `None` once every table was read.
    pub async fn next_rows(&mut self, max: usize) -> Result<Option<SnapshotRows>> {
        while let Some(schema) = self.tables.get(self.next_table).cloned() {
            let d = Dialect::MySql;
            let table = d.quote(&format!("{}.{}", schema.database, schema.table));
            let order: Vec<String> = schema.columns.iter().filter(|c| c.key).map(|c| d.quote(&c.name)).collect();
            let order = if order.is_empty() { String::new() } else { format!(" ORDER BY {}", order.join(", ")) };
            let sql = format!("SELECT * FROM {table}{order} LIMIT {max} OFFSET {}", self.offset);
            let result = self.connection.query(&sql, &[]).await?;
            let done = result.rows.len() < max;
            self.offset += result.rows.len() as u64;
            if done {
                self.next_table += 1;
                self.offset = 0;
            }
            let last = done && self.next_table >= self.tables.len();
            if !result.rows.is_empty() || last {
                return Ok(Some(SnapshotRows { schema, rows: result.rows, last }));
            }
        }
        Ok(None)
    }
}

impl connect_cdc::SnapshotRead for Snapshot {
    /// The binlog reader opens at the snapshot's position when streaming starts.
    type Reader = Box<crate::binlog::BinlogReader>;

    /// Ends the snapshot transaction.
    async fn finish(mut self) -> Result<Option<Self::Reader>> {
        self.connection.batch("COMMIT").await?;
        Ok(None)
    }
}
