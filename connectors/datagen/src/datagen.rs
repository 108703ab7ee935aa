//! `datagen-source`: numbered records at a given rate.

use std::time::{Duration, Instant};

use connect_sdk::config::groups::BatchSize;
use connect_sdk::prelude::*;
use connect_sdk::record::now_millis;

use crate::quickstart::{Quickstart, Schemas};
use crate::user_schema::UserSchema;

/// Generates records for tests, benchmarks and trying pipelines out. Each of the `tasks.max`
/// tasks emits its own sequence; every value starts with `<task>-<sequence>` (padded with `x`
/// to `payload.bytes`) so a test can count what arrived, or, with `quickstart`, is a sample
/// record with a schema (users, orders, ...), or, with `schema.string`, a random record of an
/// Avro schema of the user's; both the same for the same `random.seed`. The key is the task
/// id (a quickstart's own key, `schema.keyfield`'s value); the timestamp is when the record was due at
/// `records.per.second` (when it was generated, without a rate), so the time a record waits
/// before it is sent counts in its age downstream.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = DatagenTask, split = DatagenSource::one_per_task, validate = DatagenSource::check)]
pub struct DatagenSource {
    /// Topic to write to.
    #[config(topic)]
    pub topic: String,
    /// Records per second per task; 0 is as fast as possible.
    #[serde(default)]
    #[schemars(range(max = 10_000_000))]
    pub records_per_second: u64,
    /// Records per task before it stops producing; 0 is endless.
    #[serde(default)]
    pub max_records: u64,
    /// Size of each value in bytes (at least the `<task>-<sequence>` prefix).
    #[serde(default)]
    #[schemars(range(max = 1_048_576))]
    pub payload_bytes: usize,
    /// `batch.size`.
    #[serde(flatten)]
    pub batch: BatchSize<500>,
    /// Emit sample records with schemas instead of numbered strings: `users`, `orders`,
    /// `pageviews`, `stock_trades` or `purchases` (nested). `payload.bytes` does not apply.
    #[serde(default)]
    pub quickstart: Option<Quickstart>,
    /// An Avro record schema (its JSON text) to emit random records of, as Confluent's
    /// datagen takes it. A type may bound its values with `"arg.properties"`: `options`
    /// (values to pick from), `range` (`{"min": 1, "max": 9}` of a number or a decimal),
    /// `length` (of a string, an array, a map or bytes; a number or a range). Instead of
    /// `quickstart`; `payload.bytes` does not apply.
    #[serde(default)]
    pub schema_string: Option<String>,
    /// The top-level field of `schema.string` records are keyed by (the task id without one).
    #[serde(default)]
    pub schema_keyfield: Option<String>,
    /// Seed of the quickstart's or `schema.string`'s values: the same seed gives the same records.
    #[serde(default)]
    pub random_seed: u64,
}

impl DatagenSource {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        match (&self.schema_string, &self.quickstart, &self.schema_keyfield) {
            (Some(_), Some(_), _) => errors.push("schema.string", "set either quickstart or schema.string, not both"),
            (None, _, Some(_)) => errors.push("schema.keyfield", "names a field of schema.string, which is not set"),
            (Some(text), None, key_field) => {
                if let Err((key, message)) = UserSchema::parse(text, key_field.as_deref()) {
                    errors.push(key, message);
                }
            }
            (None, _, None) => {}
        }
        errors.into_result(())
    }

    fn one_per_task(&self, max_tasks: usize) -> Vec<Self> {
        vec![self.clone(); max_tasks.max(1)]
    }
}

/// The most value bytes one poll generates (large payloads make small polls).
const MAX_POLL_BYTES: usize = 8 << 20;

/// Where sample records come from.
enum Samples {
    Quickstart(Schemas),
    User(UserSchema),
}

/// Emits one task's sequence.
pub struct DatagenTask {
    config: DatagenSource,
    task: u32,
    partition: SourcePartition,
    next: u64,
    started: Instant,
    /// `started` as milliseconds since the Unix epoch.
    started_ms: i64,
    emitted_since_start: u64,
    /// `payload.bytes` of `x`, sliced to pad each value.
    padding: String,
    /// What sample records are drawn from, if not numbered strings.
    samples: Option<Samples>,
}

