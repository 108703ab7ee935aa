//! Reading the binlog as a replica: row changes with the position to resume from.
//!
//! A position is the start of a transaction plus how many row images of it were already
//! emitted: a transaction's table maps come before its rows, so reading must start at the
//! transaction's first event, and the rows already delivered are skipped.

use std::time::Duration;

use connect_cdc::Op;
use connect_jdbc::db::ConnectionSettings;
use connect_sdk::prelude::*;
use futures_util::StreamExt;
use mysql_async::binlog::events::{Event, EventData, RowsEventData};
use mysql_async::binlog::value::BinlogValue;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn};

/// MariaDB's own GTID event (not known to the MySQL event parser).
const MARIADB_GTID_EVENT: u8 = 162;

/// Where reading resumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// Binlog file.
    pub file: String,
    /// Start of the transaction being read (or of the next one).
    pub pos: u64,
    /// Row images of that transaction already emitted.
    pub rows: u64,
}

/// One row image change read from the binlog.
pub struct RowChange {
    /// Database.
    pub database: String,
    /// Table.
    pub table: String,
    /// What happened.
    pub op: Op,
    /// The row before (updates, deletes).
    pub before: Option<Vec<BinlogValue<'static>>>,
    /// The row after (inserts, updates).
    pub after: Option<Vec<BinlogValue<'static>>>,
    /// Where to resume after this change.
    pub resume: Position,
    /// The transaction's GTID, if the server writes them.
    pub gtid: Option<String>,
    /// Which row of its event this is (from 0).
    pub row_in_event: i32,
    /// When the server wrote the event (ms since the epoch).
    pub ts_ms: i64,
    /// The id of the server that wrote it.
    pub server_id: u32,
}

/// Something the reader saw.
pub enum Change {
    /// Row changes of one rows event.
    Rows(Vec<RowChange>),
    /// A statement that may have changed table definitions (`ALTER`, `CREATE`, `DROP`...).
    SchemaChange(SchemaStatement),
}

/// A DDL statement read from the binlog.
pub struct SchemaStatement {
    /// The database it ran in (the default for unqualified names).
    pub database: String,
    /// The statement.
    pub ddl: String,
    /// Where it took effect: the position right after it.
    pub at: Position,
    /// When the server wrote it (ms since the epoch).
    pub ts_ms: i64,
    /// The id of the server that wrote it.
    pub server_id: u32,
}

/// A binlog stream and the transaction it is in.
pub struct BinlogReader {
    stream: BinlogStream,
    file: String,
    txn_start: u64,
    rows_in_txn: u64,
    /// Rows to skip at the start (already emitted before a restart).
    skip: u64,
    in_txn: bool,
    gtid: Option<String>,
    /// The end of the last event read in `file`.
    read_to: u64,
    /// When the server wrote the last event read (ms since the epoch; 0: none read yet).
    last_event_ms: i64,
}

fn binlog_error(doing: &str, error: mysql_async::Error) -> Error {
    Error::Retriable { message: format!("{doing}: {error}"), source: Some(Box::new(error)) }
}

impl BinlogReader {
    /// Connects as replica `server_id` and reads from `from`.
    pub async fn open(settings: &ConnectionSettings, server_id: u32, from: &Position) -> Result<BinlogReader> {
        let opts = settings.mysql_options()?;
        let mut conn = Conn::new(opts).await.map_err(|e| binlog_error("cannot connect to read the binlog", e))?;
        // MariaDB sends its GTID events only to replicas that say they understand them.
        let _ = mysql_async::prelude::Queryable::query_drop(&mut conn, "SET @mariadb_slave_capability = 4").await;
        let request = BinlogStreamRequest::new(server_id).with_filename(from.file.as_bytes()).with_pos(from.pos);
        let stream = conn.get_binlog_stream(request).await.map_err(|e| binlog_error("cannot request the binlog", e))?;
        Ok(BinlogReader {
            stream,
            file: from.file.clone(),
            txn_start: from.pos,
            rows_in_txn: 0,
            skip: from.rows,
            in_txn: false,
            gtid: None,
            read_to: from.pos,
            last_event_ms: 0,
        })
    }

