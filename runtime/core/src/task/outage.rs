//! Riding out a RocketMQ outage: a task whose broker or name server stops answering waits for
//! them to come back, and carries on where it was, rather than failing.
//!
//! An operation on the broker (a send, an offset commit, a queue lookup) that fails with an
//! error retrying may cure ([`MqError::is_retriable`]: unreachable, timed out, no route yet) is
//! tried again, with backoff up to [`MAX_DELAY`], for as long as it takes. Meanwhile the task
//! stays `RUNNING` with a trace saying since when and why it waits, cleared when the broker
//! answers; the outage is counted and timed in the task's metrics. Nothing is given up: the
//! records of a source wait unsent (their offsets uncommitted), a sink reads nothing new. A
//! task asked to stop stops waiting. Any other error fails the operation at once.

use std::future::Future;
use std::time::{Duration, Instant};

use connect_sdk::Error;

use super::{Control, StatusCell, stop_requested};
use crate::metrics::{Counter, TaskMetrics};
#[cfg(doc)]
use crate::mq::MqError;

/// The first wait, doubled after every failed attempt up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(200);
/// The longest wait between two attempts: how late a task notices the broker is back.
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// What a task needs to wait for the broker: its status (to say it waits), its control (to
/// stop waiting when stopped) and its metrics.
#[derive(Clone)]
pub struct BrokerWait {
    status: StatusCell,
    control: Control,
    metrics: std::sync::Arc<TaskMetrics>,
}

impl BrokerWait {
    /// Waits for the task whose status, control and metrics these are.
    pub fn new(status: StatusCell, control: Control, metrics: std::sync::Arc<TaskMetrics>) -> BrokerWait {
        BrokerWait { status, control, metrics }
    }

    /// Runs `operation` until it succeeds, fails with an error retrying cannot cure, or the
    /// task is asked to stop; while it fails with retriable errors ([`MqError`]s the client
    /// marks so become retriable [`Error`]s), the task waits (see the module documentation).
    pub async fn run<T, E, F, Fut>(&self, mut operation: F) -> Result<T, Error>
    where
        E: Into<Error>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut outage: Option<Outage> = None;
        loop {
            let error = match operation().await {
                Ok(value) => {
                    if let Some(outage) = outage {
                        outage.end(self);
                    }
                    return Ok(value);
                }
                Err(error) => error.into(),
            };
            if !error.is_retriable() || stop_requested(&self.control) {
                if let Some(outage) = outage {
                    outage.end(self);
                }
                return Err(error);
            }
            let outage = outage.get_or_insert_with(|| Outage::begin(self, &error));
            outage.attempts += 1;
            tracing::debug!(%error, attempts = outage.attempts, "RocketMQ still unreachable");
            let delay = outage.delay;
            outage.delay = (delay * 2).min(MAX_DELAY);
            let mut control = self.control.clone();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = control.changed() => {}
            }
        }
    }
}

/// One stretch of failed attempts.
struct Outage {
    since: Instant,
    attempts: u32,
    delay: Duration,
}

impl Outage {
    fn begin(wait: &BrokerWait, error: &Error) -> Outage {
        let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
        tracing::warn!(%error, "RocketMQ does not answer; the task waits for it");
        wait.status.waiting(format!("waiting for RocketMQ since {since}: {error}"));
        wait.metrics.add(Counter::BrokerOutages, 1);
        Outage { since: Instant::now(), attempts: 0, delay: FIRST_DELAY }
    }

    fn end(self, wait: &BrokerWait) {
        let waited = self.since.elapsed();
        wait.metrics.add(Counter::BrokerOutageMicros, waited.as_micros() as u64);
        wait.status.done_waiting();
        tracing::info!(waited_ms = waited.as_millis() as u64, attempts = self.attempts, "RocketMQ answers again; the task carries on");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio::sync::watch;

    use super::*;
    use crate::state::configs::TargetState;
    use crate::task::State;

    fn unreachable() -> Error {
        Error::retriable("connection refused")
    }

    #[tokio::test(start_paused = true)]
    async fn a_retriable_failure_is_waited_out_and_the_status_says_so_meanwhile() {
        let status = StatusCell::new(State::Running);
        let (_control, receiver) = watch::channel(TargetState::Started);
        let metrics = Arc::new(TaskMetrics::default());
        let wait = BrokerWait::new(status.clone(), receiver, metrics.clone());
        let attempts = AtomicU32::new(0);
        let seen = std::sync::Mutex::new(Vec::new());
        let value = wait
            .run(|| {
                seen.lock().unwrap().push(status.get());
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                async move { if n < 20 { Err(unreachable()) } else { Ok(n) } }
            })
            .await
            .unwrap();
        assert_eq!(value, 20, "tried until it worked, past any retry timeout");
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen[0].trace, None);
        let trace = seen[5].trace.clone().expect("a trace while waiting");
        assert!(trace.starts_with("waiting for RocketMQ since ") && trace.ends_with("connection refused"), "{trace}");
        assert_eq!(seen[5].state, State::Running);
        assert_eq!(status.get(), crate::task::TaskStatus { state: State::Running, trace: None }, "cleared once it answers");
        assert_eq!(metrics.get(Counter::BrokerOutages), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_fail_at_once_and_a_stop_ends_the_wait() {
        let status = StatusCell::new(State::Running);
        let (control, receiver) = watch::channel(TargetState::Started);
        let wait = BrokerWait::new(status.clone(), receiver, Arc::new(TaskMetrics::default()));
        let attempts = AtomicU32::new(0);
        let failed = wait
            .run(|| {
                attempts.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(Error::other("message too large")) }
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(attempts.load(Ordering::SeqCst), 1);

        let waiting = tokio::spawn({
            let wait = wait.clone();
            async move { wait.run(|| async { Err::<(), _>(unreachable()) }).await }
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!waiting.is_finished(), "still waiting after a minute");
        control.send(TargetState::Stopped).unwrap();
        let stopped = waiting.await.unwrap();
        assert!(stopped.unwrap_err().to_string().contains("connection refused"));
        assert_eq!(status.get().trace, None, "no longer waiting");
    }
}
