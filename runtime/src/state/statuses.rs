//! Statuses in a [`StateLog`]: what runs where, and in which state.
//!
//! Keys: `connector/<name>` and `task/<name>/<id>`. A status also says who **owns** the unit:
//! its `worker_id`, unless that is empty (the unit was released). A worker claims a free unit
//! by writing a status with its id, and the record's position becomes the claim's
//! *generation*: of two claims, the later one wins, and a worker whose generation is no longer
//! the latest stops the unit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::log::{Change, LogError, StateLog};
use crate::cluster::assign::Unit;
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
}

impl UnitStatus {
    /// A released unit: nobody runs it.
    pub fn released() -> UnitStatus {
        UnitStatus { state: State::Unassigned, worker_id: String::new(), trace: None, generation: 0 }
    }
}

/// The statuses of every unit.
#[derive(Clone)]
pub struct Statuses {
    log: StateLog,
}

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

impl Statuses {
    /// Statuses kept in `log`.
    pub fn new(log: StateLog) -> Statuses {
        Statuses { log }
    }

    /// The underlying log.
    pub fn log(&self) -> &StateLog {
        &self.log
    }

    /// A unit's status and the position of the record holding it.
    pub fn get(&self, unit: &Unit) -> Option<(UnitStatus, u64)> {
        let entry = self.log.get(&key(unit))?;
        serde_json::from_value(entry.value).ok().map(|status| (status, entry.offset))
    }

    /// Every unit with a status.
    pub fn all(&self) -> BTreeMap<Unit, (UnitStatus, u64)> {
        let mut out = BTreeMap::new();
        for prefix in ["connector/", "task/"] {
            for (key, entry) in self.log.with_prefix(prefix) {
                if let (Some(unit), Ok(status)) = (unit_of(&key), serde_json::from_value(entry.value)) {
                    out.insert(unit, (status, entry.offset));
                }
            }
        }
        out
    }

    /// Who owns each unit (released units have no owner).
    pub fn owners(&self) -> BTreeMap<Unit, String> {
        self.all().into_iter().filter(|(_, (s, _))| !s.worker_id.is_empty()).map(|(unit, (s, _))| (unit, s.worker_id)).collect()
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
        let statuses = Statuses::new(StateLog::memory("statuses"));
        let running = UnitStatus { state: State::Running, worker_id: "w1".to_owned(), trace: None, generation: 0 };
        statuses
            .put(vec![
                (Unit::Connector("a/b".replace('/', "-")), Some(running.clone())),
                (Unit::task("orders", 11), Some(running.clone())),
                (Unit::task("orders", 2), Some(UnitStatus::released())),
            ])
            .await
            .unwrap();
        let owners = statuses.owners();
        assert_eq!(owners.len(), 2);
        assert_eq!(owners[&Unit::task("orders", 11)], "w1");
        assert_eq!(statuses.get(&Unit::task("orders", 2)).unwrap().0, UnitStatus::released());
        statuses.put(vec![(Unit::task("orders", 11), None)]).await.unwrap();
        assert!(statuses.get(&Unit::task("orders", 11)).is_none());
    }
}
