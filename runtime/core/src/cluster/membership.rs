//! Who is in the cluster: the workers whose consumers are in one shared consumer group, with
//! no service but RocketMQ, and whose heartbeats still advance.
//!
//! Each worker joins the group `<cluster>-members` with a consumer whose instance name carries
//! its worker id. Two sources report the group's members:
//! - the consumer's allocation strategy, which the client calls on every rebalance with the
//!   full sorted list of client ids (right after the broker notifies a change, and otherwise
//!   every 20 s); it assigns no queue, it only listens;
//! - a poll of the group's connections through the admin API (every `poll_interval`), which
//!   bounds the detection delay even if a notification is lost.
//!
//! A worker killed with `kill -9` leaves the group as soon as the broker sees its connection
//! close (the kernel closes the socket), which the broker notifies at once. A worker that
//! hangs keeps its connections open: of the listed workers, only those whose heartbeats in
//! the status log still advance count as members (see [`super::liveness`]).

use std::sync::Arc;
use std::time::Duration;

use cheetah_string::CheetahString;
use rocketmq_client_rust::AllocateMessageQueueStrategy;
use rocketmq_model::common::message::message_queue::MessageQueue;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::lease::Lease;
use super::liveness::{HEARTBEAT_PREFIX, Liveness, heartbeat_key};
use crate::mq::{Consumer, MqCause, MqClient, MqError};
use crate::state::log::StateLog;

/// What a member's consumer instance name starts with; the worker id follows.
const INSTANCE_PREFIX: &str = "connect-member-";

/// The client instance name of `worker_id` in a cluster: the [`MqClient`] a member joins with
/// must be opened with it, as members are told apart by their consumers' client ids.
pub fn instance_name(worker_id: &str) -> String {
    format!("{INSTANCE_PREFIX}{worker_id}")
}

/// The worker id in a client id (`<ip>@<instance>[@<unit>]`), if it is a member's.
pub fn worker_of(client_id: &str) -> Option<String> {
    client_id.split('@').nth(1)?.strip_prefix(INSTANCE_PREFIX).map(str::to_owned)
}

/// Sorted, deduplicated worker ids of client ids.
fn workers_of<'a>(client_ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut workers: Vec<String> = client_ids.into_iter().filter_map(worker_of).collect();
    workers.sort();
    workers.dedup();
    workers
}

/// Publishes the members on every rebalance, and takes no queue.
struct Listener {
    roster: Arc<Roster>,
}

/// This worker, and its lease renewed whenever it sees itself in the list.
#[derive(Clone)]
struct Me {
    id: String,
    lease: Option<Arc<Lease>>,
}

impl Me {
    fn saw(&self, workers: &[String]) {
        if let Some(lease) = &self.lease
            && workers.contains(&self.id)
        {
            lease.renew();
        }
    }
}

/// The listed workers and their liveness, and the member list published from them.
struct Roster {
    state: std::sync::Mutex<(Vec<String>, Liveness)>,
    members: watch::Sender<Vec<String>>,
    me: Me,
}

impl Roster {
    /// The group lists `workers` (sorted) now.
    fn listed(&self, workers: Vec<String>) {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0 = workers;
        self.publish();
    }

    /// The status log holds these heartbeats now.
    fn beats(&self, beats: impl IntoIterator<Item = (String, u64)>) {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1.saw_beats(beats);
        self.publish();
    }

    /// Publishes the listed workers that are alive now; renews the lease if this is one.
    fn publish(&self) {
        let alive = {
            let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let (listed, liveness) = &mut *state;
            liveness.alive(listed)
        };
        self.me.saw(&alive);
        publish(&self.members, alive);
    }

    /// Workers gone for good whose heartbeat keys the first member deletes.
    fn long_gone(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (listed, liveness) = &*state;
        if self.members.borrow().first() != Some(&self.me.id) {
            return Vec::new();
        }
        liveness.long_gone(listed)
    }
}

impl AllocateMessageQueueStrategy for Listener {
    fn allocate(
        &self,
        _group: &CheetahString,
        _current: &CheetahString,
        _queues: &[MessageQueue],
        client_ids: &[CheetahString],
    ) -> rocketmq_error::Result<Vec<MessageQueue>> {
        self.roster.listed(workers_of(client_ids.iter().map(CheetahString::as_str)));
        Ok(Vec::new())
    }

    fn get_name(&self) -> &'static str {
        "CONNECT_MEMBERSHIP"
    }
}

fn publish(members: &watch::Sender<Vec<String>>, workers: Vec<String>) {
    members.send_if_modified(|current| {
        if *current == workers {
            return false;
        }
        tracing::info!(members = ?workers, "cluster membership changed");
        *current = workers;
        true
    });
}

/// How a worker takes part in its cluster's membership.
#[derive(Clone, Debug)]
pub struct MemberSettings {
    /// The consumer group whose members are the cluster's workers.
    pub group: String,
    /// The topic the group's consumers subscribe to (they read nothing from it).
    pub topic: String,
    /// This worker's id.
    pub worker_id: String,
    /// How often the group's connections are listed, on top of the broker's notifications.
    pub poll_interval: Duration,
    /// How often this worker writes its heartbeat.
    pub heartbeat_interval: Duration,
    /// How long a listed worker's heartbeat may stand still before it is no longer a member.
    pub member_timeout: Duration,
    /// How long others wait after a worker left before taking its units (this worker judges
    /// itself by `member_timeout` less this, so it stops before they start).
    pub takeover_delay: Duration,
}

