//! `object-store-sink`: records as files in a local directory or an S3-compatible bucket
//! (through the `object_store` crate), as JSON lines or Parquet (through `arrow`/`parquet`,
//! columns from the record schema), in Kafka's S3 sink layout:
//! `<topics.dir>/<topic>/<partition>/<topic>+<broker>+<queue>+<first offset>.<ext>`.
//!
//! Delivery: exactly once. Each queue fills one file at a time; files are rolled by record
//! count, size, record time, partition and schema, so the same records always make the same
//! files, named by their first offset; the consumer offset of a queue is committed only up to
//! the first record not yet in a written file (`SinkTask::committable_offsets`). A crash
//! therefore rewrites a file under its own name instead of adding a second copy.

mod format;
mod sink;
mod store;

pub use format::Format;
pub use sink::{NullValues, ObjectStoreSink, ObjectStoreSinkTask, Partitioner};
pub use store::S3Settings;
