//! How a converted record is laid out in a RocketMQ message, and read back.
//!
//! The value's bytes are the body; the key, the timestamp, a null marker and every header are
//! message properties (RocketMQ properties are text, so a key that is not UTF-8 is base64).
//! A text key without spaces is the message's own `KEYS` (one property, indexed by the broker,
//! shown by RocketMQ's tools); a message from a plain RocketMQ producer reads back with its
//! `KEYS` as the record key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use cheetah_string::CheetahString;
use connect_sdk::data::Value;
use connect_sdk::record::Headers;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;

/// RocketMQ's message key property, which holds a record key that is UTF-8 text without spaces.
pub const ROCKETMQ_KEYS: &str = "KEYS";
/// Property holding any other UTF-8 record key (empty, or with spaces).
pub const KEY: &str = "__connect.key";
/// Property holding the record key as base64, when it is not UTF-8.
pub const KEY_BASE64: &str = "__connect.key.b64";
/// Property holding the record timestamp (ms since the epoch).
pub const TIMESTAMP: &str = "__connect.ts";
/// Property marking a null value (a tombstone); its body is a placeholder byte.
pub const NULL_VALUE: &str = "__connect.null";
/// Property marking an empty value; its body is a placeholder byte.
pub const EMPTY_VALUE: &str = "__connect.empty";
/// The body of a message whose value is null or empty: RocketMQ refuses empty bodies.
const PLACEHOLDER_BODY: &[u8] = b"\0";
/// Prefix of the properties holding headers.
pub const HEADER_PREFIX: &str = "__connect.h.";
/// Property holding where a source record came from (a hash of its connector and source
/// partition, and its offset), when the worker's sources are exactly-once: a restarted task finds what the
/// broker already holds by it. Not a header: sinks do not see it.
pub const SOURCE_POSITION: &str = "__connect.src";

/// A record as bytes: what converters produce and what RocketMQ stores. Keys and values are
/// [`Bytes`], so building a message from one (again, on a retry) and reading one from a
/// consumed message share the buffers instead of copying them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawRecord {
    /// Topic.
    pub topic: String,
    /// Serialized key.
    pub key: Option<Bytes>,
    /// Serialized value (`None` is a tombstone).
    pub value: Option<Bytes>,
    /// Headers, values as text.
    pub headers: Vec<(String, String)>,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    /// The source position marker ([`SOURCE_POSITION`]) of an exactly-once source's record
    /// (shared: a message built again for a retry does not copy it).
    pub source_position: Option<CheetahString>,
}

/// RocketMQ's default largest message (the broker's and the client's `maxMessageSize`), and
/// the largest batch: a batch is stored as one message.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Bytes a message takes beside its body and properties (lengths, flags, checksums), with room to spare.
const MESSAGE_OVERHEAD: usize = 64;

impl RawRecord {
    /// About how many bytes its message takes in a batch: body, key, headers, marker and the
    /// message's own fields (an estimate from above).
    pub fn wire_size(&self) -> usize {
        let text = |s: &str| s.len() + 2;
        MESSAGE_OVERHEAD
            + self.value.as_ref().map_or(0, Bytes::len)
            // Base64 when the key is not text.
            + self.key.as_ref().map_or(0, |k| k.len() * 4 / 3 + 4 + text(KEY_BASE64))
            + self.headers.iter().map(|(k, v)| text(HEADER_PREFIX) + text(k) + text(v)).sum::<usize>()
            + self.source_position.as_ref().map_or(0, |p| text(SOURCE_POSITION) + text(p))
            + self.timestamp.map_or(0, |_| text(TIMESTAMP) + 20)
    }
}

/// `records` cut into runs of at most `max_records` records and, unless one record alone is
/// larger, `max_bytes` bytes of messages.
pub fn batches(records: &[RawRecord], max_records: usize, max_bytes: usize) -> Vec<&[RawRecord]> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, record) in records.iter().enumerate() {
        let size = record.wire_size();
        if i > start && (i - start >= max_records.max(1) || bytes + size > max_bytes) {
            runs.push(&records[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < records.len() {
        runs.push(&records[start..]);
    }
    runs
}

/// Header values travel as text.
pub fn header_pairs(headers: &Headers) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            let text = match &h.value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (h.key.clone(), text)
        })
        .collect()
}

/// A record could not be laid out as a message (a property the broker refuses, say).
#[derive(Debug, thiserror::Error)]
#[error("cannot lay out a record of topic {topic} as a RocketMQ message: {source}")]
pub struct WireError {
    /// The record's topic.
    pub topic: String,
    /// What the message builder refused.
    #[source]
    pub source: rocketmq_error::Error,
}

