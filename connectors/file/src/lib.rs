//! File connectors, compatible with Kafka's FileStream connectors: `file-source` streams the
//! lines of one or more files into a topic and resumes by byte position; `file-sink` appends
//! one line per record value.

mod sink;
mod source;

pub use sink::{FileSink, FileSinkTask};
pub use source::{FileSource, FileSourceTask};
