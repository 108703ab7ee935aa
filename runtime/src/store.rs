//! Standalone state in the data directory: connector configs with their target states, and
//! committed source offsets. Every write goes to a temporary file, is fsynced, then renamed
//! over the old file (and the directory fsynced), so a crash leaves the old or the new
//! version, never a torn one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use connect_sdk::config::ConfigMap;
use connect_sdk::context::OffsetReader;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use serde::{Deserialize, Serialize};

/// What a connector should be doing (Kafka's target state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    /// Running its tasks.
    #[default]
    Started,
    /// Tasks open but not polling.
    Paused,
    /// Tasks closed.
    Stopped,
}

/// A stored connector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredConnector {
    /// Its raw config (placeholders unresolved).
    pub config: ConfigMap,
    /// Its target state.
    pub target: TargetState,
}

/// One committed offset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OffsetEntry {
    /// Source partition.
    pub partition: SourcePartition,
    /// Its committed offset.
    pub offset: SourceOffset,
}

#[derive(Default, Serialize, Deserialize)]
struct Offsets {
    #[serde(flatten)]
    by_connector: BTreeMap<String, BTreeMap<String, OffsetEntry>>,
}

/// Reading or writing the data directory failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct StoreError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// The connector configs and offsets of a standalone worker.
pub struct StandaloneStore {
    dir: PathBuf,
    connectors: Mutex<BTreeMap<String, StoredConnector>>,
    offsets: Mutex<Offsets>,
}

const CONNECTORS_FILE: &str = "connectors.json";
const OFFSETS_FILE: &str = "offsets.json";

impl StandaloneStore {
    /// Opens (or creates) the state in `dir`.
    pub fn open(dir: &Path) -> Result<StandaloneStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError { path: dir.to_owned(), message: e.to_string() })?;
        Ok(StandaloneStore {
            dir: dir.to_owned(),
            connectors: Mutex::new(read_json(&dir.join(CONNECTORS_FILE))?.unwrap_or_default()),
            offsets: Mutex::new(read_json(&dir.join(OFFSETS_FILE))?.unwrap_or_default()),
        })
    }

    /// Every stored connector.
    pub fn connectors(&self) -> BTreeMap<String, StoredConnector> {
        lock(&self.connectors).clone()
    }

    /// Stores (or replaces) a connector.
    pub fn put_connector(&self, name: &str, connector: StoredConnector) -> Result<(), StoreError> {
        let mut connectors = lock(&self.connectors);
        connectors.insert(name.to_owned(), connector);
        write_json(&self.dir.join(CONNECTORS_FILE), &*connectors)
    }

    /// Removes a connector and its offsets.
    pub fn remove_connector(&self, name: &str) -> Result<(), StoreError> {
        let mut connectors = lock(&self.connectors);
        connectors.remove(name);
        write_json(&self.dir.join(CONNECTORS_FILE), &*connectors)?;
        drop(connectors);
        self.reset_offsets(name)
    }

    /// Durably records committed offsets of `connector`.
    pub fn commit_offsets(
        &self,
        connector: &str,
        entries: impl IntoIterator<Item = (SourcePartition, SourceOffset)>,
    ) -> Result<(), StoreError> {
        let mut offsets = lock(&self.offsets);
        let stored = offsets.by_connector.entry(connector.to_owned()).or_default();
        for (partition, offset) in entries {
            stored.insert(partition.to_json_string(), OffsetEntry { partition, offset });
        }
        write_json(&self.dir.join(OFFSETS_FILE), &*offsets)
    }

    /// Replaces (or, with `None`, removes) single offsets, for `PATCH /connectors/{name}/offsets`.
    pub fn alter_offsets(&self, connector: &str, entries: Vec<(SourcePartition, Option<SourceOffset>)>) -> Result<(), StoreError> {
        let mut offsets = lock(&self.offsets);
        let stored = offsets.by_connector.entry(connector.to_owned()).or_default();
        for (partition, offset) in entries {
            match offset {
                Some(offset) => stored.insert(partition.to_json_string(), OffsetEntry { partition, offset }),
                None => stored.remove(&partition.to_json_string()),
            };
        }
        write_json(&self.dir.join(OFFSETS_FILE), &*offsets)
    }

    /// Forgets every offset of `connector`.
    pub fn reset_offsets(&self, connector: &str) -> Result<(), StoreError> {
        let mut offsets = lock(&self.offsets);
        if offsets.by_connector.remove(connector).is_some() {
            write_json(&self.dir.join(OFFSETS_FILE), &*offsets)?;
        }
        Ok(())
    }

    /// The committed offsets of `connector`.
    pub fn offsets(&self, connector: &str) -> Vec<OffsetEntry> {
        lock(&self.offsets).by_connector.get(connector).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    fn offset(&self, connector: &str, partition: &SourcePartition) -> Option<SourceOffset> {
        lock(&self.offsets).by_connector.get(connector)?.get(&partition.to_json_string()).map(|e| e.offset.clone())
    }
}

/// The offsets of one connector, as its tasks read them.
pub struct ConnectorOffsets {
    /// The store.
    pub store: std::sync::Arc<StandaloneStore>,
    /// The connector.
    pub connector: String,
}

impl OffsetReader for ConnectorOffsets {
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        self.store.offset(&self.connector, partition)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map(Some).map_err(|e| StoreError { path: path.to_owned(), message: format!("corrupt: {e}") })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError { path: path.to_owned(), message: e.to_string() }),
    }
}

/// Writes `value` to `path` atomically and durably.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let error = |e: std::io::Error| StoreError { path: path.to_owned(), message: e.to_string() };
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError { path: path.to_owned(), message: e.to_string() })?;
    let mut file = std::fs::File::create(&tmp).map_err(error)?;
    file.write_all(&bytes).map_err(error)?;
    file.sync_all().map_err(error)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(error)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(error)?;
    }
    Ok(())
}
