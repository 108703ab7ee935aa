//! An exactly-once source's state: what the broker already held when the task started.

use std::sync::Arc;

use connect_sdk::Error;

use crate::task::TaskPipeline;
use crate::task::exactly_once::{ExactlyOnce, Held, HeldOffsets, Resume, StoredRecords};
use crate::task::outage::BrokerWait;

/// A task's exactly-once state: what the broker already held when it started, and how its
/// records are marked and its offsets committed.
pub(super) struct Delivery {
    pub(super) eos: ExactlyOnce,
    pub(super) stored: StoredRecords,
    /// The offsets the task read, some from records no commit covered: committed with the next commit.
    pub(super) given: Arc<HeldOffsets>,
}

impl Delivery {
    /// Commits the offsets the task was given from the broker's records when it opened (it
    /// resumes after those records, so they are no longer looked for).
    pub(super) async fn start(resume: Resume, pipeline: &TaskPipeline, broker: &BrokerWait) -> Result<Delivery, Error> {
        let Resume { eos, held: Held { mut stored, ends, .. }, given } = resume;
        let recovered = given.take_recovered();
        if !recovered.is_empty() {
            for (partition, _) in &recovered {
                stored.forget(given.key(partition));
            }
            pipeline.lease.check()?;
            tracing::info!(connector = %pipeline.connector, task = pipeline.task, partitions = recovered.len(),
                "resuming after records the broker holds that no commit covered: their offsets are committed");
            broker.run(|| eos.commit(recovered.clone(), &ends)).await?;
        }
        Ok(Delivery { eos, stored, given })
    }
}
