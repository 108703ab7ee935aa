//! The sink side of exactly-once: a task that stores its positions with its data resumes
//! from them, and the compliance suite tells a sink that claims exactly-once without
//! storing positions how many records it wrote twice.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use connect_sdk::prelude::*;
use connect_sdk::testing::compliance::SinkCompliance;
use connect_sdk::testing::{SinkHarness, block_on};

/// A destination in memory, per test (keyed by `store`): written values and stored positions.
#[derive(Default, Clone)]
struct Destination {
    values: Vec<String>,
    positions: QueueOffsets,
}

static DESTINATIONS: Mutex<BTreeMap<String, Destination>> = Mutex::new(BTreeMap::new());

fn destination(store: &str) -> Destination {
    DESTINATIONS.lock().unwrap_or_else(PoisonError::into_inner).get(store).cloned().unwrap_or_default()
}

/// Writes values to an in-memory destination; with `keep.positions`, each write stores the
/// positions after its records in the same step.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "memory-sink", task = MemorySinkTask)]
pub struct MemorySink {
    /// Which destination.
    pub store: String,
    /// Store positions with the data.
    #[serde(default)]
    pub keep_positions: bool,
    /// Store, at each flush, the positions of the flush before (as a sink syncing in the
    /// background would, if it answered its last sync's positions).
    #[serde(default)]
    pub lagging_positions: bool,
}

/// The task.
pub struct MemorySinkTask {
    config: MemorySink,
    /// The offsets of the last flush (stored at the next one, with `lagging.positions`).
    previous: QueueOffsets,
}

impl SinkTask for MemorySinkTask {
    type Config = MemorySink;

    async fn open(config: MemorySink, _ctx: SinkContext) -> Result<Self> {
        Ok(MemorySinkTask { config, previous: QueueOffsets::new() })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let mut all = DESTINATIONS.lock().unwrap_or_else(PoisonError::into_inner);
        let destination = all.entry(self.config.store.clone()).or_default();
        destination.values.extend(records.iter().map(|r| r.value.to_string()));
        if self.config.keep_positions {
            destination.positions.extend(offsets_after(&records));
        }
        Ok(())
    }

    async fn flush(&mut self, offsets: &QueueOffsets) -> Result<()> {
        if self.config.keep_positions {
            let mut all = DESTINATIONS.lock().unwrap_or_else(PoisonError::into_inner);
            all.entry(self.config.store.clone()).or_default().positions.extend(offsets.clone());
        }
        if self.config.lagging_positions {
            let mut all = DESTINATIONS.lock().unwrap_or_else(PoisonError::into_inner);
            all.entry(self.config.store.clone()).or_default().positions = std::mem::replace(&mut self.previous, offsets.clone());
        }
        Ok(())
    }

    async fn stored_offsets(&mut self, queues: &[QueueId]) -> Result<QueueOffsets> {
        Ok(destination(&self.config.store).positions.into_iter().filter(|(q, _)| queues.contains(q)).collect())
    }
}

#[test]
fn a_sink_storing_its_positions_passes_the_exactly_once_check() {
    let config = serde_json::json!({"store": "keeps", "keep.positions": true});
    let suite = SinkCompliance::new(config).exactly_once();
    let report = block_on(suite.run::<MemorySink>(async || destination("keeps").values)).unwrap();
    assert!(report.passed.contains(&"a_crash_between_write_and_commit_writes_nothing_twice"), "{report}");
}

#[test]
fn a_sink_claiming_exactly_once_without_positions_is_told_what_it_wrote_twice() {
    let config = serde_json::json!({"store": "forgets"});
    let suite = SinkCompliance::new(config).records(20).exactly_once();
    let failure = block_on(suite.run::<MemorySink>(async || destination("forgets").values)).unwrap_err();
    assert_eq!(failure.check, "a_crash_between_write_and_commit_writes_nothing_twice");
    assert!(failure.detail.contains("7 records were written twice"), "{failure}");
}

#[test]
fn a_sink_answering_older_positions_than_it_wrote_is_told_so_when_its_queues_are_handed_over_again() {
    let config = serde_json::json!({"store": "lags", "lagging.positions": true});
    let suite = SinkCompliance::new(config).records(20).exactly_once();
    let failure = block_on(suite.run::<MemorySink>(async || destination("lags").values)).unwrap_err();
    assert_eq!(failure.check, "queues_handed_over_again_mid_run_go_on_where_the_task_left_off", "{failure}");
    assert!(failure.detail.contains("\"compliance-6\" was written twice"), "{failure}");
}

#[test]
fn the_harness_resumes_a_crashed_task_from_its_stored_positions() {
    block_on(async {
        let config = serde_json::json!({"store": "harness", "keep.positions": true});
        let mut harness = SinkHarness::<MemorySink>::new(config).await.unwrap();
        for i in 0..5 {
            harness.send("t", Value::Null, format!("v{i}")).unwrap();
        }
        harness.deliver().await.unwrap();
        // Written with their positions, never flushed nor committed.
        assert!(harness.committed().is_empty());
        harness.crash_and_restart().await.unwrap();
        assert_eq!(harness.next_offset("t"), 5);
        assert_eq!(harness.deliver().await.unwrap(), 0, "nothing is delivered twice");
        assert_eq!(destination("harness").values, ["v0", "v1", "v2", "v3", "v4"]);
    });
}