/// The RocketMQ message for `record`.
pub fn to_message(record: &RawRecord) -> Result<Message, WireError> {
    MessageEncoder::new(CheetahString::from_slice(&record.topic)).message(record)
}

/// Builds the messages of one topic. Consecutive records of a batch usually share their
/// key and timestamp (a source's batch stamped at once, a partition's key): their property
/// strings are made once and shared.
pub struct MessageEncoder {
    topic: CheetahString,
    key: Option<(Bytes, CheetahString)>,
    timestamp: Option<(i64, CheetahString)>,
}

impl MessageEncoder {
    /// An encoder for messages of `topic`.
    pub fn new(topic: CheetahString) -> MessageEncoder {
        MessageEncoder { topic, key: None, timestamp: None }
    }

    /// The RocketMQ message for `record` (of this encoder's topic).
    pub fn message(&mut self, record: &RawRecord) -> Result<Message, WireError> {
        let topic = &self.topic;
        let refused = |source| WireError { topic: topic.to_string(), source };
        let mut builder = Message::builder().topic(self.topic.clone());
        builder = match &record.value {
            Some(body) if !body.is_empty() => builder.body(body.clone()),
            Some(_) => builder.body_slice(PLACEHOLDER_BODY).raw_property(EMPTY_VALUE, "1").map_err(refused)?,
            None => builder.body_slice(PLACEHOLDER_BODY).raw_property(NULL_VALUE, "1").map_err(refused)?,
        };
        if let Some(key) = &record.key {
            builder = match std::str::from_utf8(key) {
                // RocketMQ's own key (indexed, shown by its tools) when it can hold the key
                // as is: not empty, no space (its separator of several keys).
                Ok(text) if !text.is_empty() && !text.contains(' ') => {
                    let shared = match &self.key {
                        Some((bytes, shared)) if bytes == key => shared.clone(),
                        _ => {
                            let shared = CheetahString::from_string_shared(text.to_owned());
                            self.key = Some((key.clone(), shared.clone()));
                            shared
                        }
                    };
                    builder.key(shared)
                }
                Ok(text) => builder.raw_property(KEY, text).map_err(refused)?,
                Err(_) => builder.raw_property(KEY_BASE64, BASE64.encode(key)).map_err(refused)?,
            };
        }
        if let Some(ts) = record.timestamp {
            let text = match &self.timestamp {
                Some((at, text)) if *at == ts => text.clone(),
                _ => {
                    let text = CheetahString::from_string_shared(ts.to_string());
                    self.timestamp = Some((ts, text.clone()));
                    text
                }
            };
            builder = builder.raw_property(TIMESTAMP, text).map_err(refused)?;
        }
        for (name, value) in &record.headers {
            builder = builder.raw_property(format!("{HEADER_PREFIX}{name}"), value.as_str()).map_err(refused)?;
        }
        if let Some(position) = &record.source_position {
            builder = builder.raw_property(SOURCE_POSITION, position.clone()).map_err(refused)?;
        }
        builder.build().map_err(refused)
    }
}

/// The raw record a consumed message holds.
pub fn from_message(message: &MessageExt) -> RawRecord {
    let properties = message.properties();
    let property = |name: &str| properties.get(name).map(|v| v.as_str());
    let key = property(KEY)
        .or_else(|| property(ROCKETMQ_KEYS))
        .map(|k| Bytes::copy_from_slice(k.as_bytes()))
        .or_else(|| property(KEY_BASE64).and_then(|k| BASE64.decode(k).ok()).map(Bytes::from));
    let value = match (property(NULL_VALUE), property(EMPTY_VALUE)) {
        (Some(_), _) => None,
        (None, Some(_)) => Some(Bytes::new()),
        (None, None) => Some(message.body().unwrap_or_default()),
    };
    let mut headers: Vec<(String, String)> =
        properties.iter().filter_map(|(k, v)| Some((k.as_str().strip_prefix(HEADER_PREFIX)?.to_owned(), v.as_str().to_owned()))).collect();
    headers.sort();
    let timestamp = property(TIMESTAMP).and_then(|t| t.parse().ok()).or(Some(message.born_timestamp()));
    RawRecord { topic: message.topic().to_string(), key, value, headers, timestamp, source_position: None }
}

