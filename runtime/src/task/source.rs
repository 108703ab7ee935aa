//! The source task loop: poll → transforms → converters → batched, bounded sends → offsets
//! committed only for records the broker acknowledged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_sdk::Error;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use connect_sdk::plugin::DynSourceTask;
use connect_sdk::record::SourceRecord;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::{Control, StatusCell, TaskPipeline, stop_requested, wait_while_paused};
use crate::metrics::TaskMetrics;
use crate::mq::Producer;
use crate::store::StandaloneStore;
use crate::wire::{self, RawRecord};

/// Everything a source task needs to run.
pub struct SourceRunner {
    /// Pipeline, policy and metrics.
    pub pipeline: TaskPipeline,
    /// The opened task.
    pub task: Box<dyn DynSourceTask>,
    /// The worker's producer.
    pub producer: Arc<Producer>,
    /// Where offsets are committed.
    pub store: Arc<StandaloneStore>,
}

impl SourceRunner {
    /// Runs until stopped (`Ok`) or failed (`Err`); closes the task either way.
    pub async fn run(mut self, mut control: Control, status: StatusCell) -> Result<(), Error> {
        let result = self.run_loop(&mut control, &status).await;
        let closed = self.task.close().await;
        result.and(closed)
    }

    async fn run_loop(&mut self, control: &mut Control, status: &StatusCell) -> Result<(), Error> {
        let mut acked: BTreeMap<SourcePartition, SourceOffset> = BTreeMap::new();
        let mut last_commit = Instant::now();
        while wait_while_paused(control, status).await {
            let records = self.pipeline.retry.run_on(&self.pipeline.metrics, &mut self.task, |task| task.poll()).await?;
            if records.is_empty() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            } else {
                TaskMetrics::add(&self.pipeline.metrics.source_records_polled, records.len() as u64);
                let offsets: Vec<(SourcePartition, SourceOffset)> =
                    records.iter().map(|r| (r.source_partition.clone(), r.source_offset.clone())).collect();
                let raw = self.convert(records)?;
                send(&self.pipeline, &self.producer, raw).await?;
                acked.extend(offsets);
            }
            if last_commit.elapsed() >= self.pipeline.settings.offset_flush_interval || stop_requested(control) {
                self.commit(&mut acked).await?;
                last_commit = Instant::now();
            }
        }
        self.commit(&mut acked).await
    }

    fn convert(&self, records: Vec<SourceRecord>) -> Result<Vec<RawRecord>, Error> {
        let pipeline = &self.pipeline;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let SourceRecord { record, .. } = record;
            let described = || {
                format!(
                    "topic={} value={}",
                    record.topic,
                    if pipeline.common.errors.log_include_messages { record.value.to_string() } else { "<hidden>".to_owned() }
                )
            };
            let description = described();
            let transformed = match pipeline.chain.apply(record) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    TaskMetrics::add(&pipeline.metrics.records_filtered, 1);
                    continue;
                }
                Err(e) => {
                    pipeline.tolerate(Error::other(e), || description)?;
                    continue;
                }
            };
            let converters = &pipeline.converters;
            let key = converters.key.encode(&transformed.topic, transformed.key_schema.as_ref(), &transformed.key);
            let value = converters.value.encode(&transformed.topic, transformed.value_schema.as_ref(), &transformed.value);
            match (key, value) {
                (Ok(key), Ok(value)) => out.push(RawRecord {
                    topic: transformed.topic,
                    key,
                    value,
                    headers: wire::header_pairs(&transformed.headers),
                    timestamp: transformed.timestamp,
                }),
                (Err(e), _) | (_, Err(e)) => pipeline.tolerate(Error::Data(e), || description)?,
            }
        }
        Ok(out)
    }

    async fn commit(&mut self, acked: &mut BTreeMap<SourcePartition, SourceOffset>) -> Result<(), Error> {
        if acked.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let metrics = &self.pipeline.metrics;
        match self.store.commit_offsets(&self.pipeline.connector, std::mem::take(acked)) {
            Ok(()) => {
                TaskMetrics::add(&metrics.offset_commit_success, 1);
                TaskMetrics::add(&metrics.offset_commit_micros, started.elapsed().as_micros() as u64);
                self.task.commit().await
            }
            Err(e) => {
                TaskMetrics::add(&metrics.offset_commit_failure, 1);
                Err(Error::other(format!("committing offsets: {e}")))
            }
        }
    }
}

/// Sends records grouped by topic in batches of at most `max_batch_records`, with at most
/// `max_in_flight` batches outstanding; returns once the broker acknowledged all of them.
async fn send(pipeline: &TaskPipeline, producer: &Producer, records: Vec<RawRecord>) -> Result<(), Error> {
    let max = pipeline.settings.max_batch_records.max(1);
    let mut by_topic: BTreeMap<String, Vec<RawRecord>> = BTreeMap::new();
    for record in records {
        by_topic.entry(record.topic.clone()).or_default().push(record);
    }
    let mut batches = Vec::new();
    for (topic, records) in by_topic {
        let mut messages = Vec::with_capacity(records.len());
        for record in &records {
            messages.push(wire::to_message(record).map_err(|e| Error::other(format!("record for {topic}: {e}")))?);
        }
        let mut rest = messages;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(max));
            batches.push((topic.clone(), std::mem::replace(&mut rest, tail)));
        }
    }
    stream::iter(batches)
        .map(|(topic, messages)| async move {
            let count = messages.len();
            pipeline
                .retry
                .run(&pipeline.metrics, || {
                    let messages = messages.clone();
                    let topic = topic.clone();
                    async move { producer.send_batch(&topic, messages).await.map_err(Error::retriable) }
                })
                .await?;
            pipeline.metrics.batch(count);
            TaskMetrics::add(&pipeline.metrics.source_records_written, count as u64);
            Ok::<(), Error>(())
        })
        .buffer_unordered(pipeline.settings.max_in_flight.max(1))
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
}
