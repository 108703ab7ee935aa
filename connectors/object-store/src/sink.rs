//! `object-store-sink`: the connector config, and the task that fills and writes files.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use connect_sdk::QueueOffsets;
use connect_sdk::config::ConfigErrors;
use connect_sdk::prelude::*;

use crate::format::Format;
use crate::store::{S3Settings, Store};

/// How a record's directory under its topic is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Partitioner {
    /// `queue=<broker>-<queue id>` (Kafka's DefaultPartitioner).
    #[default]
    Default,
    /// The record's timestamp formatted by `path.format` (UTC).
    Time,
    /// `<field>=<value>` for each of `partition.field.name` (fields of the record value).
    Field,
}

/// Writes records to files in a local directory or an S3-compatible bucket, as JSON lines
/// or Parquet, under `<topics.dir>/<topic>/<partition>/`, named
/// `<topic>+<broker>+<queue>+<first offset>.<ext>` (Kafka's S3 sink layout). A file is
/// written whole once it holds `flush.size` records or `file.max.bytes`, when the next
/// record's timestamp is `rotate.interval.ms` past its first, when a record belongs to
/// another partition or (Parquet) has another schema, and, by wall clock, once it is
/// `rotate.schedule.interval.ms` old.
///
/// Exactly once: a queue fills one file at a time, and its consumer offset is committed only
/// up to the first record not yet in a written file; the same records then make the same
/// files under the same names, so a crash at any moment rewrites a file rather than adding a
/// second. (A file rolled by the clock is committed before the next batch is put, so that
/// roll is not repeated differently either.)
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "object-store-sink", aliases = ["io.confluent.connect.s3.S3SinkConnector", "S3SinkConnector"],
            task = ObjectStoreSinkTask, validate = ObjectStoreSink::check)]
pub struct ObjectStoreSink {
    /// `file:///dir` (or `/dir`) or `s3://bucket[/prefix]`.
    #[config(path, remote = "s3")]
    pub store_url: String,
    /// The S3 settings (`s3.endpoint`, `s3.region`, `aws.access.key.id`, `aws.secret.access.key`).
    #[serde(flatten)]
    pub s3: S3Settings,
    /// `json` (JSON lines) or `parquet`.
    #[serde(default)]
    pub format: Format,
    /// The directory of the topics' directories.
    #[serde(default = "default_topics_dir")]
    pub topics_dir: String,
    /// Records per file at most.
    #[serde(default = "default_flush_size")]
    #[schemars(range(min = 1, max = 10_000_000))]
    pub flush_size: usize,
    /// Bytes (of JSON lines) per file at most, before compression.
    #[serde(default = "default_file_bytes")]
    #[schemars(range(min = 1, max = 268_435_456))]
    pub file_max_bytes: usize,
    /// A record whose timestamp is this many milliseconds past its file's first starts a new file (0: off).
    #[serde(default)]
    #[schemars(range(max = 604_800_000))]
    pub rotate_interval_ms: u64,
    /// A file open this many milliseconds (wall clock) is written at the next flush (0: off).
    #[serde(default)]
    #[schemars(range(max = 604_800_000))]
    pub rotate_schedule_interval_ms: u64,
    /// `default` (by queue), `time` (by record timestamp) or `field` (by record fields).
    #[serde(default)]
    pub partitioner: Partitioner,
    /// With the `time` partitioner: the directory of a timestamp (chrono's `strftime`, UTC).
    #[serde(default = "default_path_format")]
    pub path_format: String,
    /// With the `field` partitioner: the fields of the record value naming the directory.
    #[serde(default)]
    pub partition_field_name: Vec<String>,
    /// `ignore` or `fail` on a record without a value (a tombstone).
    #[serde(default)]
    pub behavior_on_null_values: NullValues,
}

/// What a record without a value does (Kafka's `behavior.on.null.values`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NullValues {
    /// Skipped (its offset is still committed).
    #[default]
    Ignore,
    /// Fails the task.
    Fail,
}

