//! Every metric of a worker in one registry, exposed as Prometheus text at `GET /metrics`:
//! per-task counters and gauges the task loops bump on their hot path, and worker gauges
//! (connectors, members, state logs...) registered once and read when scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use connect_sdk::lag::SourceLag;

/// A counter of one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    SourceRecordsPolled,
    SourceRecordsWritten,
    SourceRecordsDeduplicated,
    SinkRecordsRead,
    SinkRecordsPut,
    RecordsFiltered,
    Errors,
    RecordsSkipped,
    Retries,
    DeadLettered,
    OffsetCommitSuccess,
    OffsetCommitFailure,
    OffsetCommitMicros,
    OffsetGaps,
    BrokerOutages,
    BrokerOutageMicros,
    Batches,
    BatchRecords,
    AutoRestarts,
}

/// Name, help and counter of every task counter, in exposition order.
const COUNTERS: [(&str, &str, Counter); 19] = [
    ("connect_source_records_polled_total", "Records returned by source tasks' poll, before transforms.", Counter::SourceRecordsPolled),
    ("connect_source_records_written_total", "Source records acknowledged by the broker.", Counter::SourceRecordsWritten),
    (
        "connect_source_records_deduplicated_total",
        "Records an exactly-once source task polled again after a restart and did not send: the broker held them.",
        Counter::SourceRecordsDeduplicated,
    ),
    ("connect_sink_records_read_total", "Records read from RocketMQ by sink tasks, before transforms.", Counter::SinkRecordsRead),
    ("connect_sink_records_put_total", "Records handed to sink tasks' put.", Counter::SinkRecordsPut),
    ("connect_records_filtered_total", "Records dropped by a transform.", Counter::RecordsFiltered),
    ("connect_task_errors_total", "Failed records and operations.", Counter::Errors),
    ("connect_records_skipped_total", "Records skipped under errors.tolerance=all.", Counter::RecordsSkipped),
    ("connect_task_retries_total", "Retries of failed operations.", Counter::Retries),
    ("connect_dlq_records_total", "Records written to the dead-letter topic.", Counter::DeadLettered),
    ("connect_offset_commit_success_total", "Offset commits that succeeded.", Counter::OffsetCommitSuccess),
    ("connect_offset_commit_failure_total", "Offset commits that failed.", Counter::OffsetCommitFailure),
    ("connect_offset_commit_seconds_total", "Time spent committing offsets (microsecond resolution).", Counter::OffsetCommitMicros),
    ("connect_sink_offset_gaps_total", "Skipped records a sink detected and read again.", Counter::OffsetGaps),
    (
        "connect_task_broker_outages_total",
        "Times a task waited for RocketMQ to answer again (the broker or name server unreachable).",
        Counter::BrokerOutages,
    ),
    (
        "connect_task_broker_outage_seconds_total",
        "Time tasks spent waiting for RocketMQ to answer again (microsecond resolution).",
        Counter::BrokerOutageMicros,
    ),
    ("connect_batches_total", "Batches sent (sources) or put (sinks).", Counter::Batches),
    ("connect_batch_records_total", "Records in those batches.", Counter::BatchRecords),
    ("connect_task_restarts_total", "Automatic restarts of the task after it failed (errors.restart.*).", Counter::AutoRestarts),
];

/// A gauge of one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskGauge {
    BatchSizeMax,
    SinkRecordLagMax,
}

const TASK_GAUGES: [(&str, &str, TaskGauge); 2] = [
    ("connect_batch_size_max", "Largest batch.", TaskGauge::BatchSizeMax),
    ("connect_sink_record_lag_max", "Records behind the end of the most lagging queue of a sink task.", TaskGauge::SinkRecordLagMax),
];

/// A latency histogram of one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskHistogram {
    SinkRecordAge,
    SourceSend,
}

const TASK_HISTOGRAMS: [(&str, &str, TaskHistogram); 2] = [
    (
        "connect_sink_record_age_seconds",
        "Age of records when handed to a sink task's put: from the record's timestamp (set by its source, else when it was sent) to the put.",
        TaskHistogram::SinkRecordAge,
    ),
    (
        "connect_source_send_seconds",
        "Time from a source task's poll returning records to the broker acknowledging them, per record.",
        TaskHistogram::SourceSend,
    ),
];