/// 64-bit FNV-1a: a hash that stays the same across Rust versions and builds (markers and
/// group names outlive the worker that wrote them).
pub(crate) fn fnv1a<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.into_iter().flatten() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_under_their_record_count_and_bytes() {
        let record = |bytes: usize| RawRecord {
            topic: "t".into(),
            key: None,
            value: Some(Bytes::from(vec![b'x'; bytes])),
            headers: Vec::new(),
            timestamp: None,
            source_position: None,
        };
        let records: Vec<RawRecord> = (0..10).map(|_| record(1000)).collect();
        let sizes = |runs: Vec<&[RawRecord]>| runs.iter().map(|r| r.len()).collect::<Vec<_>>();
        assert_eq!(sizes(batches(&records, 4, usize::MAX)), [4, 4, 2]);
        assert_eq!(sizes(batches(&records, 100, 3 * record(1000).wire_size())), [3, 3, 3, 1]);
        assert_eq!(sizes(batches(&[record(10_000)], 100, 100)), [1], "a record alone larger than the bound is its own batch");
        assert!(batches(&[], 4, 100).is_empty());
    }

    fn round_trip(record: &RawRecord) -> (Message, RawRecord) {
        let message = to_message(record).expect("a valid record");
        let mut consumed = MessageExt::default();
        consumed.set_message_inner(message.clone());
        (message, from_message(&consumed))
    }

    fn record(key: &[u8]) -> RawRecord {
        RawRecord {
            topic: "orders".to_owned(),
            key: Some(Bytes::copy_from_slice(key)),
            value: Some(Bytes::from_static(b"{\"id\":1}")),
            headers: vec![("trace".to_owned(), "abc".to_owned())],
            timestamp: Some(1_700_000_000_123),
            source_position: None,
        }
    }

    #[test]
    fn a_plain_text_key_is_rocketmqs_key_only() {
        let (message, back) = round_trip(&record(b"order-17"));
        assert_eq!(message.property(ROCKETMQ_KEYS), Some("order-17"));
        assert_eq!(message.property(KEY), None);
        assert_eq!(back.key.as_deref(), Some(&b"order-17"[..]));
        assert_eq!(back.value.as_deref(), Some(&b"{\"id\":1}"[..]));
        assert_eq!(back.headers, vec![("trace".to_owned(), "abc".to_owned())]);
        assert_eq!(back.timestamp, Some(1_700_000_000_123));
    }

    #[test]
    fn an_encoder_shares_repeated_keys_and_timestamps_but_never_mixes_them_up() {
        let mut encoder = MessageEncoder::new(CheetahString::from_slice("orders"));
        let (a, b) = (record(b"k1"), RawRecord { timestamp: Some(7), ..record(b"k2") });
        let messages: Vec<Message> = [&a, &a, &b, &a].iter().map(|r| encoder.message(r).unwrap()).collect();
        let keys: Vec<Option<&str>> = messages.iter().map(|m| m.property(ROCKETMQ_KEYS)).collect();
        assert_eq!(keys, [Some("k1"), Some("k1"), Some("k2"), Some("k1")]);
        let stamps: Vec<Option<&str>> = messages.iter().map(|m| m.property(TIMESTAMP)).collect();
        assert_eq!(stamps, [Some("1700000000123"), Some("1700000000123"), Some("7"), Some("1700000000123")]);
    }

    #[test]
    fn keys_rocketmq_cannot_hold_travel_as_properties() {
        for key in [&b"two words"[..], b""] {
            let (message, back) = round_trip(&record(key));
            assert_eq!(message.property(ROCKETMQ_KEYS), None, "{key:?}");
            assert_eq!(back.key.as_deref(), Some(key));
        }
        let (message, back) = round_trip(&record(&[0xff, 0x00]));
        assert!(message.property(KEY_BASE64).is_some());
        assert_eq!(back.key.as_deref(), Some(&[0xff, 0x00][..]));
    }

    #[test]
    fn tombstones_and_plain_producers_messages_read_back() {
        for value in [None, Some(Bytes::new())] {
            let (message, back) = round_trip(&RawRecord { topic: "t".to_owned(), value: value.clone(), ..RawRecord::default() });
            assert!(message.body().is_some_and(|b| !b.is_empty()), "RocketMQ refuses an empty body");
            assert_eq!(back.value, value);
        }
        let plain = Message::builder().topic("t").body_slice(b"v").key("k1").build().expect("a message");
        let mut consumed = MessageExt::default();
        consumed.set_message_inner(plain);
        let back = from_message(&consumed);
        assert_eq!((back.key.as_deref(), back.value.as_deref()), (Some(&b"k1"[..]), Some(&b"v"[..])));
    }
}
