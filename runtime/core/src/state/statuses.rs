//! Statuses in a [`StateLog`]: what runs where, and in which state.
//!
//! Keys: `connector/<name>` and `task/<name>/<id>`. A status also says who **owns** the unit:
//! its `worker_id`, unless that is empty (the unit was released). A worker claims a free unit
//! by writing a *claim* naming itself and the position of the record it saw as the unit's
//! current one; the claim's own position becomes its **generation**, and every later status
//! of that unit carries it. The log applies records by [`fenced`]: a claim applies only if the
//! record it saw is still the current one (compare-and-set: of two claims on the same state,
//! the first wins), any other status only if it carries the current generation. So a
//! superseded instance (a task still stopping on its old worker, a worker that was thought
//! dead) can report what it likes: it never takes a unit back.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use serde_json::Value as Json;

use super::log::{Change, Entries, Entry, LogError, StateLog};
use crate::state::unit::Unit;
use crate::task::State;

/// A unit's reported status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitStatus {
    /// Its state.
    pub state: State,
    /// The worker owning it; empty once released.
    pub worker_id: String,
    /// The error trace of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// Position of the claim this status belongs to.
    #[serde(default)]
    pub generation: u64,
    /// This record is a claim: its own position is its generation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claim: bool,
    /// For a claim: the position of the record the claimant saw as current (none: no record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
    /// Automatic restarts of this task under the current claim.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarts: u32,
    /// The failure that caused the last automatic restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl UnitStatus {
    /// `worker_id` claims the unit, whose current record it saw at position `expected`.
    pub fn claim(worker_id: &str, expected: Option<u64>) -> UnitStatus {
        UnitStatus { claim: true, expected, ..UnitStatus::of(State::Unassigned, worker_id, None, 0) }
    }

    /// A status of the claim `generation` (`worker_id` empty: released, nobody runs it).
    pub fn of(state: State, worker_id: &str, trace: Option<String>, generation: u64) -> UnitStatus {
        UnitStatus {
            state,
            worker_id: worker_id.to_owned(),
            trace,
            generation,
            claim: false,
            expected: None,
            restarts: 0,
            last_error: None,
        }
    }

    /// The claim `generation` gives the unit up.
    pub fn released(generation: u64) -> UnitStatus {
        UnitStatus::of(State::Unassigned, "", None, generation)
    }
}

/// The status log's merge rule: deletes always apply; a claim applies if the record it saw
/// is still the current one; any other status applies only if it belongs to the current claim.
pub fn fenced(current: Option<&Entry>, _offset: u64, value: Option<&Json>) -> bool {
    let Some(value) = value else { return true };
    if value.get("claim").and_then(Json::as_bool) == Some(true) {
        return value.get("expected").and_then(Json::as_u64) == current.map(|c| c.offset);
    }
    current.is_none_or(|current| value.get("generation").and_then(Json::as_u64).unwrap_or(0) == generation_of(current))
}

fn generation_of(entry: &Entry) -> u64 {
    match entry.value.get("claim").and_then(Json::as_bool) {
        Some(true) => entry.offset,
        _ => entry.value.get("generation").and_then(Json::as_u64).unwrap_or(0),
    }
}

/// The statuses of every unit.
#[derive(Clone)]
pub struct Statuses {
    log: StateLog,
}

/// What the keys of unit statuses start with (the log holds other keys too: heartbeats).
const UNIT_PREFIXES: [&str; 2] = ["connector/", "task/"];

fn key(unit: &Unit) -> String {
    match unit {
        Unit::Connector(name) => format!("connector/{name}"),
        Unit::Task(name, id) => format!("task/{name}/{id}"),
    }
}

fn unit_of(key: &str) -> Option<Unit> {
    if let Some(name) = key.strip_prefix("connector/") {
        return Some(Unit::Connector(name.to_owned()));
    }
    let (name, id) = key.strip_prefix("task/")?.rsplit_once('/')?;
    Some(Unit::Task(name.to_owned(), id.parse().ok()?))
}

fn parse(entry: &Entry) -> Option<(UnitStatus, u64)> {
    let mut status = UnitStatus::deserialize(&entry.value).ok()?;
    if status.claim {
        status.generation = entry.offset;
    }
    Some((status, entry.offset))
}

/// Every unit's status at one position of the log, parsed once for all its readers.
#[derive(Debug, Default)]
pub struct UnitStatuses {
    /// Every unit with a status, and the position of the record holding it.
    pub all: BTreeMap<Unit, (UnitStatus, u64)>,
    /// Who owns each unit (released units have no owner).
    pub owners: BTreeMap<Unit, String>,
}

/// The live keys of unit statuses (the log holds other keys too: heartbeats).
fn unit_entries(entries: &Entries) -> impl Iterator<Item = (&String, &Entry)> {
    UNIT_PREFIXES.into_iter().flat_map(|prefix| entries.map.range(prefix.to_owned()..).take_while(move |(k, _)| k.starts_with(prefix)))
}

