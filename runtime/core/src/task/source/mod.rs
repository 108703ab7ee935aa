//! The source task loop: poll → transforms → converters → batched, bounded sends → offsets
//! committed only for records the broker acknowledged.
//!
//! [`SourceRunner`] runs the loop (this file); [`convert`] turns polled records into a batch
//! of wire records, [`sender`] sends batches in order on a tokio task of its own (to the queues
//! [`routes`] picks), [`commit`] writes the offsets of acknowledged batches, and [`delivery`]
//! holds an exactly-once source's state.

mod commit;
mod convert;
mod delivery;
mod routes;
mod sender;

use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_sdk::host::plugin::DynSourceTask;
use connect_sdk::{Error, SourceContext};

use super::exactly_once::Resume;
use super::outage::BrokerWait;
use super::outbox::Placed;
use super::{Control, StatusCell, TaskPipeline, stop_requested, wait_while_paused};
use crate::mq::{MqClient, Producer};
use crate::state::configs::TargetState;
use crate::state::offsets::SourceOffsets;
use commit::{Acked, OffsetWrite, commit};
use convert::{Remembered, convert};
use delivery::Delivery;
use routes::Routes;
use sender::Sender;

/// Everything a source task needs to run.
pub struct SourceRunner {
    /// Pipeline, policy and metrics.
    pipeline: TaskPipeline,
    /// The opened task.
    task: Box<dyn DynSourceTask>,
    /// The worker's producer.
    producer: Arc<Producer>,
    /// Where offsets are committed.
    offsets: SourceOffsets,
    /// Queues of the topics written to.
    routes: Routes,
    /// The task's context (its early-commit requests).
    context: SourceContext,
    /// Exactly-once delivery, when the worker provides it: the scan made before the task opened.
    exactly_once: Option<Resume>,
}

impl SourceRunner {
    /// The runner of an opened source task: it sends with `producer` (to queues it looks up
    /// through `mq`), commits to `offsets`, and when `exactly_once` is given drops what that
    /// scan found already stored.
    pub fn new(
        pipeline: TaskPipeline,
        task: Box<dyn DynSourceTask>,
        producer: Arc<Producer>,
        offsets: SourceOffsets,
        mq: MqClient,
        context: SourceContext,
        exactly_once: Option<Resume>,
    ) -> SourceRunner {
        SourceRunner { pipeline, task, producer, offsets, routes: Routes::new(mq), context, exactly_once }
    }

    /// Runs until stopped (`Ok`) or failed (`Err`); closes the task either way.
    pub async fn run(self, mut control: Control, status: StatusCell) -> Result<(), Error> {
        let SourceRunner { pipeline, mut task, producer, offsets, routes, context, exactly_once } = self;
        pipeline.calls.attach(&status);
        let broker = BrokerWait::new(status.clone(), control.clone(), pipeline.metrics.clone());
        let result = async {
            let delivery = match exactly_once {
                Some(resume) => Some(Delivery::start(resume, &pipeline, &broker).await?),
                None => None,
            };
            let recorded = delivery.as_ref().map(|d| (d.eos.clone(), d.eos.recorded_queues()));
            let sender = Sender {
                broker: broker.clone(),
                metrics: pipeline.metrics.clone(),
                settings: pipeline.settings,
                producer,
                routes,
                recorded,
                lease: pipeline.lease.clone(),
            };
            run_loop(&pipeline, &mut task, &offsets, sender, delivery, &context, &mut control, &status).await
        }
        .await;
        // A task that stopped here is behind nothing (it may run on another worker now).
        pipeline.metrics.set_lag(connect_sdk::lag::SourceLag::default());
        let closed = task.close().await;
        result.and(closed)
    }
}

