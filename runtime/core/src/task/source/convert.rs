//! Polled records through the transforms and converters into a batch of wire records.

use std::time::Instant;

use cheetah_string::CheetahString;
use connect_sdk::Error;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use connect_sdk::record::SourceRecord;

use super::delivery::Delivery;
use crate::metrics::Counter;
use crate::task::TaskPipeline;
use crate::task::outbox::Coalesce;
use crate::task::stage::Stage;
use crate::wire::{self, RawRecord};

/// Converted records and the source offsets they carry (acknowledged once they are sent).
pub(super) struct Batch {
    pub(super) offsets: Vec<(SourcePartition, SourceOffset)>,
    pub(super) records: Vec<(u64, RawRecord)>,
    /// The records' size on the wire.
    bytes: usize,
    /// When each poll merged into the batch returned, and how many records it gave.
    pub(super) polls: Vec<(Instant, u64)>,
}

impl Coalesce for Batch {
    fn len(&self) -> usize {
        self.records.len()
    }

    fn bytes(&self) -> usize {
        self.bytes
    }

    fn append(&mut self, later: Batch) {
        // Offsets in poll order: a partition's later offset replaces its earlier one on commit.
        self.bytes += later.bytes;
        self.offsets.extend(later.offsets);
        self.records.extend(later.records);
        self.polls.extend(later.polls);
    }
}

/// What [`convert`] keeps from one poll to the next: a task mostly polls records of one
/// partition to one topic, which are then worked out once, not once a poll.
#[derive(Default)]
pub(super) struct Remembered {
    /// The last partition seen, its queue pin and (exactly once) its markers' key.
    partition: Option<(SourcePartition, u64, u64)>,
    /// The last topic found allowed.
    allowed_topic: Option<String>,
}

/// Polled records through the transforms and converters; failed records follow `errors.tolerance`.
/// An exactly-once source's records are marked, and those the broker already holds dropped.
pub(super) fn convert(
    pipeline: &TaskPipeline,
    records: Vec<SourceRecord>,
    mut delivery: Option<&mut Delivery>,
    remembered: &mut Remembered,
) -> Result<Batch, Error> {
    let polled = Instant::now();
    pipeline.metrics.add(Counter::SourceRecordsPolled, records.len() as u64);
    // Only the last offset of each run of records from one partition is kept: it covers the run.
    let mut offsets: Vec<(SourcePartition, SourceOffset)> = Vec::new();
    let (mut pin, mut partition_key) = (0, 0);
    let mut out = Vec::with_capacity(records.len());
    let mut bytes = 0;
    for record in records {
        let SourceRecord { record, source_partition, source_offset } = record;
        let same_run = offsets.last().is_some_and(|(partition, _)| *partition == source_partition);
        if !same_run {
            // A new run: its partition's text pins its queue and, exactly once, keys its markers.
            match &remembered.partition {
                Some((partition, p, k)) if *partition == source_partition => (pin, partition_key) = (*p, *k),
                _ => {
                    let text = source_partition.to_json_string();
                    pin = partition_hash(&text);
                    partition_key = delivery.as_ref().map_or(0, |delivery| delivery.eos.partition_key(&text));
                    remembered.partition = Some((source_partition.clone(), pin, partition_key));
                }
            }
        }
        let marker = match delivery.as_deref_mut() {
            Some(delivery) => {
                let offset_json = source_offset.to_json_string();
                if !delivery.stored.is_empty() && delivery.stored.take(partition_key, &offset_json) {
                    pipeline.metrics.add(Counter::SourceRecordsDeduplicated, 1);
                    tracing::debug!(connector = %pipeline.connector, task = pipeline.task, offset = %offset_json, "polled again and held by the broker: not sent");
                    None
                } else {
                    Some(Some(CheetahString::from_string(delivery.eos.marker(partition_key, &offset_json))))
                }
            }
            None => Some(None),
        };
        match offsets.last_mut() {
            Some((_, offset)) if same_run => *offset = source_offset,
            _ => offsets.push((source_partition, source_offset)),
        }
        // Already in the broker: its offset counts, the record is not sent again.
        let Some(source_position) = marker else { continue };
        // Described up front only when errors are logged: the record moves into the chain.
        let errors = &pipeline.errors;
        let description = errors.log_enable.then(|| {
            let value = if errors.log_include_messages { record.value.to_string() } else { "<hidden>".to_owned() };
            let topic = record.topic.get(..record.topic.floor_char_boundary(200)).unwrap_or_default();
            format!("topic={topic} value={value}")
        });
        let transformed = match pipeline.chain.apply(record) {
            Ok(Some(r)) => r,
            Ok(None) => {
                pipeline.metrics.add(Counter::RecordsFiltered, 1);
                continue;
            }
            Err(e) => {
                pipeline.tolerate(&Stage::Transformation(e.alias), e.source, || description.unwrap_or_default())?;
                continue;
            }
        };
        // Checked when the topic changes (a task's records mostly share theirs).
        if remembered.allowed_topic.as_deref() != Some(transformed.topic.as_str()) {
            if let Some(refusal) = pipeline.topics.refusal(&transformed.topic) {
                pipeline.tolerate(&Stage::Produce, Error::other(refusal), || description.unwrap_or_default())?;
                continue;
            }
            remembered.allowed_topic = Some(transformed.topic.clone());
        }
        let converters = &pipeline.converters;
        // The record is taken apart: its key and value move into the converters.
        let connect_sdk::record::Record { topic, key, key_schema, value, value_schema, headers, timestamp, .. } = transformed;
        let key = converters.key.encode_owned(&topic, key_schema.as_ref(), key);
        let value = converters.value.encode_owned(&topic, value_schema.as_ref(), value);
        match (key, value) {
            (Ok(key), Ok(value)) => {
                let raw = RawRecord {
                    topic,
                    key: key.map(Into::into),
                    value: value.map(Into::into),
                    headers: wire::header_pairs(&headers),
                    timestamp,
                    source_position,
                };
                let (size, limit) = (raw.wire_size(), pipeline.settings.max_message_bytes);
                if size > limit {
                    let error = format!(
                        "a record for {} of about {size} bytes is larger than the broker's message limit ({limit} bytes, its maxMessageSize)",
                        raw.topic
                    );
                    pipeline.tolerate(&Stage::Produce, Error::other(error), || description.unwrap_or_default())?;
                    continue;
                }
                bytes += size;
                out.push((pin, raw));
            }
            (Err(e), _) => pipeline.tolerate(&Stage::KeyConverter, Error::Data(e), || description.unwrap_or_default())?,
            (_, Err(e)) => pipeline.tolerate(&Stage::ValueConverter, Error::Data(e), || description.unwrap_or_default())?,
        }
    }
    let count = out.len() as u64;
    Ok(Batch { offsets, records: out, bytes, polls: vec![(polled, count)] })
}

/// Where a source partition's records go (hashed from its JSON text): always the same queue
/// of a topic, so a sink reads them in the order the source produced them.
fn partition_hash(partition: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    partition.hash(&mut hasher);
    hasher.finish()
}
