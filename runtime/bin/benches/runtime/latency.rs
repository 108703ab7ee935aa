//! End-to-end latency: the time from a record's timestamp (set when it is generated) to the
//! moment a sink sees it, at a fixed rate, through the worker and through the raw client.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use connect_runtime::Worker;
use connect_sdk::prelude::*;
use serde_json::json;

use crate::raw::RawClient;
use crate::through_worker::wait_for;
use crate::window::Progress;

/// Latencies in microseconds, from every record the latency sink received.
static SAMPLES: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Microseconds since a millisecond timestamp (which truncates: up to 1 ms is added, the same
/// on both sides of the comparison).
fn since(timestamp_ms: i64) -> u64 {
    now_micros().saturating_sub(timestamp_ms.max(0) as u64 * 1000)
}

/// A sink that records, for each record, how long ago its timestamp was.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(task = LatencySinkTask)]
pub struct LatencySink {
    /// Unused: a label for the run.
    #[serde(default)]
    pub label: String,
}

/// Records latencies into [`SAMPLES`].
pub struct LatencySinkTask;

impl SinkTask for LatencySinkTask {
    type Config = LatencySink;

    async fn open(_config: LatencySink, _ctx: SinkContext) -> Result<Self> {
        Ok(LatencySinkTask)
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let latencies: Vec<u64> = records.iter().filter_map(|r| r.timestamp).map(since).collect();
        SAMPLES.lock().unwrap_or_else(PoisonError::into_inner).extend(latencies);
        Ok(())
    }
}

/// Percentiles of one run.
#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub count: usize,
}

impl Percentiles {
    pub fn of(mut samples: Vec<u64>) -> Percentiles {
        samples.sort_unstable();
        let at = |q: f64| samples.get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1))).copied().unwrap_or(0);
        Percentiles { p50: at(0.50), p99: at(0.99), p999: at(0.999), count: samples.len() }
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |us: u64| us as f64 / 1000.0;
        write!(f, "p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms ({} records)", ms(self.p50), ms(self.p99), ms(self.p999), self.count)
    }
}

/// 1 KiB records at `rate` per second for `duration`: raw producer → raw consumer, measured
/// from each message's timestamp property (when it was due at the rate, as datagen stamps).
pub async fn raw(raw: &RawClient, rate: u64, duration: Duration) -> anyhow::Result<Percentiles> {
    let topic = format!("bench-latency-raw-{rate}");
    let records = (rate as f64 * duration.as_secs_f64()) as usize;
    // Create the topic first, so the consumer can be reading before the timed sends begin.
    raw.send_paced(&topic, 1, b"x", None, &Progress::new()).await?;
    let received = Progress::new();
    let samples = Mutex::new(Vec::with_capacity(records));
    let body = vec![b'x'; 1024];
    let group = format!("{topic}-reader");
    let reader = raw.read(&topic, &group, (0, 1), records as u64 + 1, &received, |m| {
        if let Some(timestamp) = property_timestamp(m) {
            samples.lock().unwrap_or_else(PoisonError::into_inner).push(since(timestamp));
        }
    });
    let writer = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        raw.send_paced(&topic, records, &body, Some(rate), &Progress::new()).await
    };
    let _ = tokio::try_join!(reader, writer)?;
    let mut samples = samples.into_inner().unwrap_or_else(PoisonError::into_inner);
    samples.remove(0); // the message that created the topic
    Ok(Percentiles::of(samples))
}

/// The raw pair's end-to-end maximum: `records` 1 KiB records sent as fast as the producer
/// sends while a consumer reads them, in records per second from the first send to the last
/// record read (the latency runs take half of it: both sides below saturation).
pub async fn raw_end_to_end_max(raw: &RawClient, records: usize) -> anyhow::Result<f64> {
    let topic = format!("bench-latency-max-{records}");
    raw.send_paced(&topic, 1, b"x", None, &Progress::new()).await?;
    let received = Progress::new();
    let body = vec![b'x'; 1024];
    let group = format!("{topic}-reader");
    let reader = raw.read(&topic, &group, (0, 1), records as u64 + 1, &received, |_| {});
    let writer = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        raw.send_paced(&topic, records, &body, None, &Progress::new()).await?;
        Ok::<Instant, anyhow::Error>(started)
    };
    let (_, started) = tokio::try_join!(reader, writer)?;
    Ok(records as f64 / started.elapsed().as_secs_f64())
}

/// The same through the worker: `datagen-source` at `rate` → RocketMQ → the latency sink.
pub async fn through_worker(worker: &Worker, rate: u64, duration: Duration) -> anyhow::Result<Percentiles> {
    Ok(worker_run(worker, None, rate, duration).await?.put)
}

