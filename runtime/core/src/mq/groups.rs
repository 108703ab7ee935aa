//! How a worker's consumers share its one RocketMQ client instance.
//!
//! A client instance is a set of connections and a request table of 65,536 slots (32 MiB,
//! allocated when the instance is created and touched page by page as requests come and go),
//! and it holds at most one consumer of each group. The tasks of one sink connector commit
//! their offsets as one group, so several of them on one worker cannot all register under it.
//! Instead every consumer runs on the worker's own instance: the first consumer of a group open
//! on the worker registers under the group, each further one under a pull group of its own
//! (`%<k>%<group>`, see [`pull_group`]), and all of them read and commit offsets through the
//! group's offset store, which the first one opened. The name a lite-pull consumer registers
//! under changes nothing else on the broker: its pulls commit no offsets.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rocketmq_client_rust::OffsetStore;

use super::Erased;

/// The consumer groups open on a worker's client instance.
pub(super) struct Groups {
    /// The name of the worker's client instance.
    instance: String,
    open: Mutex<HashMap<String, Group>>,
}

/// One group's consumers on the worker.
#[derive(Default)]
struct Group {
    /// The slots its open consumers hold (slot 0 registers under the group itself).
    slots: BTreeSet<u32>,
    /// The group's offset store, opened by its first consumer, kept while any is open.
    store: Option<Erased<Arc<OffsetStore>>>,
    /// Starts of its consumers, one at a time (a second waits for the first's offset store).
    turn: Arc<tokio::sync::Mutex<()>>,
    /// How many starts wait or run.
    starting: usize,
}

impl Groups {
    /// The groups of the instance named `instance`.
    pub(super) fn new(instance: &str) -> Arc<Groups> {
        Arc::new(Groups { instance: instance.to_owned(), open: Mutex::default() })
    }

    /// The name of the worker's client instance.
    pub(super) fn instance(&self) -> &str {
        &self.instance
    }

    /// Waits until no other consumer of `group` is starting, then holds the turn.
    pub(super) async fn start(self: &Arc<Self>, group: &str) -> Starting {
        let turn = {
            let mut open = self.lock();
            let entry = open.entry(group.to_owned()).or_default();
            entry.starting += 1;
            entry.turn.clone()
        };
        let held = turn.lock_owned().await;
        Starting { groups: self.clone(), group: group.to_owned(), _held: held }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Group>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets `group` once no consumer of it is open or starting.
    fn tidy(open: &mut HashMap<String, Group>, group: &str) {
        if open.get(group).is_some_and(|entry| entry.slots.is_empty() && entry.starting == 0) {
            open.remove(group);
        }
    }
}

/// The turn to start a consumer of one group.
pub(super) struct Starting {
    groups: Arc<Groups>,
    group: String,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl Starting {
    /// The lowest free slot of the group, and the group's offset store when a consumer of it
    /// is open.
    pub(super) fn take(&self) -> (Slot, Option<Arc<OffsetStore>>) {
        let mut open = self.groups.lock();
        let entry = open.entry(self.group.clone()).or_default();
        let index = (0..).find(|k| !entry.slots.contains(k)).expect("fewer than u32::MAX consumers of one group");
        entry.slots.insert(index);
        let store = entry.store.as_ref().map(|store| Arc::clone(store));
        (self.slot(index), store)
    }

    /// Slot 0 (registering under the group itself), unless a consumer of the group holds it.
    pub(super) fn take_first(&self) -> Option<Slot> {
        let mut open = self.groups.lock();
        open.entry(self.group.clone()).or_default().slots.insert(0).then(|| self.slot(0))
    }

    /// Keeps the offset store of the group's first consumer for the ones started after it.
    pub(super) fn keep_store(&self, store: Arc<OffsetStore>) {
        if let Some(entry) = self.groups.lock().get_mut(&self.group) {
            entry.store.get_or_insert_with(|| Erased::new(store));
        }
    }

    fn slot(&self, index: u32) -> Slot {
        Slot { groups: self.groups.clone(), group: self.group.clone(), index, held: AtomicBool::new(true) }
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        let mut open = self.groups.lock();
        if let Some(entry) = open.get_mut(&self.group) {
            entry.starting -= 1;
        }
        Groups::tidy(&mut open, &self.group);
    }
}

/// A consumer's place among its group's consumers on the worker, held until
/// [`Slot::release`]. A consumer dropped without a shutdown keeps its slot: the client may
/// still count it as registered.
pub(super) struct Slot {
    groups: Arc<Groups>,
    group: String,
    index: u32,
    held: AtomicBool,
}

impl Slot {
    /// The group the consumer registers under on the instance.
    pub(super) fn registered_as(&self) -> String {
        pull_group(&self.group, self.index)
    }

    /// Frees the slot for the group's next consumer (once the consumer has shut down).
    pub(super) fn release(&self) {
        if self.held.swap(false, Ordering::AcqRel) {
            let mut open = self.groups.lock();
            if let Some(entry) = open.get_mut(&self.group) {
                entry.slots.remove(&self.index);
            }
            Groups::tidy(&mut open, &self.group);
        }
    }
}

/// The group the `k`-th consumer of `group` on a worker registers under: `group` itself for
/// the first, else `%<k>%<group>` (cut to RocketMQ's 120 characters). `%` is one of the
/// characters RocketMQ accepts in a group name, and no connector's group starts with it
/// (they start with `connect-`), so a pull group is never another connector's group.
pub(super) fn pull_group(group: &str, k: u32) -> String {
    if k == 0 {
        return group.to_owned();
    }
    let mut pulled = format!("%{k}%{group}");
    pulled.truncate(super::GROUP_MAX_LENGTH);
    pulled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn further_consumers_of_a_group_register_under_pull_groups_and_other_groups_under_their_own() {
        let groups = Groups::new("w1");
        let a = groups.start("a").await;
        let (a0, a1) = (a.take().0, a.take().0);
        drop(a);
        let b0 = groups.start("b").await.take().0;
        assert_eq!((a0.registered_as(), a1.registered_as(), b0.registered_as()), ("a".into(), "%1%a".into(), "b".into()));
        assert!(groups.start("b").await.take_first().is_none(), "slot 0 of b is held");
        a0.release();
        a0.release(); // twice is once
        assert_eq!(groups.start("a").await.take().0.registered_as(), "a", "a freed slot is taken again, lowest first");
        assert_eq!(groups.start("a").await.take().0.registered_as(), "%2%a");
        b0.release();
        assert!(!groups.lock().contains_key("b"), "a group without consumers is forgotten");
        assert_eq!(groups.start("b").await.take_first().map(|slot| slot.registered_as()), Some("b".into()));
    }

    #[test]
    fn a_pull_group_is_valid_whatever_the_group_and_never_a_connector_s_group() {
        for group in [super::super::connector_group("orders", ""), super::super::connector_group(&"x%1".repeat(100), "")] {
            let pulled = pull_group(&group, 12);
            assert!(pulled.len() <= super::super::GROUP_MAX_LENGTH, "{pulled}");
            assert!(!rocketmq_model::common::topic::TopicValidator::is_topic_or_group_illegal(&pulled), "{pulled}");
            assert!(pulled.starts_with("%12%connect-"), "{pulled}");
        }
    }
}