/// This worker's membership of its cluster.
pub struct Membership {
    members: watch::Receiver<Vec<String>>,
    consumer: tokio::sync::Mutex<Option<Consumer>>,
    tasks: Vec<JoinHandle<()>>,
    statuses: StateLog,
    worker_id: String,
}

impl Membership {
    /// Joins the group; writes heartbeats to `statuses` and reads everyone's from it; `lease`
    /// is renewed each time the worker sees itself a member.
    pub async fn join(
        mq: &MqClient,
        settings: MemberSettings,
        statuses: StateLog,
        lease: Option<Arc<Lease>>,
    ) -> Result<Membership, MqError> {
        let own_timeout = settings.member_timeout.saturating_sub(settings.takeover_delay).max(settings.heartbeat_interval * 2);
        let liveness = Liveness::new(&settings.worker_id, settings.member_timeout, own_timeout);
        let (sender, members) = watch::channel(Vec::new());
        let me = Me { id: settings.worker_id.clone(), lease };
        let roster = Arc::new(Roster { state: std::sync::Mutex::new((Vec::new(), liveness)), members: sender, me });
        let listener = Arc::new(Listener { roster: roster.clone() });
        if mq.instance() != instance_name(&settings.worker_id) {
            let wrong = MqCause::Missing("the client was not opened with membership::instance_name(worker id)");
            return Err(MqError::new(format!("join {}", settings.group), wrong));
        }
        let consumer = mq.group_member(&settings.group, &settings.topic, listener).await?;
        let tasks = vec![
            tokio::spawn(beat(statuses.clone(), settings.worker_id.clone(), settings.heartbeat_interval)),
            tokio::spawn(read_beats(statuses.clone(), roster.clone())),
            tokio::spawn(poll(mq.clone(), settings.clone(), roster, statuses.clone())),
        ];
        Ok(Membership { members, consumer: tokio::sync::Mutex::new(Some(consumer)), tasks, statuses, worker_id: settings.worker_id })
    }

    /// A watch of the sorted member ids.
    pub fn members(&self) -> watch::Receiver<Vec<String>> {
        self.members.clone()
    }

    /// Leaves the group: the other members see this worker go at once.
    pub async fn leave(&self) {
        for task in &self.tasks {
            task.abort();
        }
        let consumer = self.consumer.lock().await.take();
        if let Some(consumer) = &consumer {
            consumer.stop_delivery().await;
        }
        // Bounded: a worker leaving a cluster whose broker is away must not wait for it.
        let delete = self.statuses.append(vec![(heartbeat_key(&self.worker_id), None)]);
        match tokio::time::timeout(Duration::from_secs(5), delete).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::debug!(%error, "could not delete this worker's heartbeat (the first member deletes it later)"),
            Err(_) => tracing::debug!("deleting this worker's heartbeat took over 5 s (the first member deletes it later)"),
        }
        if let Some(consumer) = consumer {
            consumer.shutdown().await;
        }
    }
}

/// Writes this worker's heartbeat every `interval`.
async fn beat(statuses: StateLog, worker_id: String, interval: Duration) {
    let key = heartbeat_key(&worker_id);
    let mut failing = false;
    for count in 0u64.. {
        match statuses.append(vec![(key.clone(), Some(serde_json::json!({ "beat": count })))]).await {
            Ok(_) => failing = false,
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "cannot write this worker's heartbeat: the others will count it gone if this lasts");
            }
            Err(_) => {}
        }
        tokio::time::sleep(interval).await;
    }
}

/// Follows the heartbeats in the status log.
async fn read_beats(statuses: StateLog, roster: Arc<Roster>) {
    let mut changes = statuses.changes();
    loop {
        let beats = statuses.with_prefix(HEARTBEAT_PREFIX).into_iter().filter_map(|(key, entry)| {
            let worker = key.strip_prefix(HEARTBEAT_PREFIX)?.to_owned();
            Some((worker, entry.offset))
        });
        roster.beats(beats);
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Lists the group's connections every poll interval (and publishes who is alive then, even
/// when the list cannot be read: a heartbeat that stops counts); the first member deletes the
/// heartbeats of workers gone for good.
async fn poll(mq: MqClient, settings: MemberSettings, roster: Arc<Roster>, statuses: StateLog) {
    let mut failing = false;
    loop {
        tokio::time::sleep(settings.poll_interval).await;
        // The status log's broker: the one whose outage stops the cluster's writes anyway.
        match mq.group_client_ids(&settings.group, &settings.topic, statuses.broker()).await {
            Ok(ids) => {
                failing = false;
                roster.listed(workers_of(ids.iter().map(String::as_str)));
            }
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "cannot list the cluster's members; keeping the last known list");
                roster.publish();
            }
            Err(_) => roster.publish(),
        }
        let gone: Vec<_> = roster.long_gone().iter().map(|worker| (heartbeat_key(worker), None)).collect();
        if !gone.is_empty()
            && let Err(error) = statuses.append(gone).await
        {
            tracing::debug!(%error, "could not delete the heartbeats of workers gone for good");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ids_come_from_member_instance_names_only() {
        let ids = ["10.0.0.2@connect-member-b:8083", "10.0.0.1@connect-member-a:8083@unit", "10.0.0.1@other-client", "garbage"];
        assert_eq!(workers_of(ids), vec!["a:8083".to_owned(), "b:8083".to_owned()]);
        assert_eq!(worker_of(&format!("127.0.0.1@{}", instance_name("w-1"))), Some("w-1".to_owned()));
    }
}
