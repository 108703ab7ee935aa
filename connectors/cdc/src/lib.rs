//! What the change data capture connectors (`mysql-cdc-source`, `postgres-cdc-source`) share.
//!
//! A CDC task reads the captured tables once in a consistent snapshot (records with `op` `r`)
//! and then follows the database's change log; both phases produce the same records. This
//! crate holds what does not depend on the database:
//!
//! - [`TopicNaming`]: `topic.prefix` and `topic.delimiter`;
//! - [`ChangeOptions`]: the keys every CDC connector has (`snapshot.mode`, `envelope`,
//!   `tombstones.on.delete`, `max.batch.size`, `poll.interval.ms`), flattened into its config;
//! - [`ChangeSchemas`]: a table's row, key and Debezium envelope schemas, [`SourceHead`] the
//!   head of the envelope's `source` block;
//! - [`ChangeRecords`]: one change as its record(s), keyed by the primary key and shaped by
//!   the envelope (a delete followed by a tombstone when asked);
//! - [`Heartbeats`]: records that carry the log position while no captured table changes;
//! - [`Phase`]: snapshot, then stream, and the step between them;
//! - [`Reconnects`]: how many lost connections in a row a task rides out;
//! - [`LagReport`]: how far behind its database a task is (bytes and seconds) and its
//!   snapshot's progress, reported to the worker.
//!
//! This crate registers no connector; it knows nothing of a database's protocol.

mod heartbeat;
mod lag;
mod options;
mod phase;
mod records;
mod schemas;

pub use heartbeat::Heartbeats;
pub use lag::{COUNT_ROWS_BELOW, LagReport};
pub use options::{ChangeOptions, Envelope, SnapshotMode, TopicNaming, one_reader};
pub use phase::{Phase, Reconnects, SnapshotRead};
pub use records::{Change, ChangeRecords, Op};
pub use schemas::{ChangeSchemas, SourceHead};