impl UnitStatuses {
    fn of(entries: &Entries) -> UnitStatuses {
        let mut parsed = UnitStatuses::default();
        for (key, entry) in unit_entries(entries) {
            if let (Some(unit), Some(status)) = (unit_of(key), parse(entry)) {
                if !status.0.worker_id.is_empty() {
                    parsed.owners.insert(unit.clone(), status.0.worker_id.clone());
                }
                parsed.all.insert(unit, status);
            }
        }
        parsed
    }
}

impl Statuses {
    /// Statuses kept in `log`.
    pub fn new(log: StateLog) -> Statuses {
        Statuses { log }
    }

    /// The underlying log.
    pub fn log(&self) -> &StateLog {
        &self.log
    }

    /// A unit's status (a claim's generation filled in) and the position of the record holding it.
    pub fn get(&self, unit: &Unit) -> Option<(UnitStatus, u64)> {
        self.log.get(&key(unit)).as_ref().and_then(parse)
    }

    /// Every unit's status at the log's current position (shared: parsed once per position).
    pub fn current(&self) -> Arc<UnitStatuses> {
        self.log.derived(UnitStatuses::of)
    }

    /// Changes with every unit's status (a status written or deleted), not with other keys
    /// of the log (the members' heartbeats): how many units have a status, and the position of
    /// the latest. A scan, no parse: the herder asks at every heartbeat.
    pub fn revision(&self) -> (usize, u64) {
        self.log.read(|entries| unit_entries(entries).fold((0, 0), |(count, latest), (_, entry)| (count + 1, latest.max(entry.offset))))
    }

    /// Writes statuses (`None` removes one) in order; returns the position of the first.
    pub async fn put(&self, statuses: Vec<(Unit, Option<UnitStatus>)>) -> Result<u64, LogError> {
        let changes: Vec<Change> =
            statuses.into_iter().map(|(unit, status)| (key(&unit), status.map(|s| serde_json::to_value(s).unwrap_or_default()))).collect();
        self.log.append(changes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn owners_skip_released_units_and_keys_round_trip() {
        let statuses = Statuses::new(StateLog::memory_with("statuses", fenced));
        let running = UnitStatus::of(State::Running, "w1", None, 0);
        statuses
            .put(vec![
                (Unit::Connector("a/b".replace('/', "-")), Some(running.clone())),
                (Unit::task("orders", 11), Some(running.clone())),
                (Unit::task("orders", 2), Some(UnitStatus::released(0))),
            ])
            .await
            .unwrap();
        let owners = statuses.current().owners.clone();
        assert_eq!(owners.len(), 2);
        assert_eq!(owners[&Unit::task("orders", 11)], "w1");
        assert_eq!(statuses.get(&Unit::task("orders", 2)).unwrap().0, UnitStatus::released(0));
        statuses.put(vec![(Unit::task("orders", 11), None)]).await.unwrap();
        assert!(statuses.get(&Unit::task("orders", 11)).is_none());
    }

    #[tokio::test]
    async fn a_superseded_claim_s_statuses_never_take_the_unit_back() {
        let statuses = Statuses::new(StateLog::memory_with("statuses", fenced));
        let unit = Unit::task("orders", 0);
        let old = statuses.put(vec![(unit.clone(), Some(UnitStatus::claim("w1", None)))]).await.unwrap();
        let running = statuses.put(vec![(unit.clone(), Some(UnitStatus::of(State::Running, "w1", None, old)))]).await.unwrap();
        // Two claims on the same state: the first wins, the second is ignored by every reader.
        let new = statuses.put(vec![(unit.clone(), Some(UnitStatus::claim("w2", Some(running))))]).await.unwrap();
        statuses.put(vec![(unit.clone(), Some(UnitStatus::claim("w3", Some(running))))]).await.unwrap();
        assert_eq!(statuses.get(&unit).unwrap().1, new);
        // w1's task, still stopping, reports and releases under its old generation: ignored.
        statuses.put(vec![(unit.clone(), Some(UnitStatus::of(State::Stopped, "w1", None, old)))]).await.unwrap();
        statuses.put(vec![(unit.clone(), Some(UnitStatus::released(old)))]).await.unwrap();
        assert_eq!(statuses.current().owners[&unit], "w2");
        statuses.put(vec![(unit.clone(), Some(UnitStatus::of(State::Running, "w2", None, new)))]).await.unwrap();
        let (status, _) = statuses.get(&unit).unwrap();
        assert_eq!((status.state, status.worker_id.as_str(), status.generation), (State::Running, "w2", new));
        statuses.put(vec![(unit.clone(), Some(UnitStatus::released(new)))]).await.unwrap();
        assert!(!statuses.current().owners.contains_key(&unit), "its own release frees it");
    }
}
