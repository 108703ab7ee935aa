//! Committed source offsets in a [`StateLog`]: key `<connector>/<partition as JSON>`, value
//! the offset. A task resumes from these on any worker. Exactly-once sources also keep, per
//! task and queue, the queue position their committed offsets reach.

use std::collections::BTreeMap;
use std::sync::Arc;

use connect_sdk::context::OffsetReader;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use connect_sdk::record::QueueId;
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

/// After the connector's name, the keys of queue positions: `<connector>/#queue/<task>/<queue
/// as JSON>` (not JSON, so never read as a partition).
const POSITIONS: &str = "#queue/";

fn position_key(connector: &str, task: u32, queue: &QueueId) -> String {
    format!("{connector}/{POSITIONS}{task}/{}", serde_json::to_string(queue).unwrap_or_default())
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

    /// Durably records offsets of `connector` together with where task `task` wrote in each
    /// queue when they were acknowledged (see [`SourceOffsets::queue_positions`]), in one append.
    pub async fn commit_with_positions(
        &self,
        connector: &str,
        task: u32,
        entries: impl IntoIterator<Item = (SourcePartition, SourceOffset)>,
        positions: &BTreeMap<QueueId, i64>,
    ) -> Result<(), LogError> {
        let mut changes: Vec<Change> =
            entries.into_iter().map(|(p, o)| (key(connector, &p), Some(serde_json::to_value(o).unwrap_or(Json::Null)))).collect();
        changes.extend(positions.iter().map(|(queue, position)| (position_key(connector, task, queue), Some(Json::from(*position)))));
        self.log.append(changes).await.map(drop)
    }

    /// Forgets where task `task` of `connector` wrote (see [`SourceOffsets::commit_with_positions`]):
    /// after a clean stop every record it sent is covered by a committed offset.
    pub async fn forget_task_positions(&self, connector: &str, task: u32) -> Result<(), LogError> {
        let prefix = format!("{connector}/{POSITIONS}{task}/");
        let changes: Vec<Change> = self.log.with_prefix(&prefix).into_iter().map(|(key, _)| (key, None)).collect();
        if changes.is_empty() {
            return Ok(());
        }
        self.log.append(changes).await.map(drop)
    }

    /// Per queue any task of `connector` wrote to, the position from which every record not
    /// yet covered by a committed offset lies (the earliest over its tasks): where a restarted
    /// exactly-once source looks for what the broker already holds.
    pub fn queue_positions(&self, connector: &str) -> BTreeMap<QueueId, i64> {
        let prefix = format!("{connector}/{POSITIONS}");
        let mut positions: BTreeMap<QueueId, i64> = BTreeMap::new();
        for (key, entry) in self.log.with_prefix(&prefix) {
            let Some((_task, queue)) = key[prefix.len()..].split_once('/') else { continue };
            if let (Ok(queue), Some(position)) = (serde_json::from_str::<QueueId>(queue), entry.value.as_i64()) {
                let earliest = positions.entry(queue).or_insert(position);
                *earliest = (*earliest).min(position);
            }
        }
        positions
    }

    /// The queue positions task `task` of `connector` recorded.
    pub fn task_queue_positions(&self, connector: &str, task: u32) -> BTreeMap<QueueId, i64> {
        let prefix = format!("{connector}/{POSITIONS}{task}/");
        self.log
            .with_prefix(&prefix)
            .into_iter()
            .filter_map(|(key, entry)| Some((serde_json::from_str(&key[prefix.len()..]).ok()?, entry.value.as_i64()?)))
            .collect()
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

    #[tokio::test]
    async fn a_task_s_positions_are_forgotten_without_touching_its_siblings_or_the_offsets() {
        let offsets = SourceOffsets::new(StateLog::memory("offsets"));
        let queue = |id: i32| QueueId { topic: "t".into(), broker_name: "b".into(), queue_id: id };
        let partition = SourcePartition::new().with("file", "x");
        let at = |entries: &[(i32, i64)]| entries.iter().map(|&(q, p)| (queue(q), p)).collect::<BTreeMap<_, _>>();
        offsets
            .commit_with_positions("a", 0, [(partition.clone(), SourceOffset::new().with("line", 1))], &at(&[(0, 10), (1, 4)]))
            .await
            .unwrap();
        offsets.commit_with_positions("a", 1, [], &at(&[(0, 7)])).await.unwrap();
        offsets.commit_with_positions("a", 10, [], &at(&[(0, 2)])).await.unwrap();
        assert_eq!(offsets.queue_positions("a"), at(&[(0, 2), (1, 4)]));
        offsets.forget_task_positions("a", 10).await.unwrap();
        offsets.forget_task_positions("a", 0).await.unwrap();
        assert_eq!(offsets.queue_positions("a"), at(&[(0, 7)]), "task 1's position is all that is left");
        assert_eq!(offsets.task_queue_positions("a", 1), at(&[(0, 7)]));
        assert_eq!(offsets.get("a", &partition).and_then(|o| o.get_i64("line")), Some(1));
    }
}