/// Upper bounds of the histograms' buckets, in microseconds (1 ms to 30 s).
const BUCKETS_MICROS: [u64; 15] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000,
    60_000_000,
];

/// Observations per bucket (not cumulative: the text adds them up), their count and sum.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS_MICROS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, micros: u64, times: u64) {
        if let Some(bucket) = BUCKETS_MICROS.iter().position(|bound| micros <= *bound) {
            self.buckets[bucket].fetch_add(times, Ordering::Relaxed);
        }
        self.count.fetch_add(times, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros.saturating_mul(times), Ordering::Relaxed);
    }

    /// The Prometheus lines of this histogram, with `labels` (`connector="a",task="0"`).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS_MICROS) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{}\"}} {cumulative}", bound as f64 / 1e6);
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// The counters, gauges and histograms of one task; cheap to bump from the hot path.
#[derive(Default)]
pub(crate) struct TaskMetrics {
    counters: [AtomicU64; COUNTERS.len()],
    gauges: [AtomicU64; TASK_GAUGES.len()],
    histograms: [Histogram; TASK_HISTOGRAMS.len()],
    /// What a source task last reported of its lag.
    lag: Mutex<SourceLag>,
}

impl TaskMetrics {
    /// Adds `n` to `counter`.
    pub(crate) fn add(&self, counter: Counter, n: u64) {
        self.counters[counter as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// The value of `counter`.
    pub(crate) fn get(&self, counter: Counter) -> u64 {
        self.counters[counter as usize].load(Ordering::Relaxed)
    }

    /// Records one batch of `size` records.
    pub(crate) fn batch(&self, size: usize) {
        let size = size as u64;
        self.add(Counter::Batches, 1);
        self.add(Counter::BatchRecords, size);
        self.gauges[TaskGauge::BatchSizeMax as usize].fetch_max(size, Ordering::Relaxed);
    }

    /// Observes `latency` `times` times in `histogram`.
    pub(crate) fn observe(&self, histogram: TaskHistogram, latency: std::time::Duration, times: u64) {
        self.histograms[histogram as usize].observe(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX), times);
    }

    /// Sets `gauge`.
    pub(crate) fn set(&self, gauge: TaskGauge, value: u64) {
        self.gauges[gauge as usize].store(value, Ordering::Relaxed);
    }

    /// Keeps what a source task reported of its lag, for the next scrape.
    pub(crate) fn set_lag(&self, lag: SourceLag) {
        *self.lag.lock().unwrap_or_else(PoisonError::into_inner) = lag;
    }

    fn lag(&self) -> SourceLag {
        *self.lag.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The source lag gauges: name, help, and the value of a task's report (only tasks that
/// reported it have the gauge).
type LagGauge = (&'static str, &'static str, fn(&SourceLag) -> Option<f64>);

const LAG_GAUGES: [LagGauge; 4] = [
    (
        "connect_source_lag_bytes",
        "Bytes of the upstream's change log (binlog, WAL) written and not read yet by a source task, as the task last measured.",
        |lag| lag.bytes.map(|b| b as f64),
    ),
    (
        "connect_source_lag_seconds",
        "Seconds from the upstream writing the last change a source task read to now; 0 once it read everything.",
        |lag| lag.seconds,
    ),
    ("connect_source_snapshot_rows_done", "Rows of the initial snapshot a source task read.", |lag| {
        lag.snapshot.map(|s| s.rows_done as f64)
    }),
    (
        "connect_source_snapshot_rows_total",
        "Rows the initial snapshot holds (counted, or the database's estimate for a large table).",
        |lag| lag.snapshot.map(|s| s.rows_total as f64),
    ),
];

/// Reads a worker gauge when metrics are scraped: its value per label value (one unlabelled
/// value has the empty label).
type Reading = Box<dyn Fn() -> Vec<(String, f64)> + Send + Sync>;

struct WorkerGauge {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    read: Reading,
}

/// Every metric of a worker.
pub(crate) struct Metrics {
    tasks: Mutex<BTreeMap<(String, u32), Arc<TaskMetrics>>>,
    gauges: Mutex<Vec<WorkerGauge>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let metrics = Metrics { tasks: Mutex::default(), gauges: Mutex::default() };
        let started = Instant::now();
        metrics.gauge("connect_worker_uptime_seconds", "Seconds since the worker started.", move || started.elapsed().as_secs_f64());
        metrics
    }
}

impl Metrics {
    /// The metrics of task `task` of `connector` (created on first use, kept across restarts).
    pub(crate) fn task(&self, connector: &str, task: u32) -> Arc<TaskMetrics> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner).entry((connector.to_owned(), task)).or_default().clone()
    }

