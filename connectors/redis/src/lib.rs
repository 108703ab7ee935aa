//! Redis connectors: `redis-sink` writes records as strings (`SET`), hashes (`HSET`) or
//! stream entries (`XADD`), each `put` in one `MULTI`/`EXEC`, tombstones deleting their key;
//! `redis-source` reads Redis Streams through a consumer group and acknowledges (`XACK`) an
//! entry only once RocketMQ stored it, so entries of a crashed task are delivered again.

mod connection;
mod sink;
mod source;

pub use sink::{RedisMode, RedisSink, RedisSinkTask};
pub use source::{RedisSource, RedisSourceTask};