/// Where a record's time goes on the worker's path, each from the record's timestamp (set when
/// datagen generates it): to the producer's send (`born`: the source's poll, converters and
/// batching), to the broker's store, to a raw consumer reading beside the sink, and to the
/// sink's `put`.
#[derive(Clone, Copy, Debug)]
pub struct Stages {
    pub born: Percentiles,
    pub stored: Percentiles,
    pub observed: Percentiles,
    pub put: Percentiles,
}

/// The worker's path at `rate` with a raw consumer reading the topic beside the sink, for [`Stages`].
pub async fn stages(worker: &Worker, raw: &RawClient, rate: u64, duration: Duration) -> anyhow::Result<Stages> {
    let run = worker_run(worker, Some(raw), rate, duration).await?;
    let (born, stored, observed) = run.observed.unwrap_or_default();
    Ok(Stages { born: Percentiles::of(born), stored: Percentiles::of(stored), observed: Percentiles::of(observed), put: run.put })
}

/// What a worker run measured: the sink's latencies, and the observer's when there was one.
struct WorkerRun {
    put: Percentiles,
    observed: Option<(Vec<u64>, Vec<u64>, Vec<u64>)>,
}

async fn worker_run(worker: &Worker, observer: Option<&RawClient>, rate: u64, duration: Duration) -> anyhow::Result<WorkerRun> {
    SAMPLES.lock().unwrap_or_else(PoisonError::into_inner).clear();
    let label = if observer.is_some() { "observed" } else { "plain" };
    let topic = format!("bench-latency-worker-{label}-{rate}");
    let records = (rate as f64 * duration.as_secs_f64()) as u64;
    let strings = |config: serde_json::Value| {
        let mut config = config;
        config["value.converter"] = json!("string");
        config
    };
    // The sink starts first on a topic created by one record, so it is reading when the load starts.
    // Names of their own per run: a source's committed offsets outlive it (datagen would resume at its end).
    let [warmup, sink, source] = ["warmup", "sink", "source"].map(|role| format!("bench-latency-{label}-{role}"));
    worker.create_connector(&warmup, json!({"connector.class": "datagen-source", "topic": topic, "max.records": 1})).await?;
    wait_for(worker, "connect_source_records_written_total", &warmup, 1, Instant::now()).await?;
    worker.create_connector(&sink, strings(json!({"connector.class": "latency-sink", "topics": topic}))).await?;
    wait_for(worker, "connect_sink_records_put_total", &sink, 1, Instant::now()).await?;
    SAMPLES.lock().unwrap_or_else(PoisonError::into_inner).clear();
    let started_ms = (now_micros() / 1000) as i64;
    let observed = Mutex::new((Vec::new(), Vec::new(), Vec::new()));
    let observe = async {
        let Some(raw) = observer else { return Ok(()) };
        let group = format!("{topic}-observer");
        raw.read(&topic, &group, (0, 1), records + 1, &Progress::new(), |m| {
            let Some(generated) = property_timestamp(m).filter(|g| *g >= started_ms) else { return };
            let micros = |ms: i64| (ms.saturating_sub(generated).max(0) as u64) * 1000;
            let mut observed = observed.lock().unwrap_or_else(PoisonError::into_inner);
            observed.0.push(micros(m.born_timestamp()));
            observed.1.push(micros(m.store_timestamp()));
            observed.2.push(since(generated));
        })
        .await
        .map(drop)
    };
    let run = async {
        let source_config = json!({"connector.class": "datagen-source", "topic": topic, "records.per.second": rate, "max.records": records, "payload.bytes": 1024});
        worker.create_connector(&source, strings(source_config)).await?;
        wait_for(worker, "connect_sink_records_put_total", &sink, records + 1, Instant::now()).await?;
        anyhow::Ok(())
    };
    tokio::try_join!(run, observe)?;
    for name in [&source, &sink, &warmup] {
        worker.delete_connector(name).await?;
    }
    let put = Percentiles::of(std::mem::take(&mut *SAMPLES.lock().unwrap_or_else(PoisonError::into_inner)));
    Ok(WorkerRun { put, observed: observer.map(|_| observed.into_inner().unwrap_or_else(PoisonError::into_inner)) })
}

/// A message's record timestamp (the property the worker and the raw producer set).
fn property_timestamp(message: &rocketmq_model::common::message::message_ext::MessageExt) -> Option<i64> {
    message.properties().get(connect_runtime::wire::TIMESTAMP).and_then(|t| t.as_str().parse::<i64>().ok())
}
