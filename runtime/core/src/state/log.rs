//! [`StateLog`]: keyed records where the last write of a key wins and a delete removes it.
//!
//! Every piece of worker state has this shape: connector configs, source offsets and statuses.
//! A log lives in memory (statuses of a standalone worker), in files of the data directory
//! (a standalone worker's configs and offsets: a snapshot and a journal, see [`super::file`])
//! or in a RocketMQ topic (a cluster's configs,
//! offsets and statuses, see [`super::topic`]). Whatever the backend, readers see one view: the
//! live keys, each with the position of the record that wrote it (a revision that only grows),
//! and a watch of the position applied so far.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::file::FileLog;
use super::topic::{TopicLog, TopicLogConfig};
pub(crate) use super::view::View;
pub use super::view::{Change, Entries, Entry, LogError, Merge, last_write_wins};
use crate::mq::{MqClient, Producer};

enum Backend {
    Memory,
    File(Arc<FileLog>),
    Topic(TopicLog),
}

/// A keyed state log; cheap to clone.
#[derive(Clone)]
pub struct StateLog {
    view: Arc<View>,
    backend: Arc<Backend>,
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

    /// A log kept in `path` and the journal beside it (created on the first write), applying
    /// records by `merge`.
    pub fn file_with(name: &str, path: &Path, merge: Merge) -> Result<StateLog, LogError> {
        let (view, file) = FileLog::open(name, path, merge)?;
        Ok(StateLog::with(view, Backend::File(Arc::new(file))))
    }

    /// A [`file_with`](Self::file_with) log (the last write wins) whose appends gather for `gather` before each write: many
    /// appenders that do not wait on their writes (a thousand source tasks committing
    /// offsets) share one write and one fsync.
    pub fn file_gathering(name: &str, path: &Path, gather: std::time::Duration) -> Result<StateLog, LogError> {
        let (view, file) = FileLog::open(name, path, last_write_wins)?;
        Ok(StateLog::with(view, Backend::File(Arc::new(file.gathering(gather)))))
    }

    /// A log in a topic (see [`super::topic`]): the topic created if missing, replayed
    /// from its latest snapshot, and followed from then on.
    pub(crate) async fn open_topic(mq: &MqClient, producer: Arc<Producer>, config: TopicLogConfig<'_>) -> Result<StateLog, LogError> {
        let (view, topic) = super::topic::open(mq, producer, config).await?;
        Ok(StateLog::topic(view, topic))
    }

    fn topic(view: Arc<View>, topic: TopicLog) -> StateLog {
        StateLog::with(view, Backend::Topic(topic))
    }

    fn with(view: Arc<View>, backend: Backend) -> StateLog {
        StateLog { view, backend: Arc::new(backend) }
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
            Backend::File(file) => file.append(changes).await,
            Backend::Memory => Ok(self.view.append(changes)),
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

    /// What `read` makes of the live keys (under the view's read lock: keep it short).
    pub fn read<T>(&self, read: impl FnOnce(&Entries) -> T) -> T {
        self.view.read(read)
    }

    /// A value derived from the live keys (`T` names it: one per type), derived again only
    /// after records were applied: readers share one derivation per position.
    pub fn derived<T: std::any::Any + Send + Sync>(&self, derive: impl FnOnce(&Entries) -> T) -> Arc<T> {
        self.view.derived(derive)
    }

    /// The position the next record gets: everything before it is applied.
    pub fn next(&self) -> u64 {
        self.view.read(|e| e.next)
    }

    /// A watch of [`next`](Self::next): it changes whenever records are applied.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.view.changes()
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

    /// The broker holding the log (topic logs only).
    pub fn broker(&self) -> Option<&str> {
        match &*self.backend {
            Backend::Topic(topic) => Some(topic.broker()),
            Backend::Memory | Backend::File(_) => None,
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
    use serde_json::{Value as Json, json};

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
        let log = StateLog::file_with("configs", &path, last_write_wins).unwrap();
        log.append(vec![put("a", json!({"x": 1})), put("b", json!(2))]).await.unwrap();
        log.append(vec![("b".to_owned(), None)]).await.unwrap();
        let reopened = StateLog::file_with("configs", &path, last_write_wins).unwrap();
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
