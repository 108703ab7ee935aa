//! `mysql-cdc-source`: change data capture from MySQL and MariaDB.
//!
//! The task connects as a replica and reads the binlog (row format). With no committed
//! offset it first reads the captured tables in one consistent snapshot (records with `op`
//! `r`) and then streams from the binlog position of that snapshot, so nothing between the
//! two is missed. Every insert, update and delete becomes one record per row, keyed by the
//! primary key, in Debezium's envelope (`before`, `after`, `source` with file, position, row
//! and GTID, `op`, `ts_ms`) or as the plain new row (`envelope=row`, deletes as tombstones).
//!
//! Delivery: at least once. The offset of a record is the start of its transaction plus the
//! rows of it already emitted, so a restart re-reads the transaction and skips what was
//! delivered; a crash between a poll and its offset commit redelivers those changes. A
//! crash during the snapshot restarts the snapshot.
//!
//! Column names come from a schema history: the captured tables' columns as the snapshot (or
//! `information_schema`, when a table is first seen) found them, changed by every DDL
//! statement read from the binlog since (`CREATE`, `ALTER`, `RENAME`, `DROP TABLE`), so a row
//! is decoded with the columns it was written with, however far behind the reader is. Each
//! such statement also becomes a schema change record on the topic `<topic.prefix>` (Debezium's
//! schema change topic), whose offset carries the history: a restarted task reads it back.

mod binlog;
mod ddl;
mod history;
mod schema;
mod schema_change;
mod snapshot;
mod source;
mod values;

pub use connect_cdc::{ChangeOptions, Envelope, SnapshotMode, TopicNaming};
pub use schema::TimePrecision;
pub use source::{MySqlCdcSource, MySqlCdcTask};
