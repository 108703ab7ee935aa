//! Heartbeat records: while the change log moves on without a change of a captured table,
//! a record every interval carries the log position, so the committed offset keeps up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_sdk::data::{Schema, Struct};
use connect_sdk::prelude::*;
use connect_sdk::record::now_millis;

/// When a heartbeat is due, and its record (Debezium's `ServerNameKey` and `Heartbeat`).
#[derive(Debug)]
pub struct Heartbeats {
    /// Zero: no heartbeats.
    interval: Duration,
    last_emitted: Instant,
    topic: String,
    server_name: String,
}

impl Heartbeats {
    /// Heartbeats every `interval_ms` milliseconds without another record (0: never), to
    /// `topic`, keyed by `server_name` (the connector's `topic.prefix`).
    pub fn new(interval_ms: u64, topic: String, server_name: &str) -> Heartbeats {
        Heartbeats {
            interval: Duration::from_millis(interval_ms),
            last_emitted: Instant::now(),
            topic,
            server_name: server_name.to_owned(),
        }
    }

    /// A record was emitted: the next heartbeat is due an interval from now.
    pub fn emitted(&mut self) {
        self.last_emitted = Instant::now();
    }

    /// Whether heartbeats are on and an interval passed since the last record.
    pub fn due(&self) -> bool {
        !self.interval.is_zero() && self.last_emitted.elapsed() >= self.interval
    }

    /// The heartbeat record at `offset` in `partition`; the next is due an interval from now.
    pub fn record(&mut self, partition: &SourcePartition, offset: SourceOffset) -> Result<SourceRecord> {
        self.emitted();
        let key_schema = Schema::structure().named("io.debezium.connector.common.ServerNameKey").field("serverName", Schema::string());
        let value_schema = Schema::structure().named("io.debezium.connector.common.Heartbeat").field("ts_ms", Schema::int64());
        let key = Struct::from_values(Arc::new(key_schema.clone()), vec![Value::from(self.server_name.as_str())])?;
        let value = Struct::from_values(Arc::new(value_schema.clone()), vec![Value::Int64(now_millis())])?;
        Ok(SourceRecord::new(partition.clone(), offset, &self.topic, Value::Struct(value))
            .with_value_schema(value_schema)
            .with_key(Value::Struct(key))
            .with_key_schema(key_schema))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_is_due_an_interval_after_the_last_record() {
        let mut off = Heartbeats::new(0, "hb".into(), "shop");
        off.last_emitted -= Duration::from_secs(3600);
        assert!(!off.due(), "0 turns heartbeats off");
        let mut on = Heartbeats::new(1_000, "__debezium-heartbeat-shop".into(), "shop");
        assert!(!on.due());
        on.last_emitted -= Duration::from_secs(2);
        assert!(on.due());
        let record = on.record(&SourcePartition::new().with("server", "shop"), SourceOffset::new().with("pos", 9)).unwrap();
        assert!(!on.due(), "a heartbeat is a record");
        assert_eq!(record.topic, "__debezium-heartbeat-shop");
        let Value::Struct(key) = &record.key else { panic!("{:?}", record.key) };
        assert_eq!(key.get("serverName"), Some(&Value::from("shop")));
        assert_eq!(record.source_offset.get_i64("pos"), Some(9));
    }
}
