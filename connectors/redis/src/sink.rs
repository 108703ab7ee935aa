//! `redis-sink`: records as Redis strings, hashes or stream entries.

use connect_sdk::config::ConfigErrors;
use connect_sdk::converter::payload_bytes;
use connect_sdk::data::{DataError, Schema};
use connect_sdk::prelude::*;
use redis::aio::MultiplexedConnection;

use crate::connection::{connect, redis_error};

/// What a record becomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    /// `SET key value`: the value's bytes under the record key.
    #[default]
    Set,
    /// `HSET key field value...`: a struct's (or map's) fields as a hash under the record key.
    Hset,
    /// `XADD stream * field value...`: one stream entry per record (a struct's fields, or `value`), plus `key`.
    Xadd,
}

/// Writes records to Redis. `set` stores the value under `redis.key.prefix` + the record key,
/// `hset` its fields as a hash, `xadd` appends an entry to `redis.stream`. Each `put` is one
/// `MULTI`/`EXEC` transaction; a tombstone deletes its key (`set`, `hset`) or appends an
/// entry marked `__deleted` (`xadd`). The same transaction stores the queue positions of the
/// records in a hash (`redis.offsets.key`, field: the queue as JSON, value: the next offset)
/// and a task resumes from them: exactly once, also for `xadd`, unless `exactly.once=false`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "redis-sink", aliases = ["com.github.jcustenborder.kafka.connect.redis.RedisSinkConnector", "RedisSinkConnector"],
            task = RedisSinkTask, validate = RedisSink::check)]
pub struct RedisSink {
    /// `redis://host:6379/db` (`redis://:password@host...` for a password).
    #[serde(default = "default_uri")]
    pub redis_uri: String,
    /// `set`, `hset` or `xadd`.
    #[serde(default)]
    pub redis_mode: RedisMode,
    /// Put before every key (`set`, `hset`).
    #[serde(default)]
    pub redis_key_prefix: String,
    /// Seconds until written keys expire (`set`, `hset`; 0 keeps them).
    #[serde(default)]
    pub redis_ttl_seconds: u64,
    /// The stream of `xadd`; `${topic}` is replaced by the record's topic.
    #[serde(default = "default_stream")]
    pub redis_stream: String,
    /// Cap the stream at about this many entries (`XADD MAXLEN ~`; 0 keeps all).
    #[serde(default)]
    pub redis_stream_maxlen: u64,
    /// Store the positions of written records with them, in `redis.offsets.key`.
    #[serde(default = "enabled")]
    pub exactly_once: bool,
    /// The hash of stored positions; `${connector}` is replaced by the connector's name.
    #[serde(default = "default_offsets_key")]
    pub redis_offsets_key: String,
}

fn enabled() -> bool {
    true
}

fn default_offsets_key() -> String {
    "connect-offsets:${connector}".to_owned()
}

/// The local Redis.
pub(crate) fn default_uri() -> String {
    "redis://127.0.0.1:6379".to_owned()
}
fn default_stream() -> String {
    "${topic}".to_owned()
}

impl RedisSink {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if !self.redis_uri.starts_with("redis://") && !self.redis_uri.starts_with("rediss://") {
            errors.push("redis.uri", "use redis://host:port/db");
        }
        if self.redis_mode == RedisMode::Xadd && self.redis_stream.trim().is_empty() {
            errors.push("redis.stream", "xadd needs a stream name");
        }
        errors.into_result(())
    }
}

/// Writes each batch in one transaction, with the positions of its records.
pub struct RedisSinkTask {
    config: RedisSink,
    connection: Option<MultiplexedConnection>,
    /// The hash of positions (`exactly.once`), and what was stored in it last.
    positions: Option<(String, QueueOffsets)>,
}

/// The text of a field value.
fn field_bytes(value: &Value, schema: Option<&Schema>) -> Result<Vec<u8>, DataError> {
    Ok(payload_bytes(value, schema)?.unwrap_or_default())
}

/// Field names and values of a hash or a stream entry.
pub(crate) type Fields = Vec<(String, Vec<u8>)>;

/// A struct's or map's fields as (name, bytes) pairs.
fn fields(record: &SinkRecord) -> Result<Option<Fields>, DataError> {
    Ok(match &record.value {
        Value::Struct(row) => Some(
            row.schema()
                .fields
                .iter()
                .zip(row.values())
                .filter(|(_, v)| !v.is_null())
                .map(|(f, v)| Ok((f.name.clone(), field_bytes(v, Some(&f.schema))?)))
                .collect::<Result<_, DataError>>()?,
        ),
        Value::Map(map) => Some(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| Ok((String::from_utf8_lossy(&field_bytes(k, None)?).into_owned(), field_bytes(v, None)?)))
                .collect::<Result<_, DataError>>()?,
        ),
        _ => None,
    })
}

