//! JDBC-style connectors for PostgreSQL and MySQL/MariaDB, with the keys and semantics of
//! Kafka's JDBC connectors: `jdbc-source` copies tables (or a query) into topics in bulk or
//! incrementally by an incrementing and/or timestamp column; `jdbc-sink` writes struct
//! records into tables by insert, upsert or update on a primary key, deletes on tombstones,
//! and creates or widens tables from the record schema.
//!
//! Delivery: the source is at least once (a row is read again only after a crash between its
//! poll and its offset commit); the sink is exactly once: each transaction stores the queue
//! positions of the records it writes (`offsets.table`), and a task resumes from them.

pub mod db;
pub mod filter;
mod positions;
mod query;
mod sink;
mod source;
mod write;

pub use query::Mode;
pub use sink::{JdbcSink, JdbcSinkTask};
pub use source::{JdbcSource, JdbcSourceTask};
pub use write::{InsertMode, PkMode};
