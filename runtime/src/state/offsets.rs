//! Committed source offsets in a [`StateLog`]: key `<connector>/<partition as JSON>`, value
//! the offset. A task resumes from these on any worker.

use std::sync::Arc;

use connect_sdk::context::OffsetReader;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use serde_json::Value as Json;

use super::log::{Change, LogError, StateLog};

/// One committed offset.
#[derive(Clone, Debug, PartialEq)]
pub struct OffsetEntry {
    /// Source partition.
    pub partition: SourcePartition,
    /// Its committed offset.
    pub offset: SourceOffset,
}

/// The committed offsets of every source connector.
#[derive(Clone)]
pub struct SourceOffsets {
    log: StateLog,
}

fn prefix(connector: &str) -> String {
    format!("{connector}/")
}

fn key(connector: &str, partition: &SourcePartition) -> String {
    format!("{connector}/{}", partition.to_json_string())
}

impl SourceOffsets {
    /// Offsets kept in `log`.
    pub fn new(log: StateLog) -> SourceOffsets {
        SourceOffsets { log }
    }

    /// The underlying log.
    pub fn log(&self) -> &StateLog {
        &self.log
    }

    /// Every committed offset of `connector`.
    pub fn of(&self, connector: &str) -> Vec<OffsetEntry> {
        let prefix = prefix(connector);
        self.log
            .with_prefix(&prefix)
            .into_iter()
            .filter_map(|(key, entry)| {
                let partition = serde_json::from_str(&key[prefix.len()..]).ok()?;
                let offset = serde_json::from_value(entry.value).ok()?;
                Some(OffsetEntry { partition, offset })
            })
            .collect()
    }

    /// The committed offset of one partition.
    pub fn get(&self, connector: &str, partition: &SourcePartition) -> Option<SourceOffset> {
        serde_json::from_value(self.log.get(&key(connector, partition))?.value).ok()
    }

    /// Durably records offsets of `connector`.
    pub async fn commit(
        &self,
        connector: &str,
        entries: impl IntoIterator<Item = (SourcePartition, SourceOffset)>,
    ) -> Result<(), LogError> {
        self.alter(connector, entries.into_iter().map(|(p, o)| (p, Some(o))).collect()).await
    }

    /// Replaces (or, with `None`, removes) single offsets.
    pub async fn alter(&self, connector: &str, entries: Vec<(SourcePartition, Option<SourceOffset>)>) -> Result<(), LogError> {
        let changes: Vec<Change> = entries
            .into_iter()
            .map(|(partition, offset)| (key(connector, &partition), offset.map(|o| serde_json::to_value(o).unwrap_or(Json::Null))))
            .collect();
        self.log.append(changes).await.map(drop)
    }

    /// Forgets every offset of `connector`: it starts over.
    pub async fn reset(&self, connector: &str) -> Result<(), LogError> {
        let changes: Vec<Change> = self.log.with_prefix(&prefix(connector)).into_iter().map(|(key, _)| (key, None)).collect();
        self.log.append(changes).await.map(drop)
    }

    /// What a task of `connector` reads its offsets through.
    pub fn reader(&self, connector: &str) -> Arc<dyn OffsetReader> {
        Arc::new(ConnectorOffsets { offsets: self.clone(), connector: connector.to_owned() })
    }
}

/// The offsets of one connector, as its tasks read them.
struct ConnectorOffsets {
    offsets: SourceOffsets,
    connector: String,
}

impl OffsetReader for ConnectorOffsets {
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        self.offsets.get(&self.connector, partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn offsets_are_kept_per_connector_and_partition() {
        let offsets = SourceOffsets::new(StateLog::memory("offsets"));
        let file = |name: &str| SourcePartition::new().with("file", name);
        offsets.commit("a", [(file("x"), SourceOffset::new().with("line", 3))]).await.unwrap();
        offsets.commit("ab", [(file("x"), SourceOffset::new().with("line", 9))]).await.unwrap();
        offsets.commit("a", [(file("x"), SourceOffset::new().with("line", 5))]).await.unwrap();
        assert_eq!(offsets.reader("a").offset(&file("x")).and_then(|o| o.get_i64("line")), Some(5));
        assert_eq!(offsets.of("a").len(), 1);
        offsets.reset("a").await.unwrap();
        assert!(offsets.of("a").is_empty());
        assert_eq!(offsets.of("ab").len(), 1);
    }
}