/// Polls and converts batches and hands them to the [`Sender`], which sends them in order on
/// its own tokio task: the task's own work runs in parallel with the broker round trip of the
/// previous batch, and what is polled during one send goes out together in the next (an
/// [`Outbox`]). Offsets are committed as the sender reports batches acknowledged.
#[allow(clippy::too_many_arguments)]
async fn run_loop(
    pipeline: &TaskPipeline,
    task: &mut Box<dyn DynSourceTask>,
    offsets: &SourceOffsets,
    sender: Sender,
    mut delivery: Option<Delivery>,
    context: &SourceContext,
    control: &mut Control,
    status: &StatusCell,
) -> Result<(), Error> {
    let limit = pipeline.settings.max_batch_records.max(1);
    // As many bytes as the sends in flight carry at most: a task holds the batch being sent
    // and one more waiting, whatever the size of its records.
    let byte_limit = pipeline.settings.max_message_bytes.saturating_mul(pipeline.settings.max_in_flight.max(1));
    // Offset writes wait out the broker as sends do.
    let broker = sender.broker.clone();
    let (batches, mut acks, sending) = sender.spawn(limit, byte_limit);
    let mut acked = Acked::default();
    let mut remembered = Remembered::default();
    let interval = pipeline.settings.offset_flush_interval;
    let mut last_period = commit_period(interval);
    // Sends handed to the sender and not acknowledged yet (a batch merged into one waiting
    // is acknowledged with it).
    let mut in_flight = 0usize;
    // The offset write in progress: the loop polls on while it is written.
    let mut writing: Option<OffsetWrite> = None;
    // What the task last reported of its lag, shown in the metrics and the status trace.
    let mut lag = connect_sdk::lag::SourceLag::default();
    let result: Result<(), Error> = async {
        loop {
            if *control.borrow() == TargetState::Paused && (in_flight > 0 || !acked.offsets.is_empty() || writing.is_some()) {
                // Pausing: what was sent is acknowledged and committed before the task idles.
                while in_flight > 0
                    && let Some(ack) = acks.recv().await
                {
                    in_flight -= 1;
                    acked.add(ack?);
                }
                if let Some(write) = writing.take() {
                    write.finish(pipeline, task).await?;
                }
                commit(pipeline, offsets, delivery.as_ref(), &broker, task, &mut acked).await?;
                last_period = commit_period(interval);
            }
            if !wait_while_paused(control, status).await {
                break;
            }
            let polled_at = Instant::now();
            let records = {
                let _call = pipeline.calls.enter("poll");
                pipeline.retry.run_on(&pipeline.metrics, task, |task| task.poll()).await?
            };
            if context.lag() != lag {
                lag = context.lag();
                pipeline.metrics.set_lag(lag);
                status.progress(lag.status_note());
            }
            if records.is_empty() {
                // A poll that returned nothing at once is followed by a pause (a source that
                // never waits would spin); one that waited for its upstream is polled again now.
                if polled_at.elapsed() < EMPTY_POLL_PAUSE {
                    tokio::time::sleep(EMPTY_POLL_PAUSE).await;
                }
            } else {
                match batches.put(convert(pipeline, records, delivery.as_mut(), &mut remembered)?).await {
                    Ok(Placed::Alone) => in_flight += 1,
                    Ok(Placed::Merged) => {}
                    Err(_) => break, // the sender stopped on a failure, reported below
                }
            }
            while let Ok(ack) = acks.try_recv() {
                in_flight -= 1;
                acked.add(ack?);
            }
            if writing.as_ref().is_some_and(OffsetWrite::is_finished)
                && let Some(write) = writing.take()
            {
                write.finish(pipeline, task).await?;
            }
            let early = context.commit_requested() && !acked.offsets.is_empty();
            let due = early || commit_period(interval) != last_period || stop_requested(control);
            // One write at a time: what is acknowledged meanwhile goes with the next.
            if due && writing.is_none() {
                if early {
                    context.commit_done();
                }
                writing = OffsetWrite::start(pipeline, offsets, delivery.as_ref(), &broker, &mut acked)?;
                last_period = commit_period(interval);
            }
        }
        Ok(())
    }
    .await;
    // The sender finishes the batches handed to it, then stops.
    batches.close();
    let _ = sending.await;
    let mut sent = Ok(());
    while let Some(ack) = acks.recv().await {
        match ack {
            Ok(ack) => acked.add(ack),
            Err(error) => sent = Err(error),
        }
    }
    // What the broker acknowledged is committed even after a failure: it is stored. The
    // write in progress lands first, so offsets are written in order.
    let written = match writing.take() {
        Some(write) => write.finish(pipeline, task).await,
        None => Ok(()),
    };
    let committed = commit(pipeline, offsets, delivery.as_ref(), &broker, task, &mut acked).await;
    result.and(sent).and(written).and(committed)?;
    match &delivery {
        // Stopped cleanly, with every record a previous run left uncommitted polled again:
        // everything this task's positions cover is committed, nothing to look for there.
        Some(delivery) if delivery.stored.is_empty() => {
            pipeline.lease.check()?;
            delivery.eos.forget_positions().await
        }
        _ => Ok(()),
    }
}

/// Which period of `interval` it is on the worker's clock. A task commits its offsets once a
/// period, and every task's periods start together: the commits of many tasks reach the
/// offset log at about the same time, and share its writes.
fn commit_period(interval: Duration) -> u128 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() / interval.as_nanos().max(1)
}

/// How long the loop pauses after a poll that returned nothing without waiting.
const EMPTY_POLL_PAUSE: Duration = Duration::from_millis(1);
