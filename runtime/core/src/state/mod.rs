//! Where worker state lives: connector configs, source offsets and statuses, each a keyed
//! [`StateLog`](log::StateLog) kept in memory, in files, or in a RocketMQ topic.

pub mod configs;
pub(crate) mod file;
mod gather;
pub mod log;
pub mod offsets;
pub mod statuses;
pub mod topic;
pub mod unit;
pub mod view;