impl SourceTask for DatagenTask {
    type Config = DatagenSource;

    async fn open(config: DatagenSource, ctx: SourceContext) -> Result<Self> {
        let partition = SourcePartition::new().with("task", ctx.task_id());
        let next = ctx.offset(&partition).and_then(|o| o.get_i64("next")).unwrap_or(0).max(0) as u64;
        let padding = "x".repeat(config.payload_bytes);
        let (started, started_ms) = (Instant::now(), now_millis());
        let samples = match (&config.quickstart, &config.schema_string) {
            (Some(quickstart), _) => Some(Samples::Quickstart(quickstart.schemas())),
            (None, Some(text)) => Some(Samples::User(
                UserSchema::parse(text, config.schema_keyfield.as_deref())
                    .map_err(|(key, message)| Error::other(format!("{key} {message}")))?,
            )),
            (None, None) => None,
        };
        Ok(DatagenTask { config, task: ctx.task_id(), partition, next, started, started_ms, emitted_since_start: 0, padding, samples })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        // At most MAX_POLL_BYTES of values a poll, whatever batch.size says.
        let fitting = (MAX_POLL_BYTES / self.config.payload_bytes.max(1)).max(1) as u64;
        let mut count = (self.config.batch.batch_size as u64).min(fitting);
        if self.config.max_records > 0 {
            count = count.min(self.config.max_records.saturating_sub(self.next));
            if count == 0 {
                connect_sdk::tokio::time::sleep(Duration::from_millis(100)).await;
                return Ok(Vec::new());
            }
        }
        if self.config.records_per_second > 0 {
            let rate = self.config.records_per_second as f64;
            let allowed = || ((self.started.elapsed().as_secs_f64() * rate) as u64).saturating_sub(self.emitted_since_start);
            if allowed() == 0 {
                // Until the next record is due, then it is returned by this same poll: a slow
                // generator wakes once a record (a thousand tasks at 1 record/s woke ten
                // thousand times a second when this slept 100 ms, and twice a record when a
                // poll that slept returned nothing).
                let next_due = Duration::from_secs_f64((self.emitted_since_start + 1) as f64 / rate);
                let wait = next_due.saturating_sub(self.started.elapsed()).clamp(Duration::from_millis(1), Duration::from_secs(1));
                connect_sdk::tokio::time::sleep(wait).await;
            }
            match allowed() {
                0 => return Ok(Vec::new()),
                allowed => count = count.min(allowed),
            }
        }
        let mut records = Vec::with_capacity(count as usize);
        let now = now_millis();
        let rate = self.config.records_per_second;
        for index in self.emitted_since_start..self.emitted_since_start + count {
            // Stamped when due at the rate, so a benchmark measures latency from there to the sink.
            let timestamp = if rate > 0 { self.started_ms + (index as u128 * 1000 / rate as u128) as i64 } else { now };
            if let Some(samples) = &self.samples {
                let sample = match samples {
                    Samples::Quickstart(schemas) => schemas.sample(self.config.random_seed, self.task, self.next)?,
                    Samples::User(schema) => schema.sample(self.config.random_seed, self.task, self.next)?,
                };
                self.next += 1;
                let offset = SourceOffset::new().with("next", self.next);
                records.push(
                    SourceRecord::new(self.partition.clone(), offset, &self.config.topic, sample.value)
                        .with_key(sample.key)
                        .with_key_schema(sample.key_schema)
                        .with_value_schema(sample.value_schema)
                        .with_timestamp(timestamp),
                );
                continue;
            }
            let mut value = String::with_capacity(self.config.payload_bytes.max(24));
            value.push_str(itoa::Buffer::new().format(self.task));
            value.push('-');
            value.push_str(itoa::Buffer::new().format(self.next));
            if value.len() < self.config.payload_bytes {
                value.push(' ');
                let missing = self.config.payload_bytes - value.len();
                value.push_str(&self.padding[..missing]);
            }
            self.next += 1;
            let offset = SourceOffset::new().with("next", self.next);
            records.push(
                SourceRecord::new(self.partition.clone(), offset, &self.config.topic, value)
                    .with_key(i64::from(self.task))
                    .with_timestamp(timestamp),
            );
        }
        self.emitted_since_start += count;
        Ok(records)
    }
}
