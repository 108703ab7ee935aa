//! How a converted record is laid out in a RocketMQ message, and read back. What is public
//! are the property names, for plain RocketMQ clients reading or writing what connectors do;
//! the layout itself is the runtime's (no RocketMQ client type is in its public API).
//!
//! The value's bytes are the body; the key, the timestamp, a null marker and every header are
//! message properties (RocketMQ properties are text, so a key that is not UTF-8 is base64).
//! A text key without spaces is the message's own `KEYS` (one property, indexed by the broker,
//! shown by RocketMQ's tools); a message from a plain RocketMQ producer reads back with its
//! `KEYS` as the record key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{BufMut, Bytes, BytesMut};
use cheetah_string::CheetahString;
use connect_sdk::data::Value;
use connect_sdk::record::Headers;
use rocketmq_model::common::message::MessageTrait;
use rocketmq_model::common::message::message_batch::MessageBatch;
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
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

/// Bytes a message takes beside its body and the record's properties (lengths, flags,
/// checksums, the `WAIT` and `UNIQ_KEY` properties), with room to spare.
const MESSAGE_OVERHEAD: usize = 128;

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
pub(crate) fn batches(records: &[RawRecord], max_records: usize, max_bytes: usize) -> Vec<&[RawRecord]> {
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

/// A record could not be laid out as a message.
#[derive(Debug, thiserror::Error)]
#[error("cannot lay out a record of topic {topic} as a RocketMQ message: {reason}")]
pub(crate) struct WireError {
    /// The record's topic.
    pub topic: String,
    /// What is wrong with it.
    #[source]
    pub reason: Unwritable,
}

/// Why a record cannot be a RocketMQ message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unwritable {
    /// A property holds a character RocketMQ separates properties with.
    #[error("the property {0} holds a control character RocketMQ separates properties with (U+0001 or U+0002)")]
    Separator(String),
    /// The properties are longer than a message carries.
    #[error("its properties take {0} bytes, more than RocketMQ's limit of 32767")]
    PropertiesTooLong(usize),
    /// The client refused the message.
    #[error(transparent)]
    Message(rocketmq_error::Error),
}

/// Separates a property's name from its value in RocketMQ's property text.
const NAME_VALUE_SEPARATOR: u8 = 1;
/// Ends each property in RocketMQ's property text.
const PROPERTY_SEPARATOR: u8 = 2;
/// RocketMQ's property asking the broker to answer once the message is stored.
const WAIT_STORE_MSG_OK: &str = "WAIT";
/// RocketMQ's property holding the message id its producer gave it.
const UNIQ_KEY: &str = "UNIQ_KEY";

/// The RocketMQ message for `record` (sent on its own, as the dead-letter queue does).
pub(crate) fn to_message(record: &RawRecord) -> Result<Message, WireError> {
    let refused = |reason: Unwritable| WireError { topic: record.topic.clone(), reason };
    let mut text = BytesMut::new();
    write_properties(record, &mut text).map_err(refused)?;
    let mut message = Message::builder()
        .topic(record.topic.as_str())
        .body(record.value.clone().filter(|value| !value.is_empty()).unwrap_or_else(|| Bytes::from_static(PLACEHOLDER_BODY)))
        .build()
        .map_err(|e| refused(Unwritable::Message(e)))?;
    for property in text[..].split(|b| *b == PROPERTY_SEPARATOR).filter(|p| !p.is_empty()) {
        let at = property.iter().position(|b| *b == NAME_VALUE_SEPARATOR).unwrap_or(property.len());
        let (name, value) = (&property[..at], property.get(at + 1..).unwrap_or_default());
        // Written from UTF-8 text and split at ASCII separators: still UTF-8.
        message.put_property(String::from_utf8_lossy(name).into_owned().into(), String::from_utf8_lossy(value).into_owned().into());
    }
    Ok(message)
}

/// `records` (all of `topic`) as one RocketMQ batch, laid out here instead of by the client:
/// each record is written straight into the batch body in RocketMQ's wire format, with no
/// `Message` built per record, no property map, no per-record text copied in between. Each
/// entry gets what the client's own batch would give it (`WAIT`, a `UNIQ_KEY` message id).
pub(crate) fn encode_batch(topic: CheetahString, records: &[RawRecord]) -> Result<MessageBatch, WireError> {
    let mut body = BytesMut::with_capacity(records.iter().map(RawRecord::wire_size).sum());
    for record in records {
        encode_entry(record, &mut body).map_err(|reason| WireError { topic: topic.to_string(), reason })?;
    }
    let mut message = Message::default();
    message.set_topic(topic);
    message.set_wait_store_msg_ok(true);
    MessageClientIDSetter::set_uniq_id(&mut message);
    message.set_body(Some(body.freeze()));
    Ok(MessageBatch { final_message: message, messages: Vec::new() })
}

