//! `postgres-cdc-source`: change data capture from PostgreSQL by logical replication.
//!
//! The task streams a logical replication slot with PostgreSQL's built-in `pgoutput` plugin
//! (no server extension to install). With no committed offset it creates the slot, reads the
//! captured tables in the snapshot the slot exported (records with `op` `r`), and then streams
//! from the slot's consistent point, so nothing between the two is missed or read twice.
//! Every insert, update, delete and truncate becomes a record per row, keyed by the primary
//! key, in Debezium's envelope (`before`, `after`, `source` with LSN and transaction id, `op`,
//! `ts_ms`) or as the plain new row (`envelope=row`, deletes as tombstones).
//!
//! Delivery: the offset of a record is its transaction's commit LSN and its place among the
//! transaction's changes. The slot's confirmed position advances only to what the worker
//! committed, so after a restart the server sends the unconfirmed transactions again and
//! what was delivered is skipped: nothing is lost, and under the runtime's exactly-once
//! delivery nothing is repeated. While nothing is waiting for a commit, the position also
//! advances over WAL with no captured change, so an idle or filtered slot does not keep WAL.
//!
//! The relation descriptions of the stream name a row's columns as they were when it was
//! written, so rows before and after an `ALTER TABLE` are each read with their own columns.

mod database;
mod pgoutput;
mod replication;
mod snapshot;
mod source;
mod tables;
mod types;

pub use connect_cdc::{ChangeOptions, Envelope, SnapshotMode, TopicNaming};
pub use source::{PostgresCdcSource, PostgresCdcTask, PublicationMode};
