//! Who is in the cluster: the workers whose consumers are in one shared consumer group, with
//! no service but RocketMQ.
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
//! close (the kernel closes the socket), which the broker notifies at once.

use std::sync::Arc;
use std::time::Duration;

use cheetah_string::CheetahString;
use rocketmq_client_rust::AllocateMessageQueueStrategy;
use rocketmq_model::common::message::message_queue::MessageQueue;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::lease::Lease;
use crate::mq::{Consumer, MqClient, MqError};

/// What a member's consumer instance name starts with; the worker id follows.
const INSTANCE_PREFIX: &str = "connect-member-";

/// The instance name of `worker_id`'s member consumer.
fn instance_name(worker_id: &str) -> String {
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
    members: Arc<watch::Sender<Vec<String>>>,
    me: Me,
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

impl AllocateMessageQueueStrategy for Listener {
    fn allocate(
        &self,
        _group: &CheetahString,
        _current: &CheetahString,
        _queues: &[MessageQueue],
        client_ids: &[CheetahString],
    ) -> rocketmq_error::Result<Vec<MessageQueue>> {
        let workers = workers_of(client_ids.iter().map(CheetahString::as_str));
        self.me.saw(&workers);
        publish(&self.members, workers);
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

/// This worker's membership of its cluster.
pub struct Membership {
    members: watch::Receiver<Vec<String>>,
    consumer: tokio::sync::Mutex<Option<Consumer>>,
    poller: JoinHandle<()>,
}

impl Membership {
    /// Joins `group` as `worker_id` (subscribing to `topic`, from which it reads nothing);
    /// `lease` is renewed each time the worker sees itself listed.
    pub async fn join(
        mq: &MqClient,
        group: &str,
        topic: &str,
        worker_id: &str,
        poll_interval: Duration,
        lease: Option<Arc<Lease>>,
    ) -> Result<Membership, MqError> {
        let (sender, members) = watch::channel(Vec::new());
        let sender = Arc::new(sender);
        let me = Me { id: worker_id.to_owned(), lease };
        let listener = Arc::new(Listener { members: sender.clone(), me: me.clone() });
        let consumer = mq.group_member(group, &instance_name(worker_id), topic, listener).await?;
        let poller = tokio::spawn(poll(mq.clone(), group.to_owned(), topic.to_owned(), sender, poll_interval, me));
        Ok(Membership { members, consumer: tokio::sync::Mutex::new(Some(consumer)), poller })
    }

    /// A watch of the sorted member ids.
    pub fn members(&self) -> watch::Receiver<Vec<String>> {
        self.members.clone()
    }

    /// Leaves the group: the other members see this worker go at once.
    pub async fn leave(&self) {
        self.poller.abort();
        if let Some(consumer) = self.consumer.lock().await.take() {
            consumer.shutdown().await;
        }
    }
}

async fn poll(mq: MqClient, group: String, topic: String, members: Arc<watch::Sender<Vec<String>>>, interval: Duration, me: Me) {
    let mut failing = false;
    loop {
        tokio::time::sleep(interval).await;
        match mq.group_client_ids(&group, &topic).await {
            Ok(ids) => {
                failing = false;
                let workers = workers_of(ids.iter().map(String::as_str));
                me.saw(&workers);
                publish(&members, workers);
            }
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "cannot list the cluster's members; keeping the last known list");
            }
            Err(_) => {}
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
