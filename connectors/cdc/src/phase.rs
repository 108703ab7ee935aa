//! Where a CDC task is (snapshot, then stream), and how many lost connections it rides out.

use std::future::Future;

use connect_sdk::{Error, Result};

/// A snapshot being read: when its last row is read, `finish` ends it and may hand over the
/// change log reader it was taken with.
pub trait SnapshotRead {
    /// What reads the change log after the snapshot.
    type Reader;
    /// Ends the snapshot (its transaction, its connections); the reader that streams from
    /// the snapshot's position, when the snapshot holds one (else the stream opens one).
    fn finish(self) -> impl Future<Output = Result<Option<Self::Reader>>> + Send;
}

/// Snapshot, then stream.
pub enum Phase<S: SnapshotRead> {
    /// Reading the captured tables' rows.
    Snapshot(Box<S>),
    /// Following the change log: its reader, once open.
    Streaming(Option<S::Reader>),
}

impl<S: SnapshotRead> Phase<S> {
    /// Whether the snapshot is still being read.
    pub fn is_snapshot(&self) -> bool {
        matches!(self, Phase::Snapshot(_))
    }

    /// Ends the snapshot (if one is read) and streams from its position.
    pub async fn end_snapshot(&mut self) -> Result<()> {
        if let Phase::Snapshot(snapshot) = std::mem::replace(self, Phase::Streaming(None)) {
            *self = Phase::Streaming(snapshot.finish().await?);
        }
        Ok(())
    }

    /// The open change log reader, taken out (to close it); the stream opens a new one.
    pub fn take_reader(&mut self) -> Option<S::Reader> {
        match self {
            Phase::Streaming(reader) => reader.take(),
            Phase::Snapshot(_) => None,
        }
    }
}

/// Lost connections in a row: a task reconnects after a retriable error until
/// `connection.attempts` polls in a row failed, then fails.
#[derive(Debug, Default)]
pub struct Reconnects {
    failures: u32,
}

impl Reconnects {
    /// A poll succeeded: the count starts again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// Whether to reconnect after this failed poll (and count it): the error is retriable and
    /// fewer than `attempts` polls in a row failed.
    ///
    /// ```
    /// let mut reconnects = connect_cdc::Reconnects::default();
    /// let lost = connect_sdk::Error::retriable("connection reset");
    /// assert!(reconnects.after(&lost, 3) && reconnects.after(&lost, 3));
    /// assert!(!reconnects.after(&lost, 3), "the third failure in a row is the last");
    /// assert!(!reconnects.after(&connect_sdk::Error::other("no such table"), 3));
    /// ```
    pub fn after(&mut self, error: &Error, attempts: u32) -> bool {
        let retry = error.is_retriable() && self.failures + 1 < attempts;
        if retry {
            self.failures += 1;
        }
        retry
    }
}
