//! `rocketmq-source`: replicates topics of another RocketMQ cluster into the worker's, for
//! replication between data centres or a migration between clusters.
//!
//! The connector plans its tasks from the source cluster's queues (spread over `tasks.max`
//! tasks, looked up again every `source.queue.refresh.ms`, so added queues are picked up).
//! Each task reads its queues in assign mode and keeps its position per queue in the
//! worker's offset log, not in the source cluster: a restarted task resumes at the next
//! message of each queue, and the source cluster is only read. A queue keeps its order.
//!
//! Delivery: at least once (what was polled after the last offset commit is read again).

// The RocketMQ client's futures are deep.
#![recursion_limit = "256"]

mod source;

pub use source::{RocketMqSource, RocketMqSourceTask, StartFrom};