fn default_topics_dir() -> String {
    "topics".to_owned()
}
fn default_flush_size() -> usize {
    1000
}
fn default_file_bytes() -> usize {
    64 << 20
}
fn default_path_format() -> String {
    "year=%Y/month=%m/day=%d/hour=%H".to_owned()
}

impl ObjectStoreSink {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if let Err(e) = Store::check(&self.store_url, &self.s3) {
            errors.push("store.url", e.to_string());
        }
        if self.partitioner == Partitioner::Field && self.partition_field_name.is_empty() {
            errors.push("partition.field.name", "name the fields the field partitioner uses");
        }
        if self.partitioner == Partitioner::Time && chrono::format::StrftimeItems::new(&self.path_format).parse().is_err() {
            errors.push("path.format", "not a strftime format");
        }
        if self.topics_dir.contains("..") {
            errors.push("topics.dir", "cannot go up with ..");
        }
        errors.into_result(())
    }
}

/// The file a queue is filling.
struct OpenFile {
    /// Its directory under the topic.
    partition: String,
    /// The offset of its first record: its name.
    start: i64,
    records: usize,
    lines: Vec<u8>,
    schema: Option<Arc<Schema>>,
    /// The first record's timestamp.
    first_timestamp: Option<i64>,
    opened: Instant,
}

/// Fills one file per queue at a time and writes it whole.
pub struct ObjectStoreSinkTask {
    config: ObjectStoreSink,
    store: Store,
    open: HashMap<QueueId, OpenFile>,
    ctx: SinkContext,
    _schedule: Option<connect_sdk::tokio::task::JoinHandle<()>>,
}

impl SinkTask for ObjectStoreSinkTask {
    type Config = ObjectStoreSink;

    async fn open(config: ObjectStoreSink, ctx: SinkContext) -> Result<Self> {
        let store = Store::open(&config.store_url, &config.s3).map_err(|e| Error::other(format!("store.url: {e}")))?;
        // Scheduled rotation needs a flush while no records come: ask for one now and then.
        let schedule = (config.rotate_schedule_interval_ms > 0).then(|| {
            let (ctx, every) = (ctx.clone(), Duration::from_millis(config.rotate_schedule_interval_ms.div_ceil(2).max(100)));
            connect_sdk::tokio::spawn(async move {
                loop {
                    connect_sdk::tokio::time::sleep(every).await;
                    ctx.request_commit();
                }
            })
        });
        Ok(ObjectStoreSinkTask { config, store, open: HashMap::new(), ctx, _schedule: schedule })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        for record in records {
            self.append(record).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &QueueOffsets) -> Result<()> {
        if self.config.rotate_schedule_interval_ms == 0 {
            return Ok(());
        }
        let due = Duration::from_millis(self.config.rotate_schedule_interval_ms);
        let queues: Vec<QueueId> = self.open.iter().filter(|(_, f)| f.opened.elapsed() >= due).map(|(q, _)| q.clone()).collect();
        for queue in queues {
            self.write(&queue).await?;
        }
        Ok(())
    }

    fn committable_offsets(&mut self, flushed: &QueueOffsets) -> QueueOffsets {
        flushed.iter().map(|(queue, &offset)| (queue.clone(), self.open.get(queue).map_or(offset, |file| file.start.min(offset)))).collect()
    }

    async fn stored_offsets(&mut self, _queues: &[QueueId]) -> Result<QueueOffsets> {
        // The queues are read again from their committed offsets: the first record of each
        // file not yet written. What is buffered is read again into the same files.
        self.open.clear();
        Ok(QueueOffsets::new())
    }

    async fn close(&mut self) -> Result<()> {
        // Unwritten files are not committed: whoever reads the queue next writes them.
        self.open.clear();
        if let Some(schedule) = self._schedule.take() {
            schedule.abort();
        }
        Ok(())
    }
}

impl ObjectStoreSinkTask {
    async fn append(&mut self, record: SinkRecord) -> Result<()> {
        let queue = record.queue();
        let offset = record.position();
        let value = &record.record.value;
        if value.is_null() {
            if self.config.behavior_on_null_values == NullValues::Fail {
                return Err(Error::other(format!(
                    "a record without a value at {}/{offset} (behavior.on.null.values=fail)",
                    queue_name(&queue)
                )));
            }
            return Ok(());
        }
        let schema = record.record.value_schema.clone().map(Arc::new);
        let line = self.config.format.line(value, schema.as_deref())?;
        let partition = self.partition(&record)?;
        let timestamp = record.record.timestamp;
        if let Some(file) = self.open.get(&queue) {
            let interval = self.config.rotate_interval_ms as i64;
            let late = interval > 0 && matches!((file.first_timestamp, timestamp), (Some(first), Some(now)) if now - first >= interval);
            let other_schema = self.config.format == Format::Parquet && file.schema.as_deref() != schema.as_deref();
            if file.partition != partition || late || other_schema || file.lines.len() + line.len() > self.config.file_max_bytes {
                self.write(&queue).await?;
            }
        }
        let file = self.open.entry(queue.clone()).or_insert_with(|| OpenFile {
            partition,
            start: offset,
            records: 0,
            lines: Vec::new(),
            schema,
            first_timestamp: timestamp,
            opened: Instant::now(),
        });
        file.lines.extend(line);
        file.records += 1;
        if file.records >= self.config.flush_size {
            self.write(&queue).await?;
        }
        Ok(())
    }