    /// Forgets the metrics of a deleted connector.
    pub(crate) fn remove_connector(&self, connector: &str) {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner).retain(|(c, _), _| c != connector);
    }

    /// Registers a worker gauge, read at every scrape.
    pub(crate) fn gauge(&self, name: &'static str, help: &'static str, read: impl Fn() -> f64 + Send + Sync + 'static) {
        self.labelled_gauge(name, help, "", move || vec![(String::new(), read())]);
    }

    /// Registers a worker gauge with one label (`log="configs"`), read at every scrape.
    pub(crate) fn labelled_gauge(
        &self,
        name: &'static str,
        help: &'static str,
        label: &'static str,
        read: impl Fn() -> Vec<(String, f64)> + Send + Sync + 'static,
    ) {
        self.gauges.lock().unwrap_or_else(PoisonError::into_inner).push(WorkerGauge { name, help, label, read: Box::new(read) });
    }

    /// Prometheus text format: task metrics with `connector` and `task` labels, then the
    /// worker gauges.
    pub(crate) fn render(&self) -> String {
        let tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut out = String::new();
        for (name, help, counter) in COUNTERS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((connector, task), metrics) in &tasks {
                let raw = metrics.get(counter);
                let value = if matches!(counter, Counter::OffsetCommitMicros | Counter::BrokerOutageMicros) {
                    raw as f64 / 1e6
                } else {
                    raw as f64
                };
                let _ = writeln!(out, "{name}{{connector=\"{}\",task=\"{task}\"}} {value}", escape(connector));
            }
        }
        for (name, help, gauge) in TASK_GAUGES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for ((connector, task), metrics) in &tasks {
                let value = metrics.gauges[gauge as usize].load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}{{connector=\"{}\",task=\"{task}\"}} {value}", escape(connector));
            }
        }
        for (name, help, value) in LAG_GAUGES {
            let reported: Vec<(&(String, u32), f64)> =
                tasks.iter().filter_map(|(key, metrics)| Some((key, value(&metrics.lag())?))).collect();
            if reported.is_empty() {
                continue;
            }
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for ((connector, task), value) in reported {
                let _ = writeln!(out, "{name}{{connector=\"{}\",task=\"{task}\"}} {value}", escape(connector));
            }
        }
        for (name, help, histogram) in TASK_HISTOGRAMS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            // Only the tasks it applies to (a sink has no send times).
            for ((connector, task), metrics) in &tasks {
                let histogram = &metrics.histograms[histogram as usize];
                if histogram.count.load(Ordering::Relaxed) > 0 {
                    histogram.render(&mut out, name, &format!("connector=\"{}\",task=\"{task}\"", escape(connector)));
                }
            }
        }
        for gauge in self.gauges.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = writeln!(out, "# HELP {} {}\n# TYPE {} gauge", gauge.name, gauge.help, gauge.name);
            for (label, value) in (gauge.read)() {
                match gauge.label {
                    "" => writeln!(out, "{} {value}", gauge.name),
                    key => writeln!(out, "{}{{{key}=\"{}\"}} {value}", gauge.name, escape(&label)),
                }
                .unwrap_or_default();
            }
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_metrics_and_worker_gauges_render_as_prometheus_text() {
        let metrics = Metrics::default();
        let task = metrics.task("orders \"eu\"", 1);
        task.add(Counter::SourceRecordsPolled, 3);
        task.batch(7);
        metrics.gauge("connect_worker_members", "Workers.", || 2.0);
        metrics.labelled_gauge("connect_state_log_keys", "Keys.", "log", || vec![("configs".to_owned(), 4.0)]);
        let text = metrics.render();
        assert!(text.contains("connect_source_records_polled_total{connector=\"orders \\\"eu\\\"\",task=\"1\"} 3\n"), "{text}");
        assert!(text.contains("connect_batch_size_max{connector=\"orders \\\"eu\\\"\",task=\"1\"} 7\n"), "{text}");
        assert!(text.contains("# TYPE connect_worker_members gauge\nconnect_worker_members 2\n"), "{text}");
        assert!(text.contains("connect_state_log_keys{log=\"configs\"} 4\n"), "{text}");
        assert!(text.contains("connect_worker_uptime_seconds "), "{text}");
    }

    #[test]
    fn source_lag_renders_for_the_tasks_that_reported_it() {
        let metrics = Metrics::default();
        metrics.task("plain", 0).add(Counter::SourceRecordsPolled, 1);
        let lag = SourceLag {
            bytes: Some(4096),
            seconds: Some(1.5),
            snapshot: Some(connect_sdk::lag::SnapshotProgress { rows_done: 10, rows_total: 40 }),
        };
        metrics.task("cdc", 0).set_lag(lag);
        let text = metrics.render();
        assert!(
            text.contains("# TYPE connect_source_lag_bytes gauge\nconnect_source_lag_bytes{connector=\"cdc\",task=\"0\"} 4096\n"),
            "{text}"
        );
        assert!(text.contains("connect_source_lag_seconds{connector=\"cdc\",task=\"0\"} 1.5\n"), "{text}");
        assert!(text.contains("connect_source_snapshot_rows_done{connector=\"cdc\",task=\"0\"} 10\n"), "{text}");
        assert!(text.contains("connect_source_snapshot_rows_total{connector=\"cdc\",task=\"0\"} 40\n"), "{text}");
        assert!(!text.contains("connect_source_lag_bytes{connector=\"plain\""), "a task that reports no lag has no gauge: {text}");
        metrics.task("cdc", 0).set_lag(SourceLag::default());
        assert!(!metrics.render().contains("connect_source_lag"), "nothing reported, nothing rendered");
    }

    #[test]
    fn latency_histograms_render_cumulative_buckets_for_the_tasks_they_apply_to() {
        let metrics = Metrics::default();
        let sink = metrics.task("sink", 0);
        sink.observe(TaskHistogram::SinkRecordAge, std::time::Duration::from_micros(800), 3);
        sink.observe(TaskHistogram::SinkRecordAge, std::time::Duration::from_millis(40), 1);
        sink.observe(TaskHistogram::SinkRecordAge, std::time::Duration::from_secs(120), 1);
        metrics.task("source", 0).observe(TaskHistogram::SourceSend, std::time::Duration::from_millis(3), 2);
        let text = metrics.render();
        let age = "connect_sink_record_age_seconds";
        assert!(text.contains(&format!("# TYPE {age} histogram\n")), "{text}");
        assert!(text.contains(&format!("{age}_bucket{{connector=\"sink\",task=\"0\",le=\"0.001\"}} 3\n")), "{text}");
        assert!(text.contains(&format!("{age}_bucket{{connector=\"sink\",task=\"0\",le=\"0.025\"}} 3\n")), "{text}");
        assert!(text.contains(&format!("{age}_bucket{{connector=\"sink\",task=\"0\",le=\"0.05\"}} 4\n")), "{text}");
        assert!(text.contains(&format!("{age}_bucket{{connector=\"sink\",task=\"0\",le=\"60\"}} 4\n")), "{text}");
        assert!(text.contains(&format!("{age}_bucket{{connector=\"sink\",task=\"0\",le=\"+Inf\"}} 5\n")), "{text}");
        assert!(text.contains(&format!("{age}_count{{connector=\"sink\",task=\"0\"}} 5\n")), "{text}");
        assert!(text.contains(&format!("{age}_sum{{connector=\"sink\",task=\"0\"}} 120.0424\n")), "{text}");
        assert!(text.contains("connect_source_send_seconds_count{connector=\"source\",task=\"0\"} 2\n"), "{text}");
        assert!(!text.contains("connect_source_send_seconds_count{connector=\"sink\""), "{text}");
        assert!(!text.contains("connect_sink_record_age_seconds_count{connector=\"source\""), "{text}");
    }
}
