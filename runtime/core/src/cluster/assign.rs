//! Which worker runs which connector and task: a pure function every worker evaluates on the
//! same inputs, so all of them agree without a leader.
//!
//! The inputs are the sorted member ids, the units of work (connectors and their tasks) and
//! who owns each unit now, as the status topic says. Connectors and tasks are balanced
//! separately: each member gets ⌊n/m⌋ or ⌈n/m⌉ of each. The assignment is **sticky**: a unit
//! stays with its owner while that owner is a member and within its share, and the larger
//! shares go to the members that already hold the most units. So a join moves only what the
//! new member must take, and a leave moves only what the leaver held (the test
//! `a_join_moves_only_what_the_newcomer_must_take` shows it).

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use crate::state::unit::Unit;

/// The whole assignment: every unit with the member it goes to (what the tests compare).
#[cfg(test)]
pub fn assign(members: &[String], units: &[Unit], owners: &BTreeMap<Unit, String>) -> BTreeMap<Unit, String> {
    let mut assignment = BTreeMap::new();
    place(members, units, owners, |unit, member| {
        assignment.insert(unit.clone(), member.to_owned());
    });
    assignment
}

/// The units of `units` that go to `member`, one of `members` (none when it is not one): what
/// each worker's reconcile pass asks.
///
/// `owners` says who runs each unit now; owners that are not members are ignored (their units
/// are free). Deterministic: the same inputs give the same output on every worker.
pub fn assigned_to(member: &str, members: &[String], units: &[Unit], owners: &BTreeMap<Unit, String>) -> BTreeSet<Unit> {
    let mut mine = BTreeSet::new();
    place(members, units, owners, |unit, to| {
        if to == member {
            mine.insert(unit.clone());
        }
    });
    mine
}

/// Calls `put(unit, member)` for every unit: connectors, then tasks, each group balanced.
fn place(members: &[String], units: &[Unit], owners: &BTreeMap<Unit, String>, mut put: impl FnMut(&Unit, &str)) {
    let members: BTreeSet<&str> = members.iter().map(String::as_str).collect();
    let members: Vec<&str> = members.into_iter().collect();
    // The herder passes the configs' units sorted and each once; sort anything else.
    let units: Cow<'_, [Unit]> = if units.is_sorted_by(|a, b| a < b) {
        Cow::Borrowed(units)
    } else {
        let set: BTreeSet<&Unit> = units.iter().collect();
        Cow::Owned(set.into_iter().cloned().collect())
    };
    let (connectors, tasks) = units.split_at(units.partition_point(Unit::is_connector));
    for group in [connectors, tasks] {
        balance(&members, group, owners, &mut put);
    }
}

