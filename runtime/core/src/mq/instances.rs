//! Which RocketMQ client instance each consumer runs on.
//!
//! A client instance is a set of connections and a request table of 65,536 slots (32 MiB,
//! allocated when the instance is created and touched page by page as requests come and go),
//! and it holds at most one consumer of each group. A consumer of its own for every task cost
//! 32 MiB of heap per task; instead the worker's consumers share its instances: the first
//! consumer of a group open at a time runs on the worker's own instance, a second of the same
//! group (another task of the connector) on the second instance, and so on. A worker runs as
//! many instances as it runs tasks of its largest connector, not as many as it runs tasks.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The slots of a worker's client instances, per consumer group.
pub(super) struct Instances {
    /// The name of the worker's own instance (slot 0); slot `k` is `<base>-<k>`.
    base: String,
    /// The slots the open consumers of each group hold.
    held: Mutex<HashMap<String, BTreeSet<u32>>>,
}

impl Instances {
    /// The instances named after `base`.
    pub(super) fn new(base: &str) -> Arc<Instances> {
        Arc::new(Instances { base: base.to_owned(), held: Mutex::default() })
    }

    /// The name of the worker's own instance.
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    /// The lowest slot no open consumer of `group` holds.
    pub(super) fn take(self: &Arc<Self>, group: &str) -> Slot {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let slots = held.entry(group.to_owned()).or_default();
        let index = (0..).find(|k| !slots.contains(k)).expect("fewer than u32::MAX consumers of one group");
        slots.insert(index);
        Slot { instances: self.clone(), group: group.to_owned(), index, held: AtomicBool::new(true) }
    }

    /// Slot 0, the worker's own instance, for `group`; `None` while a consumer of `group` holds it.
    pub(super) fn take_first(self: &Arc<Self>, group: &str) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.entry(group.to_owned()).or_default().insert(0).then(|| Slot {
            instances: self.clone(),
            group: group.to_owned(),
            index: 0,
            held: AtomicBool::new(true),
        })
    }
}

/// A consumer's place on one client instance, held until [`Slot::release`]. A consumer dropped
/// without a shutdown keeps its slot: the client may still count it as the group's consumer.
pub(super) struct Slot {
    instances: Arc<Instances>,
    group: String,
    index: u32,
    held: AtomicBool,
}

impl Slot {
    /// The instance name.
    pub(super) fn instance_name(&self) -> String {
        match self.index {
            0 => self.instances.base.clone(),
            k => format!("{}-{k}", self.instances.base),
        }
    }

    /// Frees the slot for the group's next consumer (once the consumer has shut down).
    pub(super) fn release(&self) {
        if self.held.swap(false, Ordering::AcqRel) {
            let mut held = self.instances.held.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(slots) = held.get_mut(&self.group) {
                slots.remove(&self.index);
                if slots.is_empty() {
                    held.remove(&self.group);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumers_of_one_group_spread_over_instances_and_other_groups_share_the_first() {
        let instances = Instances::new("w1");
        let (a0, a1, b0) = (instances.take("a"), instances.take("a"), instances.take("b"));
        assert_eq!((a0.instance_name(), a1.instance_name(), b0.instance_name()), ("w1".into(), "w1-1".into(), "w1".into()));
        assert!(instances.take_first("b").is_none(), "slot 0 of b is held");
        a0.release();
        a0.release(); // twice is once
        assert_eq!(instances.take("a").instance_name(), "w1", "a freed slot is taken again, lowest first");
        assert_eq!(instances.take("a").instance_name(), "w1-2");
        b0.release();
        assert_eq!(instances.take_first("b").map(|slot| slot.instance_name()), Some("w1".into()));
    }
}
