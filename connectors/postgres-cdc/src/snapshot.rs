//! The initial snapshot: every captured table read in the snapshot the slot exported when it
//! was created, so the rows read and the changes streamed after them meet exactly at the
//! slot's consistent point.

use std::collections::VecDeque;
use std::sync::Arc;

use connect_jdbc::filter::TableFilter;
use connect_sdk::Result;

use crate::database::{Database, Endpoint};
use crate::replication::{CreatedSlot, Stream};
use crate::tables::TableSchema;

/// Rows of one table, each value in its text form.
pub struct Rows {
    /// The table.
    pub table: Arc<TableSchema>,
    /// The rows.
    pub rows: Vec<Vec<Option<String>>>,
    /// Whether these are the snapshot's last rows.
    pub last: bool,
}

/// A snapshot being read, and the replication session that waits to stream after it.
pub struct Snapshot {
    /// The session that created the slot; it streams once the snapshot is read.
    pub stream: Stream,
    /// Where streaming starts.
    pub consistent_point: u64,
    /// The rows of the captured tables (counted, or estimated for large tables).
    pub rows_total: u64,
    database: Database,
    tables: VecDeque<Arc<TableSchema>>,
    /// The table whose cursor is open.
    current: Option<Arc<TableSchema>>,
    /// Rows fetched ahead, so the batch holding the last row knows it is the last.
    ahead: VecDeque<(Arc<TableSchema>, Vec<Option<String>>)>,
    cursors: usize,
}

impl Snapshot {
    /// Creates the slot, imports its snapshot and lists the captured tables of `publication`.
    pub async fn begin(endpoint: &Endpoint, slot: &str, publication: &str, prefix: &str, filter: &TableFilter) -> Result<Snapshot> {
        let database = Database::connect(endpoint).await?;
        let (stream, CreatedSlot { consistent_point, snapshot }) = Stream::create_slot(endpoint, slot, publication).await?;
        database.begin_snapshot(&snapshot).await?;
        let (mut tables, mut rows_total) = (VecDeque::new(), 0);
        for (namespace, table) in database.publication_tables(publication).await? {
            if filter.admits(&namespace, &table)
                && let Some(schema) = database.table(prefix, &namespace, &table).await?
            {
                rows_total += database.row_count(&schema).await?;
                tables.push_back(Arc::new(schema));
            }
        }
        Ok(Snapshot { stream, consistent_point, rows_total, database, tables, current: None, ahead: VecDeque::new(), cursors: 0 })
    }

    /// The next rows (at most `batch`, of one table); `None` once every table was read.
    pub async fn next_rows(&mut self, batch: usize) -> Result<Option<Rows>> {
        // Fetch until more than a batch is ahead or nothing is left, so `last` is known.
        while self.ahead.len() <= batch {
            let table = match &self.current {
                Some(table) => table.clone(),
                None => {
                    let Some(table) = self.tables.pop_front() else { break };
                    self.cursors += 1;
                    self.database.declare(&self.cursor(), &table).await?;
                    self.current = Some(table.clone());
                    table
                }
            };
            let rows = self.database.fetch(&self.cursor(), batch).await?;
            if rows.len() < batch {
                self.database.execute(&format!("CLOSE {}", self.cursor())).await?;
                self.current = None;
            }
            self.ahead.extend(rows.into_iter().map(|row| (table.clone(), row)));
        }
        let Some((table, _)) = self.ahead.front() else { return Ok(None) };
        let table = table.clone();
        let mut rows = Vec::with_capacity(batch.min(self.ahead.len()));
        while rows.len() < batch
            && self.ahead.front().is_some_and(|(t, _)| Arc::ptr_eq(t, &table))
            && let Some((_, row)) = self.ahead.pop_front()
        {
            rows.push(row);
        }
        let last = self.ahead.is_empty() && self.current.is_none() && self.tables.is_empty();
        Ok(Some(Rows { table, rows, last }))
    }

    fn cursor(&self) -> String {
        format!("connect_snapshot_{}", self.cursors)
    }
}

impl connect_cdc::SnapshotRead for Snapshot {
    /// The replication stream the slot was created on.
    type Reader = Stream;

    /// Ends the snapshot's transaction and starts streaming; returns the stream.
    async fn finish(mut self) -> Result<Option<Stream>> {
        self.database.execute("COMMIT").await?;
        self.stream.start().await?;
        Ok(Some(self.stream))
    }
}
