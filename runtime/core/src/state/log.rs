//! [`StateLog`]: keyed records where the last write of a key wins and a delete removes it.
//!
//! Every piece of worker state has this shape: connector configs, source offsets and statuses.
//! A log lives in memory (statuses of a standalone worker), in a file of the data directory
//! (a standalone worker's configs and offsets) or in a RocketMQ topic (a cluster's configs,
//! offsets and statuses, see [`super::topic`]). Whatever the backend, readers see one view: the
//! live keys, each with the position of the record that wrote it (a revision that only grows),
//! and a watch of the position applied so far.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::sync::watch;

use crate::mq::MqError;

use super::topic::TopicLog;

/// One live key: its value and the position of the record that wrote it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The value.
    pub value: Json,
    /// Position of the record in its log; later writes have larger positions.
    pub offset: u64,
}

/// A record to append: the key, and its new value or `None` to delete it.
pub type Change = (String, Option<Json>);

/// Whether the record at `offset` (a new value, or `None` to delete) replaces the current
/// entry of its key. Every reader applies the same rule in the same order, so all agree.
pub type Merge = fn(current: Option<&Entry>, offset: u64, value: Option<&Json>) -> bool;

/// The default rule: the last write wins.
pub fn last_write_wins(_current: Option<&Entry>, _offset: u64, _value: Option<&Json>) -> bool {
    true
}

/// Reading or writing a state log failed.
#[derive(Debug, thiserror::Error)]
#[error("state log {log}: {cause}")]
pub struct LogError {
    /// Which log (`configs`, `offsets`, `statuses`).
    pub log: String,
    /// What went wrong.
    #[source]
    pub cause: LogCause,
}

