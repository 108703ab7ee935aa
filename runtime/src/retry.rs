//! Retrying failed operations with exponential backoff, as `errors.retry.timeout` and
//! `errors.retry.delay.max.ms` configure it.

use std::future::Future;
use std::time::{Duration, Instant};

use connect_sdk::Error;
use connect_sdk::config::ErrorHandling;
use connect_sdk::context::BoxFuture;

use crate::metrics::TaskMetrics;

/// The first backoff, doubled on every retry (Kafka's 300 ms).
const INITIAL_DELAY: Duration = Duration::from_millis(300);

/// How long and how often to retry.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Total time allowed; `None` retries forever.
    pub timeout: Option<Duration>,
    /// Cap of one backoff.
    pub max_delay: Duration,
}

/// The retries of one operation.
struct Backoff<'a> {
    policy: &'a RetryPolicy,
    metrics: &'a TaskMetrics,
    started: Instant,
    delay: Duration,
}

impl Backoff<'_> {
    /// Waits before the next attempt, or gives the error back when it must not be retried.
    async fn wait_or_give_up(&mut self, error: Error) -> Result<(), Error> {
        let delay = self.delay.min(self.policy.max_delay);
        if !error.is_retriable() || self.policy.timeout.is_some_and(|t| self.started.elapsed() + delay > t) {
            return Err(error);
        }
        TaskMetrics::add(&self.metrics.retries, 1);
        tracing::warn!(%error, delay_ms = delay.as_millis() as u64, "retrying a failed operation");
        tokio::time::sleep(delay).await;
        self.delay = self.delay.saturating_mul(2);
        Ok(())
    }
}

impl RetryPolicy {
    /// The policy a connector's `errors.*` keys describe.
    pub fn from_config(errors: &ErrorHandling) -> RetryPolicy {
        RetryPolicy {
            timeout: errors.retry_timeout_ms.map(Duration::from_millis),
            max_delay: Duration::from_millis(errors.retry_delay_max_ms),
        }
    }

    fn backoff<'a>(&'a self, metrics: &'a TaskMetrics) -> Backoff<'a> {
        Backoff { policy: self, metrics, started: Instant::now(), delay: INITIAL_DELAY }
    }

    /// Runs `operation` until it succeeds, fails with a non-retriable error, or time is up.
    pub async fn run<T, F, Fut>(&self, metrics: &TaskMetrics, mut operation: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut backoff = self.backoff(metrics);
        loop {
            match operation().await {
                Ok(value) => return Ok(value),
                Err(error) => backoff.wait_or_give_up(error).await?,
            }
        }
    }

    /// Like [`RetryPolicy::run`], for an operation borrowing `target` mutably (a task).
    pub async fn run_on<S: ?Sized, T>(
        &self,
        metrics: &TaskMetrics,
        target: &mut S,
        mut operation: impl for<'a> FnMut(&'a mut S) -> BoxFuture<'a, Result<T, Error>>,
    ) -> Result<T, Error> {
        let mut backoff = self.backoff(metrics);
        loop {
            match operation(target).await {
                Ok(value) => return Ok(value),
                Err(error) => backoff.wait_or_give_up(error).await?,
            }
        }
    }
}
