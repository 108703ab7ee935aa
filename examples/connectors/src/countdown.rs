//! A count-down source split over its tasks: task `i` of `n` counts down the numbers
//! `≡ i (mod n)` from `start`, and resumes after its last committed number.
use connect_sdk::prelude::*;

/// Counts down from `start` to 1, the numbers shared out over the tasks.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = CountdownTask, split = identical)]
pub struct CountdownSource {
    /// Topic to write to.
    pub topic: String,
    /// The first number (at least 1).
    #[schemars(range(min = 1))]
    pub start: u64,
}

/// Counts down one task's share of the numbers.
pub struct CountdownTask {
    topic: String,
    partition: SourcePartition,
    numbers: std::iter::StepBy<std::iter::Rev<std::ops::RangeInclusive<u64>>>,
}

impl SourceTask for CountdownTask {
    type Config = CountdownSource;

    async fn open(config: CountdownSource, ctx: SourceContext) -> Result<Self> {
        let (id, count) = (u64::from(ctx.task_id()), u64::from(ctx.task_count()));
        let partition = SourcePartition::new().with("task", id);
        let after = ctx.offset(&partition).and_then(|o| o.get_i64("last")).map_or(config.start + 1, |n| n as u64);
        // This task's numbers below `after`, highest first: n ≡ id (mod count).
        let first = (1..after).rev().find(|n| n % count == id).unwrap_or(0);
        Ok(CountdownTask { topic: config.topic, partition, numbers: (1..=first).rev().step_by(count as usize) })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        // An empty poll is fine: the runtime waits a little before it polls again.
        let Some(n) = self.numbers.next() else { return Ok(Vec::new()) };
        Ok(vec![SourceRecord::new(self.partition.clone(), SourceOffset::new().with("last", n), &self.topic, n.to_string())])
    }
}
