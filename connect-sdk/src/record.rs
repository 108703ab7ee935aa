//! Records: the common [`Record`] body, [`SourceRecord`] (with a source partition and offset)
//! and [`SinkRecord`] (with the RocketMQ queue and offset it was read from).

use std::ops::{Deref, DerefMut};

use crate::data::{Schema, Value};
use crate::offsets::{SourceOffset, SourcePartition};

/// One header of a record.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: Value,
    /// Optional schema of the value.
    pub schema: Option<Schema>,
}

/// The ordered headers of a record; a name may repeat, as in Kafka Connect.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Appends a header.
    pub fn add(&mut self, key: impl Into<String>, value: impl Into<Value>) -> &mut Headers {
        self.add_with_schema(key, value, None)
    }

    /// Appends a header with a schema.
    pub fn add_with_schema(&mut self, key: impl Into<String>, value: impl Into<Value>, schema: Option<Schema>) -> &mut Headers {
        self.0.push(Header { key: key.into(), value: value.into(), schema });
        self
    }

    /// The last header called `key`.
    pub fn last(&self, key: &str) -> Option<&Header> {
        self.0.iter().rev().find(|h| h.key == key)
    }

    /// Removes every header called `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|h| h.key != key);
    }

    /// Iterates in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Now as a record timestamp: milliseconds since the Unix epoch (0 on a clock set before it).
///
/// ```
/// let now = connect_sdk::record::now_millis();
/// assert!(now > 1_600_000_000_000);
/// ```
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// What every record has: topic, key, value (each with an optional schema), headers and a
/// timestamp. Transforms work on this part; [`SourceRecord`] and [`SinkRecord`] dereference to it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// The RocketMQ topic.
    pub topic: String,
    /// For a record read from RocketMQ, the queue id it came from (Kafka's partition).
    pub queue_id: Option<i32>,
    /// For a record read from RocketMQ, its offset in that queue.
    pub queue_offset: Option<i64>,
    /// The key ([`Value::Null`] when there is none).
    pub key: Value,
    /// The key's schema.
    pub key_schema: Option<Schema>,
    /// The value ([`Value::Null`] is a tombstone).
    pub value: Value,
    /// The value's schema.
    pub value_schema: Option<Schema>,
    /// Headers: ordered key/value pairs, a key may repeat.
    pub headers: Headers,
    /// Milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
}

impl Record {
    /// A record with a topic and a schemaless value.
    pub fn new(topic: impl Into<String>, value: impl Into<Value>) -> Record {
        Record { topic: topic.into(), value: value.into(), ..Record::default() }
    }
}

macro_rules! record_builders {
    ($ty:ident) => {
        impl $ty {
            /// Sets the key.
            pub fn with_key(mut self, key: impl Into<Value>) -> Self {
                self.record.key = key.into();
                self
            }

            /// Sets the key's schema.
            pub fn with_key_schema(mut self, schema: Schema) -> Self {
                self.record.key_schema = Some(schema);
                self
            }

            /// Sets the value's schema.
            pub fn with_value_schema(mut self, schema: Schema) -> Self {
                self.record.value_schema = Some(schema);
                self
            }

            /// Appends a header.
            pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
                self.record.headers.add(key, value);
                self
            }

            /// Sets the timestamp (milliseconds since the Unix epoch).
            pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
                self.record.timestamp = Some(timestamp_ms);
                self
            }
        }

        impl Deref for $ty {
            type Target = Record;
            fn deref(&self) -> &Record {
                &self.record
            }
        }

        impl DerefMut for $ty {
            fn deref_mut(&mut self) -> &mut Record {
                &mut self.record
            }
        }
    };
}

/// A record produced by a source task: where it came from (`source_partition`) and how far
/// the source had got (`source_offset`), plus the [`Record`] body it dereferences to.
///
/// ```
/// use connect_sdk::prelude::*;
/// let record = SourceRecord::new(
///     SourcePartition::new().with("file", "/tmp/in.txt"),
///     SourceOffset::new().with("position", 42),
///     "lines",
///     "hello",
/// )
/// .with_key("k");
/// assert_eq!(record.topic, "lines");
/// assert_eq!(record.source_offset.get_i64("position"), Some(42));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SourceRecord {
    /// Which part of the source this record came from (a file, a table, a queue...).
    pub source_partition: SourcePartition,
    /// Position in that partition once this record is durable; a restarted task reads it back.
    pub source_offset: SourceOffset,
    /// Topic, key, value, headers, timestamp.
    pub record: Record,
}

impl SourceRecord {
    /// A record for `topic` with a schemaless value.
    pub fn new(partition: SourcePartition, offset: SourceOffset, topic: impl Into<String>, value: impl Into<Value>) -> SourceRecord {
        SourceRecord { source_partition: partition, source_offset: offset, record: Record::new(topic, value) }
    }
}

record_builders!(SourceRecord);

/// A record delivered to a sink task: the [`Record`] body (whose `queue_id` and
/// `queue_offset` say where it was read) plus the broker it was read from.
///
/// ```
/// use connect_sdk::prelude::*;
/// let record = SinkRecord::new("orders", 3, 120, "payload");
/// assert_eq!((record.position(), record.queue().queue_id), (120, 3));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SinkRecord {
    /// The broker holding the queue.
    pub broker_name: String,
    /// Topic, queue id and offset, key, value, headers, timestamp.
    pub record: Record,
}

impl SinkRecord {
    /// A record read from `queue_id` of `topic` at `queue_offset`.
    pub fn new(topic: impl Into<String>, queue_id: i32, queue_offset: i64, value: impl Into<Value>) -> SinkRecord {
        let mut record = Record::new(topic, value);
        record.queue_id = Some(queue_id);
        record.queue_offset = Some(queue_offset);
        SinkRecord { broker_name: String::new(), record }
    }

    /// Sets the broker name.
    pub fn with_broker(mut self, broker_name: impl Into<String>) -> Self {
        self.broker_name = broker_name.into();
        self
    }

    /// The queue this record came from.
    pub fn queue(&self) -> QueueId {
        QueueId { topic: self.record.topic.clone(), broker_name: self.broker_name.clone(), queue_id: self.record.queue_id.unwrap_or(-1) }
    }

    /// The record's offset in its queue.
    pub fn position(&self) -> i64 {
        self.record.queue_offset.unwrap_or(-1)
    }
}

record_builders!(SinkRecord);

/// Identifies one RocketMQ message queue (serialized as `{"topic", "broker_name", "queue_id"}`,
/// for sinks that store their positions).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct QueueId {
    /// The topic the queue belongs to.
    pub topic: String,
    /// Broker name.
    pub broker_name: String,
    /// Queue id within the topic.
    pub queue_id: i32,
}
