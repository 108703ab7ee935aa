//! The compliance suite asks only what the runtime needs: offsets may count down, and a
//! source that runs out of records is told so, quickly, by the check that needs them.

use std::time::Duration;

use connect_sdk::prelude::*;
use connect_sdk::testing::block_on;
use connect_sdk::testing::compliance::SourceCompliance;

/// Counts down from `start` to 1, then produces nothing: its offset is what remains.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "countdown-source", task = Countdown)]
pub struct CountdownSource {
    /// Topic to write to.
    pub topic: String,
    /// The first number.
    pub start: i64,
}

/// The task.
pub struct Countdown {
    topic: String,
    remaining: i64,
}

impl SourceTask for Countdown {
    type Config = CountdownSource;

    async fn open(config: CountdownSource, ctx: SourceContext) -> Result<Self> {
        let remaining = ctx.offset(&SourcePartition::new()).and_then(|o| o.get_i64("remaining")).unwrap_or(config.start);
        Ok(Countdown { topic: config.topic, remaining })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        if self.remaining == 0 {
            return Ok(Vec::new());
        }
        let value = self.remaining;
        self.remaining -= 1;
        let offset = SourceOffset::new().with("remaining", self.remaining);
        Ok(vec![SourceRecord::new(SourcePartition::new(), offset, &self.topic, value)])
    }
}

#[test]
fn a_source_whose_offsets_count_down_is_compliant() {
    let config = serde_json::json!({"topic": "t", "start": 100});
    let report = block_on(SourceCompliance::new(config).records(40).run::<CountdownSource>()).unwrap();
    assert_eq!(report.passed.len(), 5, "{report}");
}

#[test]
fn a_source_that_runs_out_is_told_how_many_records_it_gave() {
    let config = serde_json::json!({"topic": "t", "start": 5});
    let suite = SourceCompliance::new(config).records(20).idle_timeout(Duration::from_millis(300));
    let failure = block_on(suite.run::<CountdownSource>()).unwrap_err();
    assert_eq!(failure.check, "produces_the_records_asked_for");
    assert!(failure.detail.contains("a fresh run must produce 20 records"), "{failure}");
    assert!(failure.detail.contains("5 of 20 records came, then none for 300ms"), "{failure}");
}