    /// The next change, or `None` when nothing came within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Change>> {
        loop {
            let event = match connect_sdk::tokio::time::timeout(wait, self.stream.next()).await {
                Err(_) => return Ok(None),
                Ok(None) => return Err(Error::retriable("the server ended the binlog stream")),
                Ok(Some(Err(error))) => return Err(binlog_error("reading the binlog failed", error)),
                Ok(Some(Ok(event))) => event,
            };
            if let Some(change) = self.apply(&event)? {
                return Ok(Some(change));
            }
        }
    }

    /// Follows the transaction state; returns what the event means for the connector.
    fn apply(&mut self, event: &Event) -> Result<Option<Change>> {
        let header = event.header();
        let start = u64::from(header.log_pos()).saturating_sub(u64::from(header.event_size()));
        if header.log_pos() != 0 {
            self.read_to = u64::from(header.log_pos());
        }
        if header.timestamp() != 0 {
            self.last_event_ms = i64::from(header.timestamp()) * 1000;
        }
        if header.event_type_raw() == MARIADB_GTID_EVENT {
            let data = event.data();
            let seq = data.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())).unwrap_or_default();
            let domain = data.get(8..12).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default())).unwrap_or_default();
            self.begin(start, Some(format!("{domain}-{}-{seq}", header.server_id())));
            return Ok(None);
        }
        let data = event.read_data().map_err(|e| Error::with_source("cannot parse a binlog event", e))?;
        match data {
            // The fake rotate a stream starts with comes before the format description, so
            // its name is read with the checksum still attached: the file is known anyway.
            Some(EventData::RotateEvent(_)) if header.log_pos() == 0 => {}
            Some(EventData::RotateEvent(rotate)) => {
                let file = rotate.name().into_owned();
                if file != self.file {
                    self.file = file;
                    self.txn_start = rotate.position();
                    self.read_to = rotate.position();
                    self.in_txn = false;
                }
            }
            Some(EventData::GtidEvent(gtid)) => {
                let sid = gtid.sid();
                let uuid: String = sid.iter().map(|b| format!("{b:02x}")).collect();
                self.begin(
                    start,
                    Some(format!("{}-{}-{}-{}-{}:{}", &uuid[..8], &uuid[8..12], &uuid[12..16], &uuid[16..20], &uuid[20..], gtid.gno())),
                );
            }
            Some(EventData::AnonymousGtidEvent(_)) => self.begin(start, None),
            Some(EventData::QueryEvent(query)) => {
                let sql = query.query();
                let statement = sql.trim_start().to_ascii_uppercase();
                if statement.starts_with("BEGIN") {
                    if !self.in_txn {
                        self.begin(start, self.gtid.clone());
                    }
                    self.in_txn = true;
                } else if statement.starts_with("COMMIT") {
                    self.end(u64::from(header.log_pos()));
                } else {
                    self.end(u64::from(header.log_pos()));
                    let ddl = ["ALTER", "CREATE", "DROP", "RENAME", "TRUNCATE"].iter().any(|k| statement.starts_with(k));
                    if ddl {
                        return Ok(Some(Change::SchemaChange(SchemaStatement {
                            database: query.schema().into_owned(),
                            ddl: sql.into_owned(),
                            at: Position { file: self.file.clone(), pos: self.txn_start, rows: 0 },
                            ts_ms: i64::from(header.timestamp()) * 1000,
                            server_id: header.server_id(),
                        })));
                    }
                }
            }
            Some(EventData::XidEvent(_)) => self.end(u64::from(header.log_pos())),
            Some(EventData::RowsEvent(rows)) => return self.rows(event, &rows).map(|r| (!r.is_empty()).then_some(Change::Rows(r))),
            _ => {}
        }
        Ok(None)
    }

    fn begin(&mut self, start: u64, gtid: Option<String>) {
        if !self.in_txn {
            if start != self.txn_start {
                // A new transaction: what was to be skipped belonged to the one before.
                self.skip = 0;
            }
            self.txn_start = start;
            self.rows_in_txn = 0;
        }
        self.gtid = gtid;
        self.in_txn = true;
    }

    fn end(&mut self, next: u64) {
        self.in_txn = false;
        if self.skip <= self.rows_in_txn {
            self.skip = 0;
        }
        self.txn_start = next;
        self.rows_in_txn = 0;
    }

    fn rows(&mut self, event: &Event, rows: &RowsEventData<'_>) -> Result<Vec<RowChange>> {
        let Some(tme) = self.stream.get_tme(rows.table_id()) else {
            return Err(Error::other(format!("a rows event of table id {} came without its table map", rows.table_id())));
        };
        let (database, table) = (tme.database_name().into_owned(), tme.table_name().into_owned());
        let op = match rows {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => Op::Create,
            RowsEventData::UpdateRowsEventV1(_) | RowsEventData::UpdateRowsEvent(_) | RowsEventData::PartialUpdateRowsEvent(_) => {
                Op::Update
            }
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => Op::Delete,
        };
        let header = event.header();
        let mut out = Vec::new();
        for (index, row) in rows.rows(tme).enumerate() {
            let (before, after) = row.map_err(|e| Error::with_source(format!("cannot decode a row of {database}.{table}"), e))?;
            self.rows_in_txn += 1;
            if self.rows_in_txn <= self.skip {
                continue;
            }
            let values = |row: Option<mysql_async::binlog::row::BinlogRow>| {
                row.map(|mut row| {
                    (0..row.len())
                        .map(|i| row.take(i).map(BinlogValue::into_owned).unwrap_or(BinlogValue::Value(mysql_async::Value::NULL)))
                        .collect()
                })
            };
            out.push(RowChange {
                database: database.clone(),
                table: table.clone(),
                op,
                before: values(before),
                after: values(after),
                resume: Position { file: self.file.clone(), pos: self.txn_start, rows: self.rows_in_txn },
                gtid: self.gtid.clone(),
                row_in_event: index as i32,
                ts_ms: i64::from(header.timestamp()) * 1000,
                server_id: header.server_id(),
            });
        }
        Ok(out)
    }

    /// Where a restart could begin without repeating or missing anything, when the reader is
    /// between transactions: the start of the next one.
    pub fn between_transactions(&self) -> Option<Position> {
        (!self.in_txn).then(|| Position { file: self.file.clone(), pos: self.txn_start, rows: 0 })
    }

    /// How many bytes of binlog are after what was read, given the server's binlog files
    /// and their sizes in order (`SHOW BINARY LOGS`); `None` when the file being read is not
    /// among them.
    pub fn bytes_behind(&self, files: &[(String, u64)]) -> Option<u64> {
        let current = files.iter().position(|(name, _)| *name == self.file)?;
        let rest: u64 = files[current + 1..].iter().map(|(_, size)| size).sum();
        Some(files[current].1.saturating_sub(self.read_to) + rest)
    }

    /// When the server wrote the last event read (ms since the epoch), if one was read.
    pub fn last_event_ms(&self) -> Option<i64> {
        (self.last_event_ms > 0).then_some(self.last_event_ms)
    }

    /// Closes the replica connection.
    pub async fn close(self) {
        let _ = self.stream.close().await;
    }
}
