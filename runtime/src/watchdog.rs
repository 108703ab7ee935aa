//! Notices connector code that does not return: every call into a task (`poll`, `put`,
//! `flush`, `commit`) is registered while it runs, and a thread outside the async runtime
//! looks every second for calls that have run longer than [`SLOW_CALL`]. Such a task is named
//! in the log and in its status trace (`inside put for 12 s: ...`) until the call returns, and
//! `connect_worker_stuck_calls_total` counts the calls found. A call that blocks its thread
//! (synchronous I/O, a busy loop) also holds one of the runtime's threads: the watchdog, a
//! thread of its own, says so (naming every call in progress) when the runtime's heartbeat
//! stops too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::task::StatusCell;

/// How long a call may run before it is reported.
pub const SLOW_CALL: Duration = Duration::from_secs(10);
/// How often the watchdog looks.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How long the runtime's heartbeat may stop before the runtime is said to be held up.
const STALLED_AFTER: Duration = Duration::from_secs(3);

/// One call in progress.
struct Call {
    connector: String,
    task: u32,
    what: &'static str,
    since: Instant,
    status: StatusCell,
    /// The watchdog reported it (its trace is to be cleared when it returns).
    reported: bool,
}

/// The calls in progress in this worker's tasks, and the runtime's heartbeat.
#[derive(Clone, Default)]
pub struct Calls {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    calls: Mutex<BTreeMap<u64, Call>>,
    next: AtomicU64,
    /// Milliseconds since `started` at the runtime's last heartbeat.
    heartbeat: AtomicU64,
    started: std::sync::OnceLock<Instant>,
    /// Calls found running too long, over the worker's life.
    stuck: AtomicU64,
}

/// Removes its call from the registry when dropped (the call returned, or was cancelled).
pub struct CallGuard {
    calls: Calls,
    id: u64,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let call = self.calls.inner.calls.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.id);
        if let Some(call) = call.filter(|c| c.reported) {
            tracing::info!(connector = %call.connector, task = call.task, call = call.what, after = ?call.since.elapsed(), "the call returned");
            call.status.done_waiting();
        }
    }
}

/// One task's side of [`Calls`]: its name, and its status once it runs.
pub struct TaskCalls {
    calls: Calls,
    connector: String,
    task: u32,
    status: std::sync::OnceLock<StatusCell>,
}

impl TaskCalls {
    /// Says where the task's status is, once its loop starts.
    pub fn attach(&self, status: &StatusCell) {
        let _ = self.status.set(status.clone());
    }

    /// Registers a call (`poll`, `put`...) until the guard is dropped.
    pub fn enter(&self, what: &'static str) -> Option<CallGuard> {
        Some(self.calls.enter(&self.connector, self.task, what, self.status.get()?))
    }
}

impl Calls {
    /// The calls of task `task` of `connector`.
    pub fn of_task(&self, connector: &str, task: u32) -> TaskCalls {
        TaskCalls { calls: self.clone(), connector: connector.to_owned(), task, status: std::sync::OnceLock::new() }
    }

    /// Registers a call of task `task` of `connector` until the guard is dropped.
    pub fn enter(&self, connector: &str, task: u32, what: &'static str, status: &StatusCell) -> CallGuard {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let call = Call { connector: connector.to_owned(), task, what, since: Instant::now(), status: status.clone(), reported: false };
        self.inner.calls.lock().unwrap_or_else(PoisonError::into_inner).insert(id, call);
        CallGuard { calls: self.clone(), id }
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
    let mut calls = inner.calls.lock().unwrap_or_else(PoisonError::into_inner);
    for call in calls.values_mut() {
        let running = call.since.elapsed();
        if running < SLOW_CALL {
            continue;
        }
        let blocking = if held_up { " and the worker's runtime is held up: it blocks its thread" } else { "" };
        let why = format!("inside {} for {} s: the connector's call has not returned{blocking}", call.what, running.as_secs());
        if !call.reported {
            call.reported = true;
            inner.stuck.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(connector = %call.connector, task = call.task, call = call.what, "{why}");
        }
        call.status.waiting(why);
    }
    if held_up && !was_held_up {
        let names: Vec<String> = calls.values().map(|c| format!("{}/{} in {}", c.connector, c.task, c.what)).collect();
        tracing::error!(calls = ?names, "the worker's runtime has not run for {STALLED_AFTER:?}: a task blocks its threads");
    }
    held_up
}
