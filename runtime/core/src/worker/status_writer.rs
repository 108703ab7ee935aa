//! [`StatusWriter`]: every status this worker writes goes through one queue, so the records
//! of a unit reach the status log in the order they were made (a task's `FAILED` can never
//! land after the release that followed it).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::state::log::LogError;
use crate::state::statuses::{Statuses, UnitStatus};
use crate::state::unit::Unit;

type Batch = Vec<(Unit, Option<UnitStatus>)>;

/// A batch of statuses was not written.
#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum StatusWriteError {
    /// The status log refused it, after retries (shared by every waiter of the batch).
    #[error(transparent)]
    Log(Arc<LogError>),
    /// The writer task is gone (the worker is stopping).
    #[error("the status writer stopped")]
    Stopped,
}

struct Write {
    statuses: Batch,
    /// Told the position of the batch's first record, when someone waits for it.
    done: Option<oneshot::Sender<Result<u64, StatusWriteError>>>,
}

/// Writes statuses in order, in batches; cheap to clone.
#[derive(Clone)]
pub(super) struct StatusWriter {
    queue: mpsc::UnboundedSender<Write>,
}

/// How often a status write is tried before it is given up (with an error in the log).
const ATTEMPTS: u32 = 5;

impl StatusWriter {
    /// Starts the writer task for `statuses`.
    pub(super) fn spawn(statuses: Statuses) -> StatusWriter {
        let (queue, mut writes) = mpsc::unbounded_channel::<Write>();
        tokio::spawn(async move {
            while let Some(first) = writes.recv().await {
                let mut batch = vec![first];
                while let Ok(more) = writes.try_recv() {
                    batch.push(more);
                }
                let records: Batch = batch.iter().flat_map(|w| w.statuses.iter().cloned()).collect();
                let result = write_with_retries(&statuses, records).await.map_err(|e| StatusWriteError::Log(Arc::new(e)));
                let mut within = 0;
                for write in batch {
                    if let Some(done) = write.done {
                        let _ = done.send(result.clone().map(|first| first + within));
                    }
                    within += write.statuses.len() as u64;
                }
            }
        });
        StatusWriter { queue }
    }

    /// Queues statuses; returns at once.
    pub(super) fn report(&self, statuses: Batch) {
        let _ = self.queue.send(Write { statuses, done: None });
    }

    /// Writes statuses after everything queued before; returns the position of the first.
    pub(super) async fn write(&self, statuses: Batch) -> Result<u64, StatusWriteError> {
        let (done, written) = oneshot::channel();
        self.queue.send(Write { statuses, done: Some(done) }).map_err(|_| StatusWriteError::Stopped)?;
        written.await.map_err(|_| StatusWriteError::Stopped)?
    }

    /// Waits until everything queued so far is written.
    pub(super) async fn flush(&self) {
        let _ = self.write(Vec::new()).await;
    }
}

async fn write_with_retries(statuses: &Statuses, records: Batch) -> Result<u64, LogError> {
    if records.is_empty() {
        return Ok(statuses.log().next());
    }
    let mut attempt = 1;
    loop {
        match statuses.put(records.clone()).await {
            Ok(at) => return Ok(at),
            Err(error) if attempt < ATTEMPTS => {
                tracing::warn!(%error, attempt, "writing statuses failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(error) => {
                tracing::error!(%error, "writing statuses failed; giving up on this batch");
                return Err(error);
            }
        }
    }
}
