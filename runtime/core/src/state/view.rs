//! What every state log is read as, whatever its backend: the live keys ([`Entries`], each an
//! [`Entry`] with the position that wrote it), the rule that decides whether a record applies
//! ([`Merge`]), the [`View`] readers share, and the errors ([`LogError`]).

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::sync::watch;

use crate::mq::MqError;

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
    /// The broker holding the log is not routed by the name server.
    #[error("broker {broker}, which holds this log, is not routed by the name server (down?) after {waited:?}")]
    BrokerAway {
        /// Its name.
        broker: String,
        /// How long was waited.
        waited: Duration,
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
            LogCause::NotReadBack { .. } | LogCause::ReplayStalled { .. } | LogCause::BrokerAway { .. } => true,
            _ => false,
        }
    }
}

impl From<LogError> for connect_sdk::Error {
    /// A task's view of a state-log failure: retriable when trying again may succeed, so a task
    /// waits out a broker that does not answer its offset commits as it waits out its sends.
    fn from(error: LogError) -> connect_sdk::Error {
        if error.is_retriable() { connect_sdk::Error::retriable(error) } else { connect_sdk::Error::other(error) }
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

/// A value derived from the entries, with the position it was derived at.
type Derived = (u64, Arc<dyn Any + Send + Sync>);

/// What a log's readers share: the applied entries, a watch of the next position, and the
/// values derived from them (parsed statuses, connector specs), kept until the log moves on.
pub(crate) struct View {
    pub(crate) name: String,
    pub(crate) merge: Merge,
    entries: RwLock<Entries>,
    applied: watch::Sender<u64>,
    derived: Mutex<HashMap<TypeId, Derived>>,
}

impl View {
    pub(crate) fn new(name: &str, entries: Entries, merge: Merge) -> Arc<View> {
        let (applied, _) = watch::channel(entries.next);
        Arc::new(View { name: name.to_owned(), merge, entries: RwLock::new(entries), applied, derived: Mutex::default() })
    }

    pub(crate) fn read<T>(&self, read: impl FnOnce(&Entries) -> T) -> T {
        read(&self.entries.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The `T` derived from the entries by `derive`, derived again only when records were
    /// applied since: every reader of the log (a worker's passes, its REST calls) shares one
    /// parse per position instead of one per call.
    pub(crate) fn derived<T: Any + Send + Sync>(&self, derive: impl FnOnce(&Entries) -> T) -> Arc<T> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let mut derived = self.derived.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, value)) = derived.get(&TypeId::of::<T>())
            && *at == entries.next
            && let Ok(value) = Arc::clone(value).downcast::<T>()
        {
            return value;
        }
        let value = Arc::new(derive(&entries));
        derived.insert(TypeId::of::<T>(), (entries.next, value.clone()));
        value
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

    /// Applies `changes` at the next positions (a log in memory: nothing to wait for);
    /// returns the first one's.
    pub(crate) fn append(&self, changes: Vec<Change>) -> u64 {
        let (first, next) = {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            let first = entries.next;
            for (offset, (key, value)) in (first..).zip(changes) {
                entries.apply(offset, key, value, self.merge);
            }
            (first, entries.next)
        };
        self.applied.send_if_modified(|current| std::mem::replace(current, next) != next);
        first
    }

    /// A watch of the position applied so far.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
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
