//! Fencing a zombie: this worker's lease on its units.
//!
//! Other workers take a worker's units over once it has been missing from their member list
//! for the takeover delay. A worker cut off from its cluster (paused, partitioned from the
//! broker's membership while still able to write) cannot know it is missing; it can only
//! know when it last saw itself listed. So its tasks write only while that was less than the
//! takeover delay ago (a task fails rather than send or commit otherwise), and once the
//! worker sees itself again after a longer gap (a *lapse*), the herder stops every task and
//! starts again those the status log still gives it: a task started after a lapse reads what
//! its previous run sent, and a unit taken over meanwhile is never run here again.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// This worker's lease: when it last saw itself in the member list, and how many lapses it had.
#[derive(Debug)]
pub struct Lease {
    takeover: Duration,
    seen: Mutex<Instant>,
    lapses: watch::Sender<u64>,
}

/// A task may not write: the lease lapsed since it started, or does not hold now.
#[derive(Debug, thiserror::Error)]
#[error(
    "fenced: this worker has not seen itself in its cluster for {unseen:?} (its units are taken over after {takeover:?}); the task stops so it cannot write beside a new owner"
)]
pub struct Fenced {
    /// How long the worker has not been seen (zero after a completed lapse).
    pub unseen: Duration,
    /// The takeover delay.
    pub takeover: Duration,
}

impl Lease {
    /// A lease held from now, lapsing after `takeover` without being seen.
    pub fn new(takeover: Duration) -> Arc<Lease> {
        Arc::new(Lease { takeover, seen: Mutex::new(Instant::now()), lapses: watch::channel(0).0 })
    }

    /// The worker saw itself in the member list: the lease holds again; a gap longer than the
    /// takeover delay counts as a lapse.
    pub fn renew(&self) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let unseen = now.saturating_duration_since(*seen);
        if unseen >= self.takeover {
            tracing::warn!(?unseen, takeover = ?self.takeover, "this worker was missing from its cluster longer than the takeover delay; its tasks start again");
            self.lapses.send_modify(|lapses| *lapses += 1);
        }
        *seen = now;
    }

    /// Lapses so far: a task records it when it starts.
    pub fn epoch(&self) -> u64 {
        *self.lapses.borrow()
    }

    /// Wakes on each lapse.
    pub fn lapses(&self) -> watch::Receiver<u64> {
        self.lapses.subscribe()
    }

    /// `Ok` while the lease held without a lapse since `epoch`.
    pub fn check(&self, epoch: u64) -> Result<(), Fenced> {
        let unseen = self.seen.lock().unwrap_or_else(PoisonError::into_inner).elapsed();
        if self.epoch() != epoch {
            return Err(Fenced { unseen: Duration::ZERO, takeover: self.takeover });
        }
        if unseen >= self.takeover {
            return Err(Fenced { unseen, takeover: self.takeover });
        }
        Ok(())
    }
}

/// What a task holds: the worker's lease and its epoch when the task started (`None`
/// standalone, where nobody takes a unit over).
#[derive(Clone)]
pub struct TaskLease(Option<(Arc<Lease>, u64)>);

impl TaskLease {
    /// The lease as of now.
    pub fn of(lease: Option<&Arc<Lease>>) -> TaskLease {
        TaskLease(lease.map(|lease| (lease.clone(), lease.epoch())))
    }

    /// `Ok` while the task may write.
    pub fn check(&self) -> Result<(), connect_sdk::Error> {
        match &self.0 {
            Some((lease, epoch)) => lease.check(*epoch).map_err(connect_sdk::Error::other),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_lease_holds_while_renewed_and_a_long_gap_fences_what_started_before_it() {
        let lease = Lease::new(Duration::from_secs(2));
        let task = TaskLease::of(Some(&lease));
        for _ in 0..5 {
            tokio::time::advance(Duration::from_millis(500)).await;
            lease.renew();
            assert!(task.check().is_ok());
        }
        tokio::time::advance(Duration::from_secs(3)).await;
        let error = task.check().unwrap_err().to_string();
        assert!(error.contains("fenced: this worker has not seen itself in its cluster for 3s"), "{error}");
        lease.renew();
        assert!(task.check().is_err(), "a task started before a lapse stays fenced");
        assert!(TaskLease::of(Some(&lease)).check().is_ok(), "one started after it writes");
        assert_eq!(lease.epoch(), 1);
        assert!(TaskLease::of(None).check().is_ok(), "standalone: no lease");
    }
}
