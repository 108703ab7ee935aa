//! [`InMemoryOffsetStore`]: committed source offsets, kept in memory for tests.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::context::OffsetReader;
use crate::offsets::{SourceOffset, SourcePartition};

/// Committed source offsets by partition; share it between harnesses to simulate a worker
/// that restarts with the same offset storage.
#[derive(Debug, Default)]
pub struct InMemoryOffsetStore {
    offsets: Mutex<BTreeMap<SourcePartition, SourceOffset>>,
}

impl InMemoryOffsetStore {
    /// An empty store.
    pub fn new() -> InMemoryOffsetStore {
        InMemoryOffsetStore::default()
    }

    /// Records `offset` as committed for `partition`.
    pub fn commit(&self, partition: SourcePartition, offset: SourceOffset) {
        self.offsets.lock().unwrap_or_else(PoisonError::into_inner).insert(partition, offset);
    }

    /// Every committed offset.
    pub fn snapshot(&self) -> BTreeMap<SourcePartition, SourceOffset> {
        self.offsets.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl OffsetReader for InMemoryOffsetStore {
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        self.offsets.lock().unwrap_or_else(PoisonError::into_inner).get(partition).cloned()
    }
}
