//! Which listed members are alive: their heartbeats, read back through the status log.
//!
//! The broker lists a worker as a member for as long as its connections stay open, so a worker
//! that hangs (stopped, paused with its VM, stuck on a full disk) stays listed until the
//! broker expires its channel, two minutes later, and keeps its units all that time. So every
//! worker also writes a heartbeat (`member/<worker id>`, a count) to the status log every
//! heartbeat interval, and every worker keeps, per member, when (by its own clock) it last saw
//! that member's heartbeat advance. A listed member whose heartbeat has not advanced for the
//! member timeout is left out of the member list, and its units are taken over after the
//! takeover delay; a member listed only recently gets the timeout to write its first.
//!
//! A worker judges itself by its own heartbeats read back, with a shorter timeout (the
//! takeover delay less): it drops out of its own list, and its lease lapses, before any other
//! worker may take its units, even when it reads the status log a little later than they do.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// The status log's key of `worker`'s heartbeat.
pub fn heartbeat_key(worker: &str) -> String {
    format!("{HEARTBEAT_PREFIX}{worker}")
}

/// What every heartbeat key starts with.
pub const HEARTBEAT_PREFIX: &str = "member/";

/// Per member, when its heartbeat last advanced; and which listed members are alive.
#[derive(Debug)]
pub struct Liveness {
    me: String,
    timeout: Duration,
    own_timeout: Duration,
    /// Position of each member's latest heartbeat, and when it was first seen there.
    beats: HashMap<String, (u64, Instant)>,
    /// When each listed member was first seen listed (this time).
    listed_since: HashMap<String, Instant>,
}

impl Liveness {
    /// Liveness as `me` judges it: others after `timeout` without a new heartbeat, itself
    /// after `own_timeout`.
    pub fn new(me: &str, timeout: Duration, own_timeout: Duration) -> Liveness {
        Liveness { me: me.to_owned(), timeout, own_timeout, beats: HashMap::new(), listed_since: HashMap::new() }
    }

    /// The heartbeats the status log holds now, all of them: each member's and the position of
    /// its record (a member whose heartbeat was deleted is forgotten).
    pub fn saw_beats(&mut self, beats: impl IntoIterator<Item = (String, u64)>) {
        let now = Instant::now();
        let beats: HashMap<String, u64> = beats.into_iter().collect();
        self.beats.retain(|worker, _| beats.contains_key(worker));
        for (worker, position) in beats {
            match self.beats.get_mut(&worker) {
                Some((seen, _)) if *seen == position => {}
                Some(entry) => *entry = (position, now),
                None => {
                    self.beats.insert(worker, (position, now));
                }
            }
        }
    }

    /// Of the `listed` workers (sorted), those alive now.
    pub fn alive(&mut self, listed: &[String]) -> Vec<String> {
        let now = Instant::now();
        self.listed_since.retain(|worker, _| listed.contains(worker));
        for worker in listed {
            self.listed_since.entry(worker.clone()).or_insert(now);
        }
        listed
            .iter()
            .filter(|worker| {
                let timeout = if **worker == self.me { self.own_timeout } else { self.timeout };
                let fresh = |since: Instant| now.saturating_duration_since(since) < timeout;
                self.listed_since.get(*worker).is_some_and(|since| fresh(*since))
                    || self.beats.get(*worker).is_some_and(|(_, since)| fresh(*since))
            })
            .cloned()
            .collect()
    }

    /// Members whose heartbeat has not advanced for ten timeouts and which are not listed:
    /// gone for good, their keys can be deleted.
    pub fn long_gone(&self, listed: &[String]) -> Vec<String> {
        let now = Instant::now();
        self.beats
            .iter()
            .filter(|(worker, (_, since))| !listed.contains(worker) && now.saturating_duration_since(*since) >= self.timeout * 10)
            .map(|(worker, _)| worker.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_listed_member_whose_heartbeat_stops_is_left_out_after_the_timeout_and_back_with_its_next_beat() {
        let mut liveness = Liveness::new("a", Duration::from_secs(10), Duration::from_secs(8));
        let listed = ids(&["a", "b"]);
        assert_eq!(liveness.alive(&listed), listed, "newly listed members get the timeout to write a first beat");
        for second in 1..=30u64 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            // a beats all along; b's last beat is at second 5.
            liveness.saw_beats([("a".to_owned(), second * 2), ("b".to_owned(), second.min(5) * 2 + 1)]);
            let alive = liveness.alive(&listed);
            assert_eq!(alive.contains(&"b".to_owned()), second < 15, "second {second}: {alive:?}");
            assert!(alive.contains(&"a".to_owned()));
        }
        liveness.saw_beats([("a".to_owned(), 60), ("b".to_owned(), 99)]);
        assert_eq!(liveness.alive(&listed), listed, "a new beat brings it back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_leaves_itself_out_sooner_than_the_others_do() {
        let mut liveness = Liveness::new("a", Duration::from_secs(10), Duration::from_secs(8));
        let listed = ids(&["a", "b"]);
        liveness.saw_beats([("a".to_owned(), 1), ("b".to_owned(), 2)]);
        assert_eq!(liveness.alive(&listed), listed);
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert_eq!(liveness.alive(&listed), ids(&["b"]), "its own beat is 9 s old: past its own timeout, not the others'");
        assert!(liveness.long_gone(&listed).is_empty());
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert_eq!(liveness.long_gone(&ids(&["a"])), ids(&["b"]), "unlisted and silent for ten timeouts");
        liveness.saw_beats([("a".to_owned(), 1)]);
        assert!(liveness.long_gone(&ids(&["a"])).is_empty(), "once its heartbeat is deleted, it is not deleted again");
    }
}
