//! Offsets of acknowledged records, written to the offset log (or, exactly once, with the
//! queue positions they reach), then told to the task.

use std::collections::BTreeMap;
use std::time::Instant;

use connect_sdk::Error;
use connect_sdk::host::plugin::DynSourceTask;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use connect_sdk::record::QueueId;

use super::delivery::Delivery;
use super::sender::Acknowledged;
use crate::metrics::Counter;
use crate::state::offsets::SourceOffsets;
use crate::task::TaskPipeline;
use crate::task::outage::BrokerWait;

/// Offsets of acknowledged records not committed yet, and the queue positions they reach.
#[derive(Default)]
pub(super) struct Acked {
    pub(super) offsets: BTreeMap<SourcePartition, SourceOffset>,
    positions: BTreeMap<QueueId, i64>,
}

impl Acked {
    pub(super) fn add(&mut self, (offsets, positions): Acknowledged) {
        self.offsets.extend(offsets);
        self.positions.extend(positions);
    }
}

/// Writes the acknowledged offsets to the offset log (with the queue positions they reach,
/// for an exactly-once source), then tells the task (`SourceTask::commit`).
pub(super) async fn commit(
    pipeline: &TaskPipeline,
    offsets: &SourceOffsets,
    delivery: Option<&Delivery>,
    broker: &BrokerWait,
    task: &mut Box<dyn DynSourceTask>,
    acked: &mut Acked,
) -> Result<(), Error> {
    match OffsetWrite::start(pipeline, offsets, delivery, broker, acked)? {
        Some(write) => write.finish(pipeline, task).await,
        None => Ok(()),
    }
}

/// Acknowledged offsets being written to the offset log, on a tokio task of their own: an
/// offset log on disk syncs, one in a topic waits for the broker, and the source polls on
/// meanwhile. The task is told (`SourceTask::commit`) once they are written. A write the
/// broker does not answer is tried again until it does, the task saying that it waits
/// ([`BrokerWait`]; writing the same offsets twice changes nothing).
pub(super) struct OffsetWrite {
    committed: BTreeMap<SourcePartition, SourceOffset>,
    started: Instant,
    write: tokio::task::JoinHandle<Result<(), Error>>,
}

impl OffsetWrite {
    /// Starts writing what `acked` holds (and empties it); `None` when there is nothing to write.
    pub(super) fn start(
        pipeline: &TaskPipeline,
        offsets: &SourceOffsets,
        delivery: Option<&Delivery>,
        broker: &BrokerWait,
        acked: &mut Acked,
    ) -> Result<Option<OffsetWrite>, Error> {
        if let Some(delivery) = delivery {
            // Offsets the task read from the broker's records since it started (a partition it
            // opened late), unless it has gone past them.
            for (partition, offset) in delivery.given.take_recovered() {
                acked.offsets.entry(partition).or_insert(offset);
            }
        }
        if acked.offsets.is_empty() {
            return Ok(None);
        }
        pipeline.lease.check()?;
        let Acked { offsets: committed, positions } = std::mem::take(acked);
        let entries: Vec<(SourcePartition, SourceOffset)> = committed.iter().map(|(p, o)| (p.clone(), o.clone())).collect();
        let broker = broker.clone();
        let write = match delivery {
            Some(delivery) => {
                let eos = delivery.eos.clone();
                tokio::spawn(async move { broker.run(|| eos.commit(entries.clone(), &positions)).await })
            }
            None => {
                let (offsets, connector) = (offsets.clone(), pipeline.connector.clone());
                tokio::spawn(async move { broker.run(|| offsets.commit(&connector, entries.clone())).await })
            }
        };
        Ok(Some(OffsetWrite { committed, started: Instant::now(), write }))
    }

    pub(super) fn is_finished(&self) -> bool {
        self.write.is_finished()
    }

    /// Waits until the offsets are written, then tells the task.
    pub(super) async fn finish(self, pipeline: &TaskPipeline, task: &mut Box<dyn DynSourceTask>) -> Result<(), Error> {
        let metrics = &pipeline.metrics;
        let written = match self.write.await {
            Ok(written) => written.map_err(|e| e.to_string()),
            Err(stopped) => Err(format!("the write stopped: {stopped}")),
        };
        match written {
            Ok(()) => {
                metrics.add(Counter::OffsetCommitSuccess, 1);
                metrics.add(Counter::OffsetCommitMicros, self.started.elapsed().as_micros() as u64);
                let _call = pipeline.calls.enter("commit");
                task.commit(&self.committed).await
            }
            Err(e) => {
                metrics.add(Counter::OffsetCommitFailure, 1);
                Err(Error::other(format!("committing offsets: {e}")))
            }
        }
    }
}
