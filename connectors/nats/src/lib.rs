//! NATS connectors: `nats-source` reads a JetStream stream through a durable pull consumer and
//! acknowledges a message only once RocketMQ stored it and its offset was committed;
//! `nats-sink` publishes to JetStream with acknowledgements and de-duplication ids (or to plain
//! subjects).
//!
//! Delivery: the source's offsets are stream sequences, which a message keeps when it is
//! delivered again, so with the runtime's exactly-once delivery nothing is repeated; the sink
//! gives each message the id `<topic>-<broker>-<queue>-<offset>` (`Nats-Msg-Id`), so JetStream
//! drops a message sent again within the stream's duplicate window (2 minutes by default).

mod connection;
mod sink;
mod source;

pub use connection::NatsConnection;
pub use sink::{NatsSink, NatsSinkTask};
pub use source::{NatsSource, NatsSourceTask};
