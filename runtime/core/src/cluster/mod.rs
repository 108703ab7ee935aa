//! Cluster mode: several workers sharing one RocketMQ cluster and a cluster name.

pub mod assign;
pub mod lease;
pub mod liveness;
pub mod membership;
