//! Where worker state lives: connector configs, source offsets and statuses, each a keyed
//! [`StateLog`](log::StateLog) kept in memory, in a file, or in a RocketMQ topic.

pub mod configs;
mod gather;
pub mod log;
pub mod offsets;
pub mod statuses;
pub mod topic;
pub mod unit;
pub mod view;
