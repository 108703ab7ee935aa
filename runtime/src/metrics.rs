//! Per-task counters and their Prometheus text exposition at `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// The counters of one task; cheap to bump from the hot path.
#[derive(Default)]
pub struct TaskMetrics {
    /// Records returned by `poll`, before transforms.
    pub source_records_polled: AtomicU64,
    /// Records acknowledged by the broker.
    pub source_records_written: AtomicU64,
    /// Records read from RocketMQ, before transforms.
    pub sink_records_read: AtomicU64,
    /// Records handed to `put`.
    pub sink_records_put: AtomicU64,
    /// Records dropped by a transform (a filter).
    pub records_filtered: AtomicU64,
    /// Failures: records that could not be processed, and failed operations.
    pub errors: AtomicU64,
    /// Records skipped under `errors.tolerance=all`.
    pub records_skipped: AtomicU64,
    /// Retries of failed operations.
    pub retries: AtomicU64,
    /// Records written to the dead-letter topic.
    pub dlq_records: AtomicU64,
    /// Offset commits that succeeded.
    pub offset_commit_success: AtomicU64,
    /// Offset commits that failed.
    pub offset_commit_failure: AtomicU64,
    /// Total time spent committing offsets, in microseconds.
    pub offset_commit_micros: AtomicU64,
    /// Batches sent or put.
    pub batches: AtomicU64,
    /// Records in those batches.
    pub batch_records: AtomicU64,
    /// Largest batch.
    pub batch_size_max: AtomicU64,
    /// Times a sink found records skipped by the consumer and rewound to read them.
    pub offset_gaps: AtomicU64,
    /// Largest lag (records not yet read) over a sink task's queues, as last seen.
    pub sink_record_lag_max: AtomicU64,
}

impl TaskMetrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records one batch of `size` records.
    pub fn batch(&self, size: usize) {
        let size = size as u64;
        Self::add(&self.batches, 1);
        Self::add(&self.batch_records, size);
        self.batch_size_max.fetch_max(size, Ordering::Relaxed);
    }
}

/// All task metrics of a worker.
pub struct WorkerMetrics {
    tasks: Mutex<BTreeMap<(String, u32), Arc<TaskMetrics>>>,
    started: Instant,
}

impl Default for WorkerMetrics {
    fn default() -> WorkerMetrics {
        WorkerMetrics { tasks: Mutex::default(), started: Instant::now() }
    }
}

/// Reads one counter or gauge of a task.
type CounterOf = fn(&TaskMetrics) -> &AtomicU64;

const COUNTERS: &[(&str, &str, CounterOf)] = &[
    ("connect_source_records_polled_total", "Records returned by source tasks' poll, before transforms.", |m| &m.source_records_polled),
    ("connect_source_records_written_total", "Source records acknowledged by the broker.", |m| &m.source_records_written),
    ("connect_sink_records_read_total", "Records read from RocketMQ by sink tasks, before transforms.", |m| &m.sink_records_read),
    ("connect_sink_records_put_total", "Records handed to sink tasks' put.", |m| &m.sink_records_put),
    ("connect_records_filtered_total", "Records dropped by a transform.", |m| &m.records_filtered),
    ("connect_task_errors_total", "Failed records and operations.", |m| &m.errors),
    ("connect_records_skipped_total", "Records skipped under errors.tolerance=all.", |m| &m.records_skipped),
    ("connect_task_retries_total", "Retries of failed operations.", |m| &m.retries),
    ("connect_dlq_records_total", "Records written to the dead-letter topic.", |m| &m.dlq_records),
    ("connect_offset_commit_success_total", "Offset commits that succeeded.", |m| &m.offset_commit_success),
    ("connect_offset_commit_failure_total", "Offset commits that failed.", |m| &m.offset_commit_failure),
    ("connect_offset_commit_seconds_total", "Time spent committing offsets (microsecond resolution).", |m| &m.offset_commit_micros),
    ("connect_sink_offset_gaps_total", "Skipped records a sink detected and read again.", |m| &m.offset_gaps),
    ("connect_batches_total", "Batches sent (sources) or put (sinks).", |m| &m.batches),
    ("connect_batch_records_total", "Records in those batches.", |m| &m.batch_records),
];

const TASK_GAUGES: &[(&str, &str, CounterOf)] = &[
    ("connect_batch_size_max", "Largest batch.", |m| &m.batch_size_max),
    ("connect_sink_record_lag_max", "Records behind the end of the most lagging queue of a sink task.", |m| &m.sink_record_lag_max),
];

impl WorkerMetrics {
    /// The metrics of task `task` of `connector` (created on first use, kept across restarts).
    pub fn task(&self, connector: &str, task: u32) -> Arc<TaskMetrics> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner).entry((connector.to_owned(), task)).or_default().clone()
    }

    /// Forgets the metrics of a deleted connector.
    pub fn remove_connector(&self, connector: &str) {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner).retain(|(c, _), _| c != connector);
    }

    /// Prometheus text format, with `connector` and `task` labels; `gauges` adds worker gauges.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut out = String::new();
        for (name, help, counter) in COUNTERS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((connector, task), metrics) in &tasks {
                let raw = counter(metrics).load(Ordering::Relaxed);
                let value = if name.ends_with("_seconds_total") { raw as f64 / 1e6 } else { raw as f64 };
                let _ = writeln!(out, "{name}{{connector=\"{}\",task=\"{task}\"}} {value}", escape(connector));
            }
        }
        for (name, help, gauge) in TASK_GAUGES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for ((connector, task), metrics) in &tasks {
                let _ = writeln!(
                    out,
                    "{name}{{connector=\"{}\",task=\"{task}\"}} {}",
                    escape(connector),
                    gauge(metrics).load(Ordering::Relaxed)
                );
            }
        }
        let mut all = gauges.to_vec();
        all.push(("connect_worker_uptime_seconds", "Seconds since the worker started.", self.started.elapsed().as_secs_f64()));
        for (name, help, value) in all {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
