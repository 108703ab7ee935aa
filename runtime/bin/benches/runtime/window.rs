//! What a throughput run measures: the rate after the first records arrived (start-up is
//! reported apart), the same way for the raw client and for the worker.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One run: when it started, when progress was first seen (and how much), when it ended.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: Instant,
    /// CPU time the whole process (broker included) used during the run.
    pub cpu: Duration,
    pub first: (Instant, u64),
    pub end: Instant,
    pub total: u64,
}

impl Window {
    /// Records per second from the first observed progress to the end.
    pub fn rate(&self) -> f64 {
        let (at, done) = self.first;
        let seconds = (self.end - at).as_secs_f64();
        if seconds > 0.0 { (self.total - done) as f64 / seconds } else { f64::INFINITY }
    }

    /// CPU microseconds per record, the whole process (broker included).
    pub fn cpu_micros_per_record(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.total.max(1) as f64
    }

    /// Time from the start to the first observed progress.
    pub fn startup(&self) -> Duration {
        self.first.0 - self.start
    }
}

/// CPU time this process has used (user + system), from `/proc/self/stat`.
pub fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    // Linux reports clock ticks of 1/100 s (USER_HZ).
    Duration::from_millis(ticks * 10)
}

/// Progress shared by concurrent senders or readers.
pub struct Progress {
    start: Instant,
    start_cpu: Duration,
    done: AtomicU64,
    first: OnceLock<(Instant, u64)>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { start: Instant::now(), start_cpu: process_cpu(), done: AtomicU64::new(0), first: OnceLock::new() }
    }

    /// Counts `n` more records done; returns the total.
    pub fn add(&self, n: u64) -> u64 {
        let total = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if n > 0 {
            self.first.get_or_init(|| (Instant::now(), total));
        }
        total
    }

    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// The window ending at `end`.
    pub fn window(&self, end: Instant) -> Window {
        Window {
            start: self.start,
            cpu: process_cpu().saturating_sub(self.start_cpu),
            first: self.first.get().copied().unwrap_or((self.start, 0)),
            end,
            total: self.done(),
        }
    }
}
