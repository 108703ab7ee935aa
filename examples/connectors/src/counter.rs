//! A counter source: each task emits its own numbered sequence.
use connect_sdk::prelude::*;

/// Emits `<task>-<sequence>` records, `batch` per poll, each task its own sequence.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = CounterTask, split = Self::one_per_task)]
pub struct CounterSource {
    /// Topic to write to.
    pub topic: String,
    /// Records per poll.
    #[serde(default = "one")]
    pub batch: u32,
    /// Stop after this many records per task (0 = never).
    #[serde(default)]
    pub max_records: u64,
}

fn one() -> u32 {
    1
}

impl CounterSource {
    /// Every task counts on its own: as many task configs as allowed.
    fn one_per_task(&self, max_tasks: usize) -> Vec<Self> {
        vec![self.clone(); max_tasks]
    }
}

/// Counts from the committed sequence number.
pub struct CounterTask {
    config: CounterSource,
    partition: SourcePartition,
    next: u64,
}

impl SourceTask for CounterTask {
    type Config = CounterSource;

    async fn open(config: CounterSource, ctx: SourceContext) -> Result<Self> {
        let partition = SourcePartition::new().with("task", ctx.task_id());
        let next = ctx.offset(&partition).and_then(|o| o.get_i64("next")).unwrap_or(0);
        Ok(CounterTask { config, partition, next: u64::try_from(next).map_err(Error::other)? })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let task = self.partition.get_i64("task").unwrap_or_default();
        let mut records = Vec::new();
        for _ in 0..self.config.batch {
            if self.config.max_records > 0 && self.next >= self.config.max_records {
                break;
            }
            let value = format!("{task}-{}", self.next);
            self.next += 1;
            let offset = SourceOffset::new().with("next", self.next);
            records.push(SourceRecord::new(self.partition.clone(), offset, &self.config.topic, value).with_key(task));
        }
        Ok(records)
    }
}