/// What went wrong with a state log.
#[derive(Debug, thiserror::Error)]
pub enum LogCause {
    /// Its file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Its file holds something else than a log.
    #[error("{path}: corrupt: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A record could not be encoded.
    #[error("a record cannot be encoded: {0}")]
    Encode(#[source] serde_json::Error),
    /// A record could not be laid out as a message.
    #[error("a record cannot be laid out as a message: {0}")]
    Message(#[source] rocketmq_error::Error),
    /// The broker could not be reached or refused.
    #[error(transparent)]
    Mq(#[from] MqError),
    /// A record was stored but did not come back to this reader in time.
    #[error("record {offset} was written but not read back within {timeout:?}")]
    NotReadBack {
        /// Its position.
        offset: u64,
        /// How long was waited.
        timeout: Duration,
    },
    /// Replaying the topic at start-up made no progress.
    #[error("replay stalled at position {at} of {end}")]
    ReplayStalled {
        /// Position reached.
        at: u64,
        /// Position wanted.
        end: u64,
    },
    /// The topic has no queue to keep the log in.
    #[error("topic {0} has no queue")]
    NoQueue(String),
    /// The log was closed (the worker is stopping).
    #[error("the log is closed")]
    Closed,
}

impl LogError {
    pub(crate) fn new(log: &str, cause: impl Into<LogCause>) -> LogError {
        LogError { log: log.to_owned(), cause: cause.into() }
    }

    /// Whether trying again later may succeed (the broker was away, a read-back was late).
    pub fn is_retriable(&self) -> bool {
        match &self.cause {
            LogCause::Mq(error) => error.is_retriable(),
            LogCause::NotReadBack { .. } | LogCause::ReplayStalled { .. } => true,
            _ => false,
        }
    }
}

/// The live keys, and the position after the last applied record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Entries {
    /// Live keys.
    pub map: BTreeMap<String, Entry>,
    /// The position the next record gets.
    pub next: u64,
}

impl Entries {
    /// Applies the record at `offset`, if `merge` accepts it.
    pub fn apply(&mut self, offset: u64, key: String, value: Option<Json>, merge: Merge) {
        self.next = self.next.max(offset + 1);
        if !merge(self.map.get(&key), offset, value.as_ref()) {
            return;
        }
        match value {
            Some(value) => {
                self.map.insert(key, Entry { value, offset });
            }
            None => {
                self.map.remove(&key);
            }
        }
    }
}

/// What a log's readers share: the applied entries and a watch of the next position.
pub(crate) struct View {
    pub(crate) name: String,
    pub(crate) merge: Merge,
    entries: RwLock<Entries>,
    applied: watch::Sender<u64>,
}

impl View {
    pub(crate) fn new(name: &str, entries: Entries, merge: Merge) -> Arc<View> {
        let (applied, _) = watch::channel(entries.next);
        Arc::new(View { name: name.to_owned(), merge, entries: RwLock::new(entries), applied })
    }

    pub(crate) fn read<T>(&self, read: impl FnOnce(&Entries) -> T) -> T {
        read(&self.entries.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Applies records read up to position `next` (exclusive), then tells the watchers.
    pub(crate) fn apply(&self, records: impl IntoIterator<Item = (u64, String, Option<Json>)>, next: u64) {
        let next = {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            for (offset, key, value) in records {
                entries.apply(offset, key, value, self.merge);
            }
            entries.next = entries.next.max(next);
            entries.next
        };
        self.applied.send_if_modified(|current| std::mem::replace(current, next) != next);
    }

    /// Replaces everything (a snapshot loaded at start-up).
    pub(crate) fn replace(&self, entries: Entries) {
        let next = entries.next;
        *self.entries.write().unwrap_or_else(PoisonError::into_inner) = entries;
        self.applied.send_replace(next);
    }

    /// Waits until the record at `offset` is applied.
    pub(crate) async fn wait_applied(&self, offset: u64, timeout: Duration) -> Result<(), LogError> {
        let mut applied = self.applied.subscribe();
        match tokio::time::timeout(timeout, applied.wait_for(|next| *next > offset)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(LogError::new(&self.name, LogCause::NotReadBack { offset, timeout })),
        }
    }
}

enum Backend {
    Memory,
    File(PathBuf),
    Topic(TopicLog),
}

/// A keyed state log; cheap to clone.
#[derive(Clone)]
pub struct StateLog {
    view: Arc<View>,
    backend: Arc<Backend>,
    /// Serializes appends to memory and files (a topic orders them itself).
    writing: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for StateLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateLog").field("name", &self.view.name).field("next", &self.next()).finish()
    }
}

/// How long a write to a topic may take to be read back.
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(30);

impl StateLog {
    /// A log kept in memory only, where the last write wins.
    #[cfg(test)]
    pub fn memory(name: &str) -> StateLog {
        StateLog::memory_with(name, last_write_wins)
    }

    /// A log kept in memory only, applying records by `merge`.
    pub fn memory_with(name: &str, merge: Merge) -> StateLog {
        StateLog::with(View::new(name, Entries::default(), merge), Backend::Memory)
    }

    /// A log kept in `path` (created on the first write), rewritten atomically on every
    /// append; the last write wins.
    pub fn file(name: &str, path: &Path) -> Result<StateLog, LogError> {
        StateLog::file_with(name, path, last_write_wins)
    }

    /// A log kept in `path`, applying records by `merge`.
    pub fn file_with(name: &str, path: &Path, merge: Merge) -> Result<StateLog, LogError> {
        let path_buf = || path.to_owned();
        let entries = match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| LogError::new(name, LogCause::Corrupt { path: path_buf(), source }))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Entries::default(),
            Err(source) => return Err(LogError::new(name, LogCause::Io { path: path_buf(), source })),
        };
        Ok(StateLog::with(View::new(name, entries, merge), Backend::File(path.to_owned())))
    }

    /// A log kept in a RocketMQ topic, replayed up to its end before this returns.
    pub(crate) fn topic(view: Arc<View>, topic: TopicLog) -> StateLog {
        StateLog::with(view, Backend::Topic(topic))
    }

    fn with(view: Arc<View>, backend: Backend) -> StateLog {
        StateLog { view, backend: Arc::new(backend), writing: Arc::default() }
    }

    /// The log's name.
    pub fn name(&self) -> &str {
        &self.view.name
    }

    /// Appends `changes` in order; returns the position of the first. Returns once they are
    /// durable (fsynced, or stored by the broker) and visible in this log's view.
    pub async fn append(&self, changes: Vec<Change>) -> Result<u64, LogError> {
        if changes.is_empty() {
            return Ok(self.next());
        }
        match &*self.backend {
            Backend::Topic(topic) => {
                let (first, last) = topic.append(&changes).await?;
                self.view.wait_applied(last, READ_BACK_TIMEOUT).await?;
                Ok(first)
            }
            Backend::Memory | Backend::File(_) => {
                let _writing = self.writing.lock().await;
                let first = self.next();
                let mut staged = self.view.read(Entries::clone);
                for (i, (key, value)) in changes.iter().enumerate() {
                    staged.apply(first + i as u64, key.clone(), value.clone(), self.view.merge);
                }
                if let Backend::File(path) = &*self.backend {
                    // Two fsyncs: off the async threads, which other tasks share.
                    let target = path.clone();
                    let written = tokio::task::spawn_blocking(move || write_json(&target, &staged).map(|()| staged)).await;
                    let io = |source| LogError::new(self.name(), LogCause::Io { path: path.clone(), source });
                    staged = written.map_err(|e| io(std::io::Error::other(e)))?.map_err(io)?;
                }
                self.view.replace(staged);
                Ok(first)
            }
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<Entry> {
        self.view.read(|e| e.map.get(key).cloned())
    }

    /// Every live key starting with `prefix`, in key order.
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, Entry)> {
        self.view.read(|e| {
            e.map.range(prefix.to_owned()..).take_while(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect()
        })
    }

    /// The position the next record gets: everything before it is applied.
    pub fn next(&self) -> u64 {
        self.view.read(|e| e.next)
    }

    /// A watch of [`next`](Self::next): it changes whenever records are applied.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.view.applied.subscribe()
    }

    /// Waits until every record written before this call is applied (a no-op for local logs).
    pub async fn catch_up(&self) -> Result<(), LogError> {
        match &*self.backend {
            Backend::Topic(topic) => {
                let end = topic.end().await?;
                if end > 0 { self.view.wait_applied(end - 1, READ_BACK_TIMEOUT).await } else { Ok(()) }
            }
            Backend::Memory | Backend::File(_) => Ok(()),
        }
    }

    /// Writes a snapshot of the live keys when enough was written since the last one (topic
    /// logs only: replay at start-up then begins at the latest snapshot). Returns whether it wrote one.
    pub async fn snapshot_if_due(&self) -> Result<bool, LogError> {
        match &*self.backend {
            Backend::Topic(topic) => topic.snapshot_if_due(&self.view).await,
            Backend::Memory | Backend::File(_) => Ok(false),
        }
    }

    /// How many records were read at start-up (topic logs only).
    pub fn replayed(&self) -> Option<u64> {
        match &*self.backend {
            Backend::Topic(topic) => Some(topic.replayed()),
            Backend::Memory | Backend::File(_) => None,
        }
    }

    /// How many keys are live.
    pub fn len(&self) -> usize {
        self.view.read(|e| e.map.len())
    }

    /// Stops following the topic (topic logs); the view stays readable.
    pub async fn close(&self) {
        if let Backend::Topic(topic) = &*self.backend {
            topic.close().await;
        }
    }
}

/// Writes `value` to `path` atomically and durably: a temporary file, fsynced, renamed over
/// the old one, then the directory fsynced; a crash leaves the old or the new version.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(value)?;
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn put(key: &str, value: Json) -> Change {
        (key.to_owned(), Some(value))
    }

    #[tokio::test]
    async fn the_last_write_wins_and_a_delete_removes() {
        let log = StateLog::memory("test");
        let first = log.append(vec![put("a", json!(1)), put("b", json!(2))]).await.unwrap();
        assert_eq!(first, 0);
        let second = log.append(vec![put("a", json!(3)), ("b".to_owned(), None)]).await.unwrap();
        assert_eq!(second, 2);
        assert_eq!(log.get("a"), Some(Entry { value: json!(3), offset: 2 }));
        assert_eq!(log.get("b"), None);
        assert_eq!(log.next(), 4);
    }

    #[tokio::test]
    async fn prefixes_select_a_connector_s_keys() {
        let log = StateLog::memory("test");
        log.append(vec![put("tasks/ab", json!(1)), put("tasks/a", json!(2)), put("tasks/b", json!(3)), put("x", json!(4))]).await.unwrap();
        let keys: Vec<String> = log.with_prefix("tasks/a").into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["tasks/a", "tasks/ab"]);
    }

    #[tokio::test]
    async fn a_file_log_survives_a_reopen() {
        let dir = std::env::temp_dir().join(format!("state-log-{}", std::process::id()));
        let path = dir.join("configs.json");
        let _ = std::fs::remove_dir_all(&dir);
        let log = StateLog::file("configs", &path).unwrap();
        log.append(vec![put("a", json!({"x": 1})), put("b", json!(2))]).await.unwrap();
        log.append(vec![("b".to_owned(), None)]).await.unwrap();
        let reopened = StateLog::file("configs", &path).unwrap();
        assert_eq!(reopened.get("a"), Some(Entry { value: json!({"x": 1}), offset: 0 }));
        assert_eq!(reopened.get("b"), None);
        assert_eq!(reopened.next(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn watchers_see_every_append() {
        let log = StateLog::memory("test");
        let mut changes = log.changes();
        log.append(vec![put("a", json!(1))]).await.unwrap();
        assert!(changes.has_changed().unwrap());
        assert_eq!(*changes.borrow_and_update(), 1);
    }
}
