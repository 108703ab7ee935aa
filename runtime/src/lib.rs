//! The worker runtime that executes connectors registered with [`connect_sdk`] over RocketMQ.

pub mod embedded;
pub mod mq;

pub use connect_sdk::registry::Registry;