    /// The directory of a record under its topic.
    fn partition(&self, record: &SinkRecord) -> Result<String> {
        Ok(match self.config.partitioner {
            Partitioner::Default => {
                let queue = record.queue();
                format!("queue={}-{}", queue.broker_name, queue.queue_id)
            }
            Partitioner::Time => {
                let millis = record.record.timestamp.ok_or_else(|| Error::other("the time partitioner needs records with a timestamp"))?;
                let at = DateTime::<Utc>::from_timestamp_millis(millis)
                    .ok_or_else(|| Error::other(format!("timestamp {millis} is out of range")))?;
                at.format(&self.config.path_format).to_string()
            }
            Partitioner::Field => {
                let Value::Struct(row) = &record.record.value else {
                    return Err(Error::other("the field partitioner needs struct record values"));
                };
                let parts = self
                    .config
                    .partition_field_name
                    .iter()
                    .map(|name| match row.get(name) {
                        Some(Value::Null) | None => Ok(format!("{name}=null")),
                        Some(value) => Ok(format!("{name}={}", path_safe(&value_text(value)))),
                    })
                    .collect::<Result<Vec<_>>>()?;
                parts.join("/")
            }
        })
    }

    /// Writes the file `queue` is filling.
    async fn write(&mut self, queue: &QueueId) -> Result<()> {
        let Some(file) = self.open.remove(queue) else { return Ok(()) };
        let name = format!(
            "{}/{}/{}/{}+{}+{}+{:020}.{}",
            self.config.topics_dir.trim_matches('/'),
            queue.topic,
            file.partition,
            queue.topic,
            queue.broker_name,
            queue.queue_id,
            file.start,
            self.config.format.extension()
        );
        let bytes = self.config.format.file(file.lines, file.schema.as_deref())?;
        let path = self.store.path(&name);
        self.store.put(&path, bytes).await?;
        connect_sdk::tracing::debug!(connector = self.ctx.connector_name(), file = %path, records = file.records, "file written");
        Ok(())
    }
}

/// A field value as it reads in a directory name.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => connect_sdk::converter::json_document(other, None).map_or_else(|_| format!("{other:?}"), |j| j.to_string()),
    }
}

/// `text` without what would change the path: separators and dots become `_`.
fn path_safe(text: &str) -> String {
    text.chars().map(|c| if c == '/' || c == '\\' || c == '.' || c.is_control() { '_' } else { c }).collect()
}

fn queue_name(queue: &QueueId) -> String {
    format!("{}+{}+{}", queue.topic, queue.broker_name, queue.queue_id)
}
