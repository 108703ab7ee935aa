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

use std::collections::{BTreeMap, BTreeSet};

use crate::state::unit::Unit;

/// Assigns every unit to one of `members` (none when there are no members).
///
/// `owners` says who runs each unit now; owners that are not members are ignored (their units
/// are free). Deterministic: the same inputs give the same output on every worker.
pub fn assign(members: &[String], units: &[Unit], owners: &BTreeMap<Unit, String>) -> BTreeMap<Unit, String> {
    let members: BTreeSet<&str> = members.iter().map(String::as_str).collect();
    let units: BTreeSet<&Unit> = units.iter().collect();
    let mut assignment = BTreeMap::new();
    let (connectors, tasks): (Vec<&Unit>, Vec<&Unit>) = units.into_iter().partition(|u| u.is_connector());
    for group in [connectors, tasks] {
        balance(&members, &group, owners, &mut assignment);
    }
    assignment
}

/// Spreads `units` (sorted) over `members`, keeping units with their current owners where the
/// balance allows.
fn balance(members: &BTreeSet<&str>, units: &[&Unit], owners: &BTreeMap<Unit, String>, out: &mut BTreeMap<Unit, String>) {
    if members.is_empty() || units.is_empty() {
        return;
    }
    let mut held: BTreeMap<&str, Vec<&Unit>> = members.iter().map(|m| (*m, Vec::new())).collect();
    for unit in units {
        if let Some(list) = owners.get(*unit).and_then(|owner| held.get_mut(owner.as_str())) {
            list.push(unit);
        }
    }
    // The ⌈n/m⌉ shares go to the members holding the most units (ties: the lower id).
    let base = units.len() / members.len();
    let extra = units.len() % members.len();
    let mut by_holdings: Vec<&str> = members.iter().copied().collect();
    by_holdings.sort_by_key(|m| (std::cmp::Reverse(held[m].len()), *m));
    let quota: BTreeMap<&str, usize> = by_holdings.iter().enumerate().map(|(i, m)| (*m, base + usize::from(i < extra))).collect();

    let mut load: BTreeMap<&str, usize> = BTreeMap::new();
    let mut kept: BTreeSet<&Unit> = BTreeSet::new();
    for (member, list) in &held {
        for unit in list.iter().take(quota[member]) {
            out.insert((*unit).clone(), (*member).to_owned());
            kept.insert(unit);
        }
        load.insert(member, list.len().min(quota[member]));
    }
    for unit in units.iter().filter(|u| !kept.contains(*u)) {
        // The member with the most room left (ties: the lower id).
        let member = members.iter().copied().max_by_key(|m| (quota[m] - load[m], std::cmp::Reverse(*m))).expect("members is not empty");
        *load.get_mut(member).expect("every member has a load") += 1;
        out.insert((*unit).clone(), member.to_owned());
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
