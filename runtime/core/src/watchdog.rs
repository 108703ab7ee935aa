//! Notices connector code that does not return: every call into a task (`poll`, `put`,
//! `flush`, `commit`) is registered while it runs, and a thread outside the async runtime
//! looks every second for calls that have run longer than [`SLOW_CALL`]. Such a task is named
//! in the log and in its status trace (`inside put for 12 s: ...`) until the call returns, and
//! `connect_worker_stuck_calls_total` counts the calls found. A call that blocks its thread
//! (synchronous I/O, a busy loop) also holds one of the runtime's threads: the watchdog, a
//! thread of its own, says so (naming every call in progress) when the runtime's heartbeat
//! stops too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::task::status::StatusCell;

/// How long a call may run before it is reported.
pub const SLOW_CALL: Duration = Duration::from_secs(10);
/// How often the watchdog looks.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How long the runtime's heartbeat may stop before the runtime is said to be held up.
const STALLED_AFTER: Duration = Duration::from_secs(3);

/// One task's calls: registered once, updated in place by every call (no allocation, no
/// shared lock on the hot path).
struct Slot {
    connector: String,
    task: u32,
    status: std::sync::OnceLock<StatusCell>,
    /// The call in progress: what, since when, and whether the watchdog reported it.
    current: Mutex<Option<(&'static str, Instant, bool)>>,
}

/// The tasks' calls in progress in this worker, and the runtime's heartbeat.
#[derive(Clone, Default)]
pub struct Calls {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Every task's slot, dropped with its task.
    slots: Mutex<Vec<std::sync::Weak<Slot>>>,
    /// Milliseconds since `started` at the runtime's last heartbeat.
    heartbeat: AtomicU64,
    started: std::sync::OnceLock<Instant>,
    /// Calls found running too long, over the worker's life.
    stuck: AtomicU64,
}

/// Ends its call when dropped (the call returned, or was cancelled).
pub struct CallGuard {
    slot: Arc<Slot>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let ended = self.slot.current.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some((what, since, true)) = ended {
            let slot = &self.slot;
            tracing::info!(connector = %slot.connector, task = slot.task, call = what, after = ?since.elapsed(), "the call returned");
            if let Some(status) = slot.status.get() {
                status.done_waiting();
            }
        }
    }
}

/// One task's side of [`Calls`]: its name, and its status once it runs.
pub struct TaskCalls {
    slot: Arc<Slot>,
}

impl TaskCalls {
    /// Says where the task's status is, once its loop starts.
    pub fn attach(&self, status: &StatusCell) {
        let _ = self.slot.status.set(status.clone());
    }

    /// Registers a call (`poll`, `put`...) until the guard is dropped.
    pub fn enter(&self, what: &'static str) -> CallGuard {
        *self.slot.current.lock().unwrap_or_else(PoisonError::into_inner) = Some((what, Instant::now(), false));
        CallGuard { slot: self.slot.clone() }
    }
}

impl Calls {
    /// The calls of task `task` of `connector`.
    pub fn of_task(&self, connector: &str, task: u32) -> TaskCalls {
        let slot = Arc::new(Slot { connector: connector.to_owned(), task, status: std::sync::OnceLock::new(), current: Mutex::new(None) });
        let mut slots = self.inner.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.retain(|s| s.strong_count() > 0);
        slots.push(Arc::downgrade(&slot));
        TaskCalls { slot }
    }

    /// Calls found running longer than [`SLOW_CALL`] so far.
    pub fn stuck_total(&self) -> u64 {
        self.inner.stuck.load(Ordering::Relaxed)
    }

    /// Starts the heartbeat on the current runtime and the watchdog thread; both end when
    /// every handle of these calls is gone.
    pub fn watch(&self) {
        let started = *self.inner.started.get_or_init(Instant::now);
        let beat = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_millis(250));
            loop {
                ticks.tick().await;
                let Some(inner) = beat.upgrade() else { return };
                inner.heartbeat.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            }
        });
        let watched = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new().name("connect-watchdog".into()).spawn(move || {
            let mut held_up = false;
            loop {
                std::thread::sleep(LOOK_EVERY);
                let Some(inner) = watched.upgrade() else { return };
                held_up = look(&inner, started, held_up);
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "the watchdog thread could not start: calls that do not return go unnoticed");
        }
    }
}

/// One look at the calls in progress; returns whether the runtime is held up now.
fn look(inner: &Inner, started: Instant, was_held_up: bool) -> bool {
    let beat = Duration::from_millis(inner.heartbeat.load(Ordering::Relaxed));
    let held_up = started.elapsed().saturating_sub(beat) > STALLED_AFTER;
    let slots: Vec<Arc<Slot>> = inner.slots.lock().unwrap_or_else(PoisonError::into_inner).iter().filter_map(|s| s.upgrade()).collect();
    let mut in_progress = Vec::new();
    for slot in &slots {
        let mut current = slot.current.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((what, since, reported)) = current.as_mut() else { continue };
        if held_up {
            in_progress.push(format!("{}/{} in {what}", slot.connector, slot.task));
        }
        let running = since.elapsed();
        if running < SLOW_CALL {
            continue;
        }
        let blocking = if held_up { " and the worker's runtime is held up: it blocks its thread" } else { "" };
        let why = format!("inside {what} for {} s: the connector's call has not returned{blocking}", running.as_secs());
        if !*reported {
            *reported = true;
            inner.stuck.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(connector = %slot.connector, task = slot.task, call = *what, "{why}");
        }
        if let Some(status) = slot.status.get() {
            status.waiting(why);
        }
    }
    if held_up && !was_held_up {
        tracing::error!(calls = ?in_progress, "the worker's runtime has not run for {STALLED_AFTER:?}: a task blocks its threads");
    }
    held_up
}
