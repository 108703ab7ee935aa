//! A one-slot mailbox between a task loop and the tokio task that sends its batches: what the
//! loop hands over while a send is in flight is merged into the one batch waiting, and the
//! sender takes all of it when it is free. A lone batch is sent at once (no linger), a stream
//! still batches (whatever arrives during one send goes out in the next), and a record waits
//! at most for the send in flight instead of queueing behind batches of its own. The batch
//! waiting is bounded in records and in bytes, so a task holds at most two batches' worth of
//! records (the one sent, the one waiting) plus what one poll returns, whatever their size.

use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

/// A batch that more of its kind can be appended to.
pub(crate) trait Coalesce {
    /// How many records the batch holds.
    fn len(&self) -> usize;
    /// How many bytes its records take.
    fn bytes(&self) -> usize;
    /// Appends `later` (handed over after `self`), keeping the order.
    fn append(&mut self, later: Self);
}

/// The slot, shared by the loop ([`Outbox::put`], [`Outbox::close`]) and the sender
/// ([`Outbox::take`]).
pub(crate) struct Outbox<B> {
    state: Mutex<State<B>>,
    /// The slot was emptied, or the sender stopped.
    emptied: Notify,
    /// The slot was filled, or the loop closed the outbox.
    filled: Notify,
    /// A batch waiting is merged into while it holds fewer records than this...
    limit: usize,
    /// ...and the merged batch would not hold more bytes than this.
    byte_limit: usize,
}

struct State<B> {
    waiting: Option<B>,
    /// The loop hands over nothing more.
    closed: bool,
    /// The sender takes nothing more (it stopped).
    stopped: bool,
}

/// How [`Outbox::put`] placed a batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Placed {
    /// As a batch of its own: it will be sent (and acknowledged) by itself.
    Alone,
    /// Appended to the batch already waiting: acknowledged with it.
    Merged,
}

/// The sender stopped: it takes no more batches.
#[derive(Debug)]
pub(crate) struct Stopped;

impl<B: Coalesce> Outbox<B> {
    /// An empty outbox that merges into a waiting batch while it holds fewer than `limit`
    /// records and the merge keeps it within `byte_limit` bytes.
    pub(crate) fn new(limit: usize, byte_limit: usize) -> Outbox<B> {
        Outbox {
            state: Mutex::new(State { waiting: None, closed: false, stopped: false }),
            emptied: Notify::new(),
            filled: Notify::new(),
            limit: limit.max(1),
            byte_limit,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<B>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `batch` to the sender: into the empty slot, or appended to the batch waiting
    /// while that is under the limits; otherwise waits until the sender takes it.
    pub(crate) async fn put(&self, batch: B) -> Result<Placed, Stopped> {
        let mut batch = Some(batch);
        loop {
            {
                let mut state = self.state();
                if state.stopped {
                    return Err(Stopped);
                }
                let placed = match &mut state.waiting {
                    None => {
                        state.waiting = batch.take();
                        Some(Placed::Alone)
                    }
                    Some(waiting)
                        if waiting.len() < self.limit && waiting.bytes() + batch.as_ref().map_or(0, Coalesce::bytes) <= self.byte_limit =>
                    {
                        waiting.append(batch.take().expect("placed once"));
                        Some(Placed::Merged)
                    }
                    Some(_) => None,
                };
                if let Some(placed) = placed {
                    drop(state);
                    self.filled.notify_one();
                    return Ok(placed);
                }
            }
            self.emptied.notified().await;
        }
    }

    /// The sender's side: the batch waiting, once there is one; `None` once the loop closed
    /// the outbox and everything was taken.
    pub(crate) async fn take(&self) -> Option<B> {
        loop {
            {
                let mut state = self.state();
                if let Some(batch) = state.waiting.take() {
                    drop(state);
                    self.emptied.notify_one();
                    return Some(batch);
                }
                if state.closed {
                    return None;
                }
            }
            self.filled.notified().await;
        }
    }

    /// The loop hands over nothing more: the sender sends what waits, then stops.
    pub(crate) fn close(&self) {
        self.state().closed = true;
        self.filled.notify_one();
    }

    /// The sender stopped (after a failure): the loop's next [`Outbox::put`] fails.
    pub(crate) fn stop(&self) {
        self.state().stopped = true;
        self.emptied.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    impl Coalesce for Vec<u32> {
        fn len(&self) -> usize {
            self.len()
        }
        fn bytes(&self) -> usize {
            self.iter().map(|&n| n as usize).sum()
        }
        fn append(&mut self, later: Self) {
            self.extend(later);
        }
    }

    #[tokio::test]
    async fn batches_handed_over_during_a_send_go_out_together_in_order() {
        let outbox = Outbox::new(4, usize::MAX);
        assert_eq!(outbox.put(vec![1]).await.unwrap(), Placed::Alone);
        assert_eq!(outbox.put(vec![2, 3]).await.unwrap(), Placed::Merged);
        assert_eq!(outbox.take().await, Some(vec![1, 2, 3]));
        assert_eq!(outbox.put(vec![4]).await.unwrap(), Placed::Alone);
        outbox.close();
        assert_eq!(outbox.take().await, Some(vec![4]), "what waits is sent after close");
        assert_eq!(outbox.take().await, None);
    }

    #[tokio::test]
    async fn a_full_batch_makes_the_loop_wait_for_the_sender() {
        let outbox = Arc::new(Outbox::new(2, usize::MAX));
        outbox.put(vec![1, 2]).await.unwrap();
        let loop_side = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.put(vec![3]).await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!loop_side.is_finished(), "the waiting batch is full: the loop waits");
        assert_eq!(outbox.take().await, Some(vec![1, 2]));
        assert_eq!(loop_side.await.unwrap(), Placed::Alone);
        assert_eq!(outbox.take().await, Some(vec![3]));
    }

    #[tokio::test]
    async fn a_batch_that_would_grow_past_the_byte_limit_waits() {
        // Each number stands for its size in bytes.
        let outbox = Arc::new(Outbox::new(100, 10));
        outbox.put(vec![6]).await.unwrap();
        assert_eq!(outbox.put(vec![4]).await.unwrap(), Placed::Merged, "exactly at the limit");
        let loop_side = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.put(vec![1]).await.unwrap() }
        });
        assert_eq!(outbox.take().await, Some(vec![6, 4]));
        assert_eq!(loop_side.await.unwrap(), Placed::Alone, "it waited for the full batch to be taken");
        assert_eq!(outbox.take().await, Some(vec![1]));
        assert_eq!(outbox.put(vec![20]).await.unwrap(), Placed::Alone, "a batch over the limit by itself still goes, alone");
    }

    #[tokio::test]
    async fn a_stopped_sender_fails_the_loop_even_while_it_waits() {
        let outbox = Arc::new(Outbox::new(1, usize::MAX));
        outbox.put(vec![1]).await.unwrap();
        let loop_side = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.put(vec![2]).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        outbox.stop();
        assert!(loop_side.await.unwrap().is_err());
        assert!(outbox.put(vec![3]).await.is_err());
    }

    #[tokio::test]
    async fn the_sender_waits_for_a_batch() {
        let outbox = Arc::new(Outbox::new(8, usize::MAX));
        let sender = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.take().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        outbox.put(vec![7]).await.unwrap();
        assert_eq!(sender.await.unwrap(), Some(vec![7]));
    }
}
