//! The transforms Kafka Connect ships, with its names, keys and semantics.

mod cast;
mod date_format;
mod debezium;
mod fields;
mod flatten;
mod headers;
mod routing;
mod timestamp;

pub use cast::Cast;
pub use debezium::{DeleteHandling, ExtractNewRecordState};
pub use fields::{ExtractField, FieldSyntax, HoistField, InsertField, MaskField, ReplaceField, ValueToKey};
pub use flatten::Flatten;
pub use headers::{DropHeaders, HeaderFrom, HeaderOperation, InsertHeader};
pub(crate) use routing::full_match;
pub use routing::{Filter, RegexRouter};
pub use timestamp::{TimestampConverter, TimestampRouter, TimestampType, UnixPrecision};
