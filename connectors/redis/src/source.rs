//! `redis-source`: entries of Redis Streams, read through a consumer group.

use std::collections::{BTreeMap, VecDeque};

use connect_sdk::config::ConfigErrors;
use connect_sdk::config::groups::BatchSize;
use connect_sdk::prelude::*;
use redis::Value as RedisValue;
use redis::aio::MultiplexedConnection;

use crate::connection::{connect, redis_error};
use crate::sink::{Fields, default_uri};

/// Reads Redis Streams through a consumer group into a RocketMQ topic. Each task is one
/// consumer of the group (Redis spreads entries over them); an entry is acknowledged
/// (`XACK`) only once RocketMQ stored it and its offset was committed, and a restarted task
/// first reads the entries it had been given but not acknowledged. The value is the entry's
/// fields as a map (or the bytes of its only field `value`), the key its `key` field, or
/// else its id; `redis.stream` and `redis.id` are headers.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "redis-source", aliases = ["RedisSourceConnector"], task = RedisSourceTask,
            split = RedisSource::consumers, validate = RedisSource::check)]
pub struct RedisSource {
    /// `redis://host:6379/db`.
    #[serde(default = "default_uri")]
    pub redis_uri: String,
    /// Streams to read, comma-separated.
    pub redis_stream: Vec<String>,
    /// The consumer group (default: `connect-<connector name>`); created if missing.
    #[serde(default)]
    pub redis_group: Option<String>,
    /// Where a new group starts: `0` (the whole stream) or `$` (new entries only).
    #[serde(default = "default_start")]
    pub redis_group_start_id: String,
    /// RocketMQ topic to write to; `${stream}` is replaced by the entry's stream.
    pub topic: String,
    /// `batch.size`.
    #[serde(flatten)]
    pub batch: BatchSize<500>,
    /// Milliseconds a read waits for new entries.
    #[serde(default = "default_block_ms")]
    #[schemars(range(max = 3_600_000))]
    pub redis_block_ms: u64,
}

fn default_start() -> String {
    "0".to_owned()
}
fn default_block_ms() -> u64 {
    200
}

impl RedisSource {
    /// `tasks.max` consumers of the group, each reading every stream.
    fn consumers(&self, max_tasks: usize) -> Vec<Self> {
        vec![self.clone(); max_tasks.max(1)]
    }

    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if !self.redis_uri.starts_with("redis://") && !self.redis_uri.starts_with("rediss://") {
            errors.push("redis.uri", "use redis://host:port/db");
        }
        if self.redis_stream.iter().all(|s| s.trim().is_empty()) {
            errors.push("redis.stream", "name at least one stream");
        }
        errors.into_result(())
    }
}

/// A stream entry id, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct EntryId(u64, u64);

impl EntryId {
    fn parse(text: &str) -> Option<EntryId> {
        let (ms, seq) = text.split_once('-')?;
        Some(EntryId(ms.parse().ok()?, seq.parse().ok()?))
    }
}

/// One consumer of the group.
pub struct RedisSourceTask {
    config: RedisSource,
    ctx: SourceContext,
    connection: MultiplexedConnection,
    group: String,
    consumer: String,
    /// Per stream, where reading this consumer's own pending entries again has got to
    /// (`None` once they were all read, and new entries are read instead).
    pending_from: BTreeMap<String, Option<String>>,
    /// Per stream, entries delivered and not yet acknowledged.
    unacknowledged: BTreeMap<String, VecDeque<(EntryId, String)>>,
}