/// Appends one batch entry for `record` to `out` (RocketMQ's layout: total size, magic code,
/// body CRC, flag, body with its length, properties with their length).
fn encode_entry(record: &RawRecord, out: &mut BytesMut) -> Result<(), Unwritable> {
    let body = body(record);
    let start = out.len();
    // No reserve here: the batch's buffer was sized from every record's `wire_size`, an estimate from above.
    out.put_i32(0); // total size, set below
    out.put_i32(0); // magic code
    out.put_u32(0); // body CRC (the broker computes it)
    out.put_i32(0); // flag
    out.put_i32(body.len() as i32);
    out.put_slice(body);
    let properties_at = out.len();
    out.put_i16(0); // length of the properties, set below
    let written = put_property(out, &[WAIT_STORE_MSG_OK], "true")
        .and_then(|()| write_properties(record, out))
        .and_then(|()| put_property(out, &[UNIQ_KEY], &MessageClientIDSetter::create_uniq_id()));
    let properties = out.len() - properties_at - 2;
    let refused = match written {
        Err(reason) => Some(reason),
        Ok(()) if properties > i16::MAX as usize => Some(Unwritable::PropertiesTooLong(properties)),
        Ok(()) => None,
    };
    if let Some(reason) = refused {
        out.truncate(start);
        return Err(reason);
    }
    out[properties_at..properties_at + 2].copy_from_slice(&(properties as i16).to_be_bytes());
    let total = (out.len() - start) as i32;
    out[start..start + 4].copy_from_slice(&total.to_be_bytes());
    Ok(())
}

/// The body of `record`'s message: its value, or a placeholder for a null or empty one.
fn body(record: &RawRecord) -> &[u8] {
    match &record.value {
        Some(value) if !value.is_empty() => value,
        _ => PLACEHOLDER_BODY,
    }
}

/// Writes the properties that carry `record` beside its body, as RocketMQ's property text:
/// the null or empty marker, the key, the timestamp, the headers and the source position.
fn write_properties(record: &RawRecord, out: &mut BytesMut) -> Result<(), Unwritable> {
    match &record.value {
        None => put_property(out, &[NULL_VALUE], "1")?,
        Some(value) if value.is_empty() => put_property(out, &[EMPTY_VALUE], "1")?,
        Some(_) => {}
    }
    if let Some(key) = &record.key {
        match std::str::from_utf8(key) {
            // RocketMQ's own key (indexed, shown by its tools) when it can hold the key as is:
            // not empty, no space (its separator of several keys).
            Ok(text) if !text.is_empty() && !text.contains(' ') && !has_separator(text) => put_property(out, &[ROCKETMQ_KEYS], text)?,
            Ok(text) if !has_separator(text) => put_property(out, &[KEY], text)?,
            _ => put_property(out, &[KEY_BASE64], &BASE64.encode(key))?,
        }
    }
    if let Some(timestamp) = record.timestamp {
        put_property(out, &[TIMESTAMP], itoa::Buffer::new().format(timestamp))?;
    }
    for (name, value) in &record.headers {
        put_property(out, &[HEADER_PREFIX, name], value)?;
    }
    if let Some(position) = &record.source_position {
        put_property(out, &[SOURCE_POSITION], position)?;
    }
    Ok(())
}

/// True when `text` holds one of the characters RocketMQ separates properties with.
fn has_separator(text: &str) -> bool {
    text.bytes().any(|b| b == NAME_VALUE_SEPARATOR || b == PROPERTY_SEPARATOR)
}

/// Appends the property `name` (the concatenation of its parts) with `value`.
fn put_property(out: &mut BytesMut, name: &[&str], value: &str) -> Result<(), Unwritable> {
    if name.iter().any(|part| has_separator(part)) || has_separator(value) {
        return Err(Unwritable::Separator(name.concat()));
    }
    for part in name {
        out.put_slice(part.as_bytes());
    }
    out.put_u8(NAME_VALUE_SEPARATOR);
    out.put_slice(value.as_bytes());
    out.put_u8(PROPERTY_SEPARATOR);
    Ok(())
}