/// Spreads `units` (sorted) over `members`, keeping units with their current owners where the
/// balance allows. O(units × log members): it runs on every reconcile pass of every worker.
fn balance(members: &[&str], units: &[Unit], owners: &BTreeMap<Unit, String>, put: &mut impl FnMut(&Unit, &str)) {
    let (Some(first), Some(last)) = (units.first(), units.last()) else { return };
    if members.is_empty() {
        return;
    }
    // Members by index (`members` is in id order); what each holds now, as indexes into
    // `units`, found by walking the units and their owners side by side (both sorted).
    let index: HashMap<&str, usize> = members.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut held: Vec<Vec<usize>> = vec![Vec::new(); members.len()];
    let mut owned = owners.range::<Unit, _>(first..=last).peekable();
    for (u, unit) in units.iter().enumerate() {
        while owned.next_if(|(owned, _)| *owned < unit).is_some() {}
        if let Some((_, owner)) = owned.next_if(|(owned, _)| *owned == unit)
            && let Some(&m) = index.get(owner.as_str())
        {
            held[m].push(u);
        }
    }
    // The ⌈n/m⌉ shares go to the members holding the most units (ties: the lower id).
    let base = units.len() / members.len();
    let extra = units.len() % members.len();
    let mut by_holdings: Vec<usize> = (0..members.len()).collect();
    by_holdings.sort_by_key(|&m| (Reverse(held[m].len()), m));
    let mut quota = vec![base; members.len()];
    for &m in by_holdings.iter().take(extra) {
        quota[m] += 1;
    }

    let mut placed = vec![false; units.len()];
    let mut room = BinaryHeap::with_capacity(members.len());
    for (m, list) in held.iter().enumerate() {
        for &u in list.iter().take(quota[m]) {
            put(&units[u], members[m]);
            placed[u] = true;
        }
        // The member with the most room left comes first (ties: the lower id).
        room.push((quota[m] - list.len().min(quota[m]), Reverse(m)));
    }
    for (unit, _) in units.iter().zip(&placed).filter(|(_, placed)| !**placed) {
        let (left, Reverse(m)) = room.pop().expect("members is not empty");
        put(unit, members[m]);
        room.push((left.saturating_sub(1), Reverse(m)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_moves_only_what_the_newcomer_must_take() {
        let members = vec!["a".to_owned(), "b".to_owned()];
        let units: Vec<Unit> = (0..4).map(|i| Unit::task("orders", i)).collect();
        let first = assign(&members, &units, &BTreeMap::new());
        assert_eq!(first.values().filter(|w| *w == "a").count(), 2);
        // "c" joins: with the current owners as input, only one task moves (to "c").
        let members = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let second = assign(&members, &units, &first);
        let moved = units.iter().filter(|u| first[*u] != second[*u]).count();
        assert_eq!(moved, 1);
    }

    fn members(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    fn tasks(connector: &str, n: u32) -> Vec<Unit> {
        (0..n).map(|i| Unit::task(connector, i)).collect()
    }

    fn count(assignment: &BTreeMap<Unit, String>, member: &str) -> usize {
        assignment.values().filter(|w| *w == member).count()
    }

    fn moved(before: &BTreeMap<Unit, String>, after: &BTreeMap<Unit, String>) -> usize {
        after.iter().filter(|(u, w)| before.get(*u).is_some_and(|b| b != *w)).count()
    }

    #[test]
    fn six_tasks_on_three_workers_are_two_each() {
        let assignment = assign(&members(&["a", "b", "c"]), &tasks("c", 6), &BTreeMap::new());
        for m in ["a", "b", "c"] {
            assert_eq!(count(&assignment, m), 2, "{assignment:?}");
        }
    }

    #[test]
    fn a_fourth_worker_takes_only_what_it_must() {
        let units = tasks("c", 6);
        let before = assign(&members(&["a", "b", "c"]), &units, &BTreeMap::new());
        let after = assign(&members(&["a", "b", "c", "d"]), &units, &before);
        assert_eq!(moved(&before, &after), 1);
        assert!(after.iter().filter(|(u, w)| before[*u] != **w).all(|(_, w)| w == "d"));
        let mut loads: Vec<usize> = ["a", "b", "c", "d"].iter().map(|m| count(&after, m)).collect();
        loads.sort();
        assert_eq!(loads, vec![1, 1, 2, 2]);
    }

    #[test]
    fn a_leaver_s_units_are_the_only_ones_that_move() {
        let units = tasks("c", 6);
        let before = assign(&members(&["a", "b", "c"]), &units, &BTreeMap::new());
        let after = assign(&members(&["a", "b"]), &units, &before);
        let moved_units: Vec<&Unit> = units.iter().filter(|u| before[*u] != after[*u]).collect();
        assert_eq!(moved_units.len(), 2);
        assert!(moved_units.iter().all(|u| before[*u] == "c"));
        assert_eq!((count(&after, "a"), count(&after, "b")), (3, 3));
    }

    #[test]
    fn connectors_and_tasks_are_balanced_separately() {
        let mut units: Vec<Unit> = ["x", "y"].iter().map(|c| Unit::Connector((*c).to_owned())).collect();
        units.extend(tasks("x", 3));
        units.extend(tasks("y", 1));
        let assignment = assign(&members(&["a", "b"]), &units, &BTreeMap::new());
        let connectors_on = |m: &str| assignment.iter().filter(|(u, w)| u.is_connector() && *w == m).count();
        assert_eq!((connectors_on("a"), connectors_on("b")), (1, 1));
        assert_eq!(count(&assignment, "a") + count(&assignment, "b"), 6);
        assert_eq!((count(&assignment, "a") - connectors_on("a"), count(&assignment, "b") - connectors_on("b")), (2, 2));
    }

    #[test]
    fn owners_that_left_and_units_that_vanished_are_ignored() {
        let mut owners = BTreeMap::new();
        owners.insert(Unit::task("c", 0), "gone".to_owned());
        owners.insert(Unit::task("deleted", 0), "a".to_owned());
        let assignment = assign(&members(&["a"]), &tasks("c", 1), &owners);
        assert_eq!(assignment.len(), 1);
        assert_eq!(assignment[&Unit::task("c", 0)], "a");
        assert!(assign(&[], &tasks("c", 1), &owners).is_empty());
    }

    /// A small deterministic random source (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// The cluster protocol, step by step: each worker sees the owners at some moment, then
    /// releases what the assignment took from it, or claims a free unit the assignment gave it.
    /// Whatever the interleaving, it settles on a balanced assignment equal to the owners.
    #[test]
    fn the_claim_and_release_protocol_settles_whatever_the_interleaving() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let worker_count = 1 + rng.below(6);
            let workers: Vec<String> = (0..worker_count).map(|i| format!("w{i}")).collect();
            let mut units: Vec<Unit> = (0..rng.below(4)).map(|c| Unit::Connector(format!("c{c}"))).collect();
            units.extend((0..rng.below(14) as u32).map(|i| Unit::task("c0", i)));
            // Start from a random ownership, some units owned by workers that left.
            let mut owners: BTreeMap<Unit, String> = BTreeMap::new();
            for unit in &units {
                match rng.below(worker_count + 2) {
                    i if i < worker_count => owners.insert(unit.clone(), workers[i].clone()),
                    i if i == worker_count => owners.insert(unit.clone(), "left".to_owned()),
                    _ => None,
                };
            }
            let mut steps = 0;
            loop {
                let target = assign(&workers, &units, &owners);
                if units.iter().all(|u| owners.get(u) == target.get(u)) {
                    break;
                }
                steps += 1;
                assert!(steps < 10_000, "round {round} does not settle: {owners:?}");
                // One worker acts on a possibly stale view: the owners as they were a step ago
                // are as good as now for what follows, since every action is re-checked.
                let worker = &workers[rng.below(worker_count)];
                let view = assign(&workers, &units, &owners);
                let free = |u: &Unit| owners.get(u).is_none_or(|o| !workers.contains(o));
                let releases: Vec<Unit> =
                    units.iter().filter(|u| owners.get(*u) == Some(worker) && view.get(*u) != Some(worker)).cloned().collect();
                let claims: Vec<Unit> = units.iter().filter(|u| view.get(*u) == Some(worker) && free(u)).cloned().collect();
                if let Some(unit) = releases.first() {
                    owners.remove(unit);
                } else if let Some(unit) = claims.first() {
                    owners.insert(unit.clone(), worker.clone());
                }
            }
            let target = assign(&workers, &units, &owners);
            for group in [true, false] {
                let n = units.iter().filter(|u| u.is_connector() == group).count();
                for worker in &workers {
                    let load = target.iter().filter(|(u, w)| u.is_connector() == group && *w == worker).count();
                    assert!(load == n / worker_count || load == n.div_ceil(worker_count), "round {round}: unbalanced {target:?}");
                }
            }
        }
    }

    #[test]
    fn joins_move_at_most_a_fair_share_and_leaves_move_only_the_leaver_s_units() {
        let mut rng = Rng(42);
        for _ in 0..200 {
            let n = 1 + rng.below(40) as u32;
            let units = tasks("c", n);
            let mut workers: Vec<String> = (0..1 + rng.below(6)).map(|i| format!("w{i}")).collect();
            let before = assign(&workers, &units, &BTreeMap::new());
            workers.push("new".to_owned());
            let after = assign(&workers, &units, &before);
            assert!(moved(&before, &after) <= (n as usize).div_ceil(workers.len()), "{before:?} → {after:?}");
            let leaver = workers.remove(rng.below(workers.len()));
            let later = assign(&workers, &units, &after);
            if !workers.is_empty() {
                assert!(units.iter().filter(|u| after[*u] != later[*u]).all(|u| after[u] == leaver));
            }
        }
    }
}