fn text(value: &RedisValue) -> Option<String> {
    match value {
        RedisValue::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        RedisValue::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn bytes(value: &RedisValue) -> Vec<u8> {
    match value {
        RedisValue::BulkString(bytes) => bytes.clone(),
        RedisValue::SimpleString(s) => s.clone().into_bytes(),
        RedisValue::Int(i) => i.to_string().into_bytes(),
        _ => Vec::new(),
    }
}

/// The entries of an `XREADGROUP` reply: (stream, id, fields).
fn entries(reply: RedisValue) -> Vec<(String, String, Fields)> {
    let streams: Vec<(RedisValue, RedisValue)> = match reply {
        RedisValue::Array(streams) => streams
            .into_iter()
            .filter_map(|s| match s {
                RedisValue::Array(mut pair) if pair.len() == 2 => {
                    let entries = pair.pop()?;
                    Some((pair.pop()?, entries))
                }
                _ => None,
            })
            .collect(),
        RedisValue::Map(streams) => streams,
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for (name, list) in streams {
        let Some(stream) = text(&name) else { continue };
        let RedisValue::Array(list) = list else { continue };
        for entry in list {
            let RedisValue::Array(parts) = entry else { continue };
            let mut parts = parts.into_iter();
            let (Some(id), fields) = (parts.next().as_ref().and_then(text), parts.next()) else { continue };
            let fields = match fields {
                Some(RedisValue::Array(flat)) => flat.chunks(2).filter_map(|kv| Some((text(kv.first()?)?, bytes(kv.get(1)?)))).collect(),
                Some(RedisValue::Map(pairs)) => pairs.iter().filter_map(|(k, v)| Some((text(k)?, bytes(v)))).collect(),
                _ => Vec::new(),
            };
            out.push((stream.clone(), id, fields));
        }
    }
    out
}

impl SourceTask for RedisSourceTask {
    type Config = RedisSource;

    async fn open(config: RedisSource, ctx: SourceContext) -> Result<Self> {
        let mut connection = connect(&config.redis_uri).await?;
        let group = config.redis_group.clone().unwrap_or_else(|| format!("connect-{}", ctx.connector_name()));
        let consumer = format!("{}-{}", ctx.connector_name(), ctx.task_id());
        let streams: Vec<String> = config.redis_stream.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        for stream in &streams {
            let created: redis::RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(stream)
                .arg(&group)
                .arg(&config.redis_group_start_id)
                .arg("MKSTREAM")
                .query_async(&mut connection)
                .await;
            if let Err(error) = created
                && error.code() != Some("BUSYGROUP")
            {
                return Err(redis_error(&format!("cannot create group {group} of {stream}"), error));
            }
        }
        let pending_from = streams.iter().map(|s| (s.clone(), Some("0".to_owned()))).collect();
        Ok(RedisSourceTask { config, ctx, connection, group, consumer, pending_from, unacknowledged: BTreeMap::new() })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        // First this consumer's own pending entries (from id 0 on), then new ones (>).
        let mut command = redis::cmd("XREADGROUP");
        command.arg("GROUP").arg(&self.group).arg(&self.consumer).arg("COUNT").arg(self.config.batch.batch_size);
        let all_caught_up = self.pending_from.values().all(Option::is_none);
        if all_caught_up {
            command.arg("BLOCK").arg(self.config.redis_block_ms);
        }
        command.arg("STREAMS");
        let streams: Vec<(String, Option<String>)> = self.pending_from.iter().map(|(s, from)| (s.clone(), from.clone())).collect();
        for (stream, _) in &streams {
            command.arg(stream);
        }
        for (_, from) in &streams {
            command.arg(from.as_deref().unwrap_or(">"));
        }
        let reply: RedisValue = command.query_async(&mut self.connection).await.map_err(|e| redis_error("XREADGROUP failed", e))?;
        let entries = entries(reply);
        for (stream, from) in &streams {
            if from.is_some() {
                let last = entries.iter().filter(|(s, _, _)| s == stream).map(|(_, id, _)| id.clone()).next_back();
                self.pending_from.insert(stream.clone(), last);
            }
        }
        let mut records = Vec::with_capacity(entries.len());
        for (stream, id, fields) in entries {
            let Some(entry_id) = EntryId::parse(&id) else { continue };
            records.push(self.record(&stream, &id, fields));
            self.unacknowledged.entry(stream).or_default().push_back((entry_id, id));
        }
        if !records.is_empty() {
            self.ctx.request_commit();
        }
        Ok(records)
    }

    /// Acknowledges, per stream, every entry up to the committed one.
    async fn commit(&mut self, committed: &CommittedOffsets) -> Result<()> {
        for (partition, offset) in committed {
            let (Some(stream), Some(upto)) = (partition.get_str("stream"), offset.get_str("id").and_then(EntryId::parse)) else { continue };
            let Some(pending) = self.unacknowledged.get_mut(stream) else { continue };
            let mut ids = Vec::new();
            while pending.front().is_some_and(|(id, _)| *id <= upto) {
                ids.push(pending.pop_front().expect("checked above").1);
            }
            if ids.is_empty() {
                continue;
            }
            let acked: redis::RedisResult<i64> =
                redis::cmd("XACK").arg(stream).arg(&self.group).arg(&ids).query_async(&mut self.connection).await;
            acked.map_err(|e| redis_error(&format!("XACK on {stream} failed"), e))?;
        }
        Ok(())
    }
}

impl RedisSourceTask {
    fn record(&self, stream: &str, id: &str, fields: Fields) -> SourceRecord {
        let partition = SourcePartition::new().with("stream", stream).with("consumer", self.consumer.as_str());
        let offset = SourceOffset::new().with("id", id);
        let key = fields
            .iter()
            .find(|(name, _)| name == "key")
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_else(|| id.to_owned());
        let value = match fields.as_slice() {
            [(name, value)] if name == "value" => Value::Bytes(value.clone()),
            _ => Value::Map(
                fields
                    .into_iter()
                    .map(|(name, value)| (Value::String(name), Value::String(String::from_utf8_lossy(&value).into_owned())))
                    .collect(),
            ),
        };
        let topic = self.config.topic.replace("${stream}", stream);
        SourceRecord::new(partition, offset, topic, value).with_key(key).with_header("redis.stream", stream).with_header("redis.id", id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_order_as_redis_orders_them() {
        assert!(EntryId::parse("1700000000000-9").unwrap() < EntryId::parse("1700000000000-10").unwrap());
        assert!(EntryId::parse("9-0").unwrap() < EntryId::parse("10-0").unwrap());
        assert_eq!(EntryId::parse("x"), None);
    }

    #[test]
    fn read_replies_become_entries() {
        let bulk = |s: &str| RedisValue::BulkString(s.as_bytes().to_vec());
        let reply = RedisValue::Array(vec![RedisValue::Array(vec![
            bulk("orders"),
            RedisValue::Array(vec![RedisValue::Array(vec![
                bulk("1-0"),
                RedisValue::Array(vec![bulk("key"), bulk("k1"), bulk("n"), bulk("5")]),
            ])]),
        ])]);
        let parsed = entries(reply);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].0, "orders");
        assert_eq!(parsed[0].2, vec![("key".to_owned(), b"k1".to_vec()), ("n".to_owned(), b"5".to_vec())]);
    }
}