/// The raw record a consumed message holds.
pub(crate) fn from_message(message: &MessageExt) -> RawRecord {
    // One pass over the properties: a lookup per name would hash every name (five of them)
    // and a second pass would still be needed for the headers.
    let (mut key, mut rocketmq_keys, mut key_base64, mut timestamp) = (None, None, None, None);
    let (mut null_value, mut empty_value) = (false, false);
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in message.properties() {
        let value = value.as_str();
        match name.as_str() {
            KEY => key = Some(value),
            ROCKETMQ_KEYS => rocketmq_keys = Some(value),
            KEY_BASE64 => key_base64 = Some(value),
            TIMESTAMP => timestamp = value.parse().ok(),
            NULL_VALUE => null_value = true,
            EMPTY_VALUE => empty_value = true,
            name => {
                if let Some(header) = name.strip_prefix(HEADER_PREFIX) {
                    headers.push((header.to_owned(), value.to_owned()));
                }
            }
        }
    }
    let key = key
        .or(rocketmq_keys)
        .map(|k| Bytes::copy_from_slice(k.as_bytes()))
        .or_else(|| key_base64.and_then(|k| BASE64.decode(k).ok()).map(Bytes::from));
    let value = match (null_value, empty_value) {
        (true, _) => None,
        (false, true) => Some(Bytes::new()),
        (false, false) => Some(message.body().unwrap_or_default()),
    };
    headers.sort();
    let timestamp = timestamp.or(Some(message.born_timestamp()));
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
    fn a_batch_laid_out_here_reads_back_record_by_record() {
        let records = vec![
            record(b"order-17"),
            RawRecord { source_position: Some("00ff{\"n\":1}".into()), ..record(b"two words") },
            RawRecord { key: Some(Bytes::from_static(&[0xff, 0x00])), value: None, headers: Vec::new(), timestamp: None, ..record(b"") },
            RawRecord { key: Some(Bytes::from_static(b"a\x02b")), value: Some(Bytes::new()), ..record(b"") },
        ];
        let batch = encode_batch(CheetahString::from_slice("orders"), &records).expect("a valid batch");
        assert_eq!(batch.final_message.topic().as_str(), "orders");
        assert!(batch.final_message.is_wait_store_msg_ok());
        assert!(batch.final_message.property(UNIQ_KEY).is_some(), "the batch has an id, as the client's own batch");
        let mut body = batch.final_message.body().expect("a body");
        let decoded = rocketmq_protocol::common::message::message_decoder::decode_messages(&mut body);
        assert_eq!(decoded.len(), records.len());
        let mut ids = std::collections::HashSet::new();
        for (message, record) in decoded.into_iter().zip(&records) {
            assert!(message.body().is_some_and(|b| !b.is_empty()), "RocketMQ refuses an empty body");
            assert!(message.is_wait_store_msg_ok());
            assert!(ids.insert(message.property(UNIQ_KEY).expect("a message id").to_string()), "message ids differ");
            let marker = message.property(SOURCE_POSITION).map(|m| m.to_string());
            let mut consumed = MessageExt::default();
            consumed.set_message_inner(message);
            let back = from_message(&consumed);
            assert_eq!((&back.key, &back.value, &back.headers), (&record.key, &record.value, &record.headers));
            assert_eq!(marker.as_deref(), record.source_position.as_deref());
            if record.timestamp.is_some() {
                assert_eq!(back.timestamp, record.timestamp);
            }
        }
    }

    #[test]
    fn a_property_holding_rocketmqs_separators_is_refused_and_the_batch_with_it() {
        let bad = RawRecord { headers: vec![("trace".to_owned(), "a\u{1}b".to_owned())], ..record(b"k") };
        let error = encode_batch(CheetahString::from_slice("orders"), &[record(b"k"), bad.clone()]).expect_err("refused");
        assert!(error.to_string().contains("__connect.h.trace"), "{error}");
        assert!(to_message(&bad).is_err());
        let huge = RawRecord { headers: vec![("h".to_owned(), "x".repeat(40_000))], ..record(b"k") };
        let error = encode_batch(CheetahString::from_slice("orders"), &[huge]).expect_err("refused");
        assert!(error.to_string().contains("properties take"), "{error}");
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
