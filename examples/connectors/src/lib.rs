//! A connector crate as a user would write it: only `connect-sdk` in its `Cargo.toml`, no
//! registration code. Linking this crate into a worker makes `lines-source`, `countdown-source`,
//! `counter-source` and `log-sink` available.

pub mod countdown;
pub mod counter;
pub mod lines;
pub mod log_sink;
