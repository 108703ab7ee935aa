//! A task's status as it runs: its [`State`] and trace, in a [`StatusCell`] the runner
//! updates and the worker reports.

use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// Kafka Connect's states of a connector or task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not running anywhere yet.
    Unassigned,
    /// Running.
    Running,
    /// Open, not processing.
    Paused,
    /// Closed on request.
    Stopped,
    /// Stopped by an error; see the trace.
    Failed,
    /// Being restarted.
    Restarting,
}

/// A task's reported state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskStatus {
    /// State.
    pub state: State,
    /// Error trace when failed; why it waits when running but waiting for RocketMQ.
    pub trace: Option<String>,
}

/// Called with every new status of a task (the worker writes it to the status log).
pub type StatusReport = Arc<dyn Fn(&TaskStatus) + Send + Sync>;

/// Shared, updatable status of a running task; every change is reported when a reporter is set.
#[derive(Clone)]
pub struct StatusCell {
    status: Arc<Mutex<TaskStatus>>,
    report: Option<StatusReport>,
    /// Whether a restart may cure the last failure ([`connect_sdk::Error::restart_may_help`]).
    curable: Arc<std::sync::atomic::AtomicBool>,
    /// What a running task says of its progress ([`StatusCell::progress`]): its trace while
    /// it does not wait.
    progress: Arc<Mutex<Option<String>>>,
}

impl StatusCell {
    /// A cell starting in `state`.
    pub fn new(state: State) -> StatusCell {
        StatusCell {
            status: Arc::new(Mutex::new(TaskStatus { state, trace: None })),
            report: None,
            curable: Default::default(),
            progress: Default::default(),
        }
    }

    /// A cell starting in `state` (not reported) that reports every change to `report`.
    pub fn reporting(state: State, report: impl Fn(&TaskStatus) + Send + Sync + 'static) -> StatusCell {
        StatusCell { report: Some(Arc::new(report)), ..StatusCell::new(state) }
    }

    /// The current status.
    pub fn get(&self) -> TaskStatus {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Sets the state (the trace cleared, or the progress of a task running again).
    pub fn set(&self, state: State) {
        let trace = match state {
            State::Running => self.progress.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            _ => None,
        };
        self.replace(TaskStatus { state, trace });
    }

    /// Marks the task failed with this trace (an error's, with its secrets masked); `curable`:
    /// whether a restart may cure the failure (the worker restarts it by itself only then).
    pub fn fail_with(&self, trace: String, curable: bool) {
        self.curable.store(curable, std::sync::atomic::Ordering::Relaxed);
        self.replace(TaskStatus { state: State::Failed, trace: Some(trace) });
    }

    /// Whether a restart may cure the failure the task last failed with.
    pub fn curable(&self) -> bool {
        self.curable.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Adds a line to a failed task's trace (what happens next about the failure).
    pub fn note(&self, line: &str) {
        self.update(|status| {
            if status.state != State::Failed {
                return false;
            }
            let trace = status.trace.get_or_insert_with(String::new);
            if !trace.is_empty() {
                trace.push('\n');
            }
            trace.push_str(line);
            true
        });
    }

    /// Says why a running task waits (kept while paused or failed: those say more).
    pub fn waiting(&self, why: String) {
        self.update(|status| {
            let changed = status.state == State::Running && status.trace.as_ref() != Some(&why);
            if changed {
                status.trace = Some(why);
            }
            changed
        });
    }

    /// Clears what [`StatusCell::waiting`] said (the trace shows the progress again).
    pub fn done_waiting(&self) {
        let progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner).clone();
        self.update(|status| {
            let changed = status.state == State::Running && status.trace != progress;
            if changed {
                status.trace = progress;
            }
            changed
        });
    }

    /// Says how a running task progresses (an initial snapshot read, how far behind its
    /// upstream it is; `None`: nothing to say): its trace unless it waits, which says more.
    /// Reported only when the note changes.
    pub fn progress(&self, note: Option<String>) {
        let mut progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        if *progress == note {
            return;
        }
        let before = std::mem::replace(&mut *progress, note.clone());
        // The trace shows the progress when it showed the note before it (or nothing).
        self.update(|status| {
            let shows_progress = status.state == State::Running && status.trace == before;
            if shows_progress {
                status.trace = note;
            }
            shows_progress
        });
    }

    /// Applies `change`, and reports the result when it says it changed something.
    fn update(&self, change: impl FnOnce(&mut TaskStatus) -> bool) {
        let mut current = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        // Reported under the lock, so reports leave in the order the changes were made.
        if change(&mut current)
            && let Some(report) = &self.report
        {
            report(&current);
        }
    }

    fn replace(&self, status: TaskStatus) {
        self.update(|current| {
            *current = status;
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_the_trace_of_a_running_task_unless_it_waits() {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = reports.clone();
        let cell = StatusCell::reporting(State::Running, move |s: &TaskStatus| seen.lock().unwrap().push(s.trace.clone()));
        cell.progress(Some("reading the initial snapshot: 10 % of 100 rows".into()));
        cell.progress(Some("reading the initial snapshot: 10 % of 100 rows".into()));
        cell.waiting("RocketMQ does not answer".into());
        cell.progress(Some("reading the initial snapshot: 20 % of 100 rows".into()));
        assert_eq!(cell.get().trace.as_deref(), Some("RocketMQ does not answer"), "waiting says more");
        cell.done_waiting();
        assert_eq!(cell.get().trace.as_deref(), Some("reading the initial snapshot: 20 % of 100 rows"));
        cell.progress(None);
        assert_eq!(cell.get().trace, None);
        let traces = reports.lock().unwrap().clone();
        assert_eq!(traces.len(), 4, "a note reported once, however often it is said: {traces:?}");
        cell.progress(Some("2 minutes behind its upstream".into()));
        cell.fail_with("boom".into(), true);
        cell.progress(Some("3 minutes behind its upstream".into()));
        assert_eq!(cell.get().trace.as_deref(), Some("boom"), "a failure's trace stays");
        cell.set(State::Running);
        assert_eq!(cell.get().trace.as_deref(), Some("3 minutes behind its upstream"), "running again: the progress shows");
    }
}