impl RedisSinkTask {
    fn add(&self, pipe: &mut redis::Pipeline, record: &SinkRecord) -> Result<(), DataError> {
        let key = payload_bytes(&record.key, record.key_schema.as_ref())?;
        let keyed = |key: &Option<Vec<u8>>| -> Result<Vec<u8>, DataError> {
            let key = key.as_ref().ok_or_else(|| DataError::new(format!("redis.mode={:?} needs a record key", self.config.redis_mode)))?;
            Ok([self.config.redis_key_prefix.as_bytes(), key].concat())
        };
        let ttl = self.config.redis_ttl_seconds;
        match self.config.redis_mode {
            RedisMode::Set | RedisMode::Hset if record.value.is_null() => {
                pipe.cmd("DEL").arg(keyed(&key)?).ignore();
            }
            RedisMode::Set => {
                let value = field_bytes(&record.value, record.value_schema.as_ref())?;
                let command = pipe.cmd("SET").arg(keyed(&key)?).arg(value);
                if ttl > 0 {
                    command.arg("EX").arg(ttl);
                }
                command.ignore();
            }
            RedisMode::Hset => {
                let key = keyed(&key)?;
                let fields = fields(record)?
                    .ok_or_else(|| DataError::new(format!("hset needs a struct or map value, got a {}", record.value.type_name())))?;
                if fields.is_empty() {
                    return Ok(());
                }
                let command = pipe.cmd("HSET").arg(&key);
                for (name, value) in fields {
                    command.arg(name).arg(value);
                }
                command.ignore();
                if ttl > 0 {
                    pipe.cmd("EXPIRE").arg(&key).arg(ttl).ignore();
                }
            }
            RedisMode::Xadd => {
                let stream = self.config.redis_stream.replace("${topic}", &record.topic);
                let command = pipe.cmd("XADD").arg(stream);
                if self.config.redis_stream_maxlen > 0 {
                    command.arg("MAXLEN").arg("~").arg(self.config.redis_stream_maxlen);
                }
                command.arg("*");
                if let Some(key) = &key {
                    command.arg("key").arg(key.as_slice());
                }
                match (fields(record)?, &record.value) {
                    (_, Value::Null) => {
                        command.arg("__deleted").arg("true");
                    }
                    (Some(fields), _) if !fields.is_empty() => {
                        for (name, value) in fields {
                            command.arg(name).arg(value);
                        }
                    }
                    _ => {
                        command.arg("value").arg(field_bytes(&record.value, record.value_schema.as_ref())?);
                    }
                }
                command.ignore();
            }
        }
        Ok(())
    }
}

impl SinkTask for RedisSinkTask {
    type Config = RedisSink;

    async fn open(config: RedisSink, ctx: SinkContext) -> Result<Self> {
        let connection = connect(&config.redis_uri).await?;
        let positions =
            config.exactly_once.then(|| (config.redis_offsets_key.replace("${connector}", ctx.connector_name()), QueueOffsets::new()));
        Ok(RedisSinkTask { config, connection: Some(connection), positions })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for record in &records {
            self.add(&mut pipe, record).map_err(|e| {
                Error::Data(DataError::new(format!("record {}@{}/{}: {e}", record.topic, record.queue_id.unwrap_or(-1), record.position())))
            })?;
        }
        self.run(pipe, offsets_after(&records)).await
    }

    /// Stores the offsets about to be committed when they go beyond the positions stored with
    /// the records (records a transform dropped or the dead-letter queue took).
    async fn flush(&mut self, offsets: &QueueOffsets) -> Result<()> {
        match &self.positions {
            Some((_, stored)) if !offsets.iter().all(|(q, o)| stored.get(q) == Some(o)) => self.run(redis::pipe(), offsets.clone()).await,
            _ => Ok(()),
        }
    }

    async fn stored_offsets(&mut self, queues: &[QueueId]) -> Result<QueueOffsets> {
        let Some((key, _)) = &self.positions else { return Ok(QueueOffsets::new()) };
        let key = key.clone();
        let connection = self.connection().await?;
        let fields: Vec<(String, i64)> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(connection)
            .await
            .map_err(|e| redis_error("reading the stored positions failed", e))?;
        let mut stored = QueueOffsets::new();
        for (field, next) in fields {
            let queue: QueueId = connect_sdk::serde_json::from_str(&field)
                .map_err(|e| Error::with_source(format!("{key} holds a field that is not a queue: {field}"), e))?;
            if queues.contains(&queue) {
                stored.insert(queue, next);
            }
        }
        if let Some((_, known)) = &mut self.positions {
            known.extend(stored.clone());
        }
        Ok(stored)
    }
}

impl RedisSinkTask {
    async fn connection(&mut self) -> Result<&mut MultiplexedConnection> {
        Ok(match self.connection {
            Some(ref mut connection) => connection,
            None => self.connection.insert(connect(&self.config.redis_uri).await?),
        })
    }

    /// Runs `pipe` as one transaction, with `positions` stored in it when this task keeps them.
    async fn run(&mut self, mut pipe: redis::Pipeline, positions: QueueOffsets) -> Result<()> {
        pipe.atomic();
        if let Some((key, _)) = &self.positions
            && !positions.is_empty()
        {
            let command = pipe.cmd("HSET").arg(key);
            for (queue, next) in &positions {
                command.arg(connect_sdk::serde_json::to_string(queue).map_err(Error::other)?).arg(*next);
            }
            command.ignore();
        }
        let connection = self.connection().await?;
        let result: redis::RedisResult<()> = pipe.query_async(connection).await;
        match result {
            Ok(()) => {
                if let Some((_, stored)) = &mut self.positions {
                    stored.extend(positions);
                }
                Ok(())
            }
            Err(e) => {
                let error = redis_error("writing to Redis failed", e);
                if error.is_retriable() {
                    self.connection = None;
                }
                Err(error)
            }
        }
    }
}
