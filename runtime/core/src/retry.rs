//! Retrying failed operations with exponential backoff, as `errors.retry.timeout` and
//! `errors.retry.delay.max.ms` configure it.

use std::time::{Duration, Instant};

use connect_sdk::Error;
use connect_sdk::config::ErrorHandling;
use connect_sdk::context::BoxFuture;

use crate::metrics::{Counter, TaskMetrics};

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
        self.metrics.add(Counter::Retries, 1);
        tracing::warn!(%error, delay_ms = delay.as_millis() as u64, "retrying a failed operation");
        tokio::time::sleep(delay).await;
        self.delay = self.delay.saturating_mul(2);
        Ok(())
    }
}

impl RetryPolicy {
    /// The policy a connector's `errors.*` keys describe.
    pub fn from_config(errors: &ErrorHandling) -> RetryPolicy {
        RetryPolicy { timeout: errors.retry_timeout(), max_delay: errors.retry_delay_max() }
    }

    fn backoff<'a>(&'a self, metrics: &'a TaskMetrics) -> Backoff<'a> {
        Backoff { policy: self, metrics, started: Instant::now(), delay: INITIAL_DELAY }
    }

    /// Whether a failed attempt can ever be followed by another (`errors.retry.timeout` leaves
    /// room for at least the first backoff).
    pub fn can_retry(&self) -> bool {
        self.timeout.is_none_or(|timeout| INITIAL_DELAY.min(self.max_delay) <= timeout)
    }

    /// Like [`RetryPolicy::run_on`], handing `input` to every attempt: a clone while another
    /// attempt may follow, the input itself when none can (the default, no retries).
    pub async fn run_on_with<S: ?Sized, I: Clone, T>(
        &self,
        metrics: &TaskMetrics,
        target: &mut S,
        input: I,
        mut operation: impl for<'a> FnMut(&'a mut S, I) -> BoxFuture<'a, Result<T, Error>>,
    ) -> Result<T, Error> {
        if !self.can_retry() {
            return operation(target, input).await;
        }
        self.run_on(metrics, target, |target| operation(target, input.clone())).await
    }

    /// Runs `operation` on `target` (a task) until it succeeds, fails with a non-retriable
    /// error, or time is up.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(timeout_ms: Option<u64>) -> RetryPolicy {
        RetryPolicy { timeout: timeout_ms.map(Duration::from_millis), max_delay: Duration::from_millis(1) }
    }

    #[test]
    fn retries_are_possible_only_when_the_timeout_leaves_room_for_a_backoff() {
        assert!(!RetryPolicy { timeout: Some(Duration::ZERO), max_delay: Duration::from_secs(60) }.can_retry());
        assert!(policy(None).can_retry());
        assert!(policy(Some(5)).can_retry());
    }

    /// An operation on a counter of attempts, failing retriably until the `succeed_at`-th.
    fn attempts(succeed_at: usize) -> impl for<'a> FnMut(&'a mut Vec<Vec<u32>>, Vec<u32>) -> BoxFuture<'a, Result<usize, Error>> {
        move |seen: &mut Vec<Vec<u32>>, input: Vec<u32>| {
            Box::pin(async move {
                seen.push(input);
                if seen.len() < succeed_at { Err(Error::retriable("not yet")) } else { Ok(seen.len()) }
            })
        }
    }

    #[tokio::test]
    async fn every_retried_attempt_gets_the_same_input() {
        let metrics = TaskMetrics::default();
        let mut seen = Vec::new();
        let done =
            policy(Some(5_000)).run_on_with(&metrics, &mut seen, vec![1, 2, 3], attempts(3)).await.expect("the third attempt succeeds");
        assert_eq!(done, 3);
        assert_eq!(seen, vec![vec![1, 2, 3]; 3]);
        assert_eq!(metrics.get(Counter::Retries), 2);
    }

    #[tokio::test]
    async fn without_retries_the_one_attempt_gets_the_input_and_its_error_comes_back() {
        let metrics = TaskMetrics::default();
        let mut seen = Vec::new();
        let error = policy(Some(0)).run_on_with(&metrics, &mut seen, vec![7], attempts(2)).await.expect_err("no second attempt");
        assert!(error.is_retriable());
        assert_eq!(seen, vec![vec![7]]);
    }
}
