//! The keys every CDC connector has, and how many tasks read a change log.

use connect_sdk::prelude::*;

/// What record values look like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Envelope {
    /// Debezium's change event: `before`, `after`, `source`, `op`, `ts_ms` (and a tombstone
    /// after each delete when `tombstones.on.delete`); a truncate, where the database reports
    /// one, is an event with `op` `t`.
    #[default]
    Debezium,
    /// The row after the change (a delete is a tombstone); the operation is in the `__op`
    /// header. Truncates are not emitted.
    Row,
}

/// When the initial snapshot is taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// With no committed offset: read the captured tables in one consistent snapshot, then
    /// stream from the log position of that snapshot.
    #[default]
    Initial,
    /// Never snapshot: with no committed offset, stream from where the change log is now.
    Never,
}

/// `topic.prefix` and `topic.delimiter`: how a CDC connector names its topics, flattened into
/// its config (`#[serde(flatten)]`). Both are parts of RocketMQ topic names, checked as such.
///
/// ```
/// use connect_cdc::TopicNaming;
/// use connect_sdk::config::parse_connector_config;
///
/// let config = serde_json::json!({"topic.prefix": "shop"});
/// let naming: TopicNaming = parse_connector_config(config.as_object().unwrap()).unwrap();
/// assert_eq!(naming.table_topic("public", "users"), "shop-public-users");
/// let spaced = serde_json::json!({"topic.prefix": "a b"});
/// let errors = parse_connector_config::<TopicNaming>(spaced.as_object().unwrap()).err().unwrap();
/// assert!(errors.iter().next().unwrap().to_string().starts_with("topic.prefix: invalid topic"), "{errors:?}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TopicNaming {
    /// Prefix of the topics and the `source.name` of every record.
    #[schemars(extend("x-topic" = "part"))]
    pub topic_prefix: String,
    /// What joins the prefix, the database (PostgreSQL: the schema) and the table in a topic
    /// name (RocketMQ topics cannot hold `.`).
    #[serde(default = "default_delimiter")]
    #[schemars(extend("x-topic" = "part"))]
    pub topic_delimiter: String,
}

fn default_delimiter() -> String {
    "-".to_owned()
}

impl TopicNaming {
    /// Adds what is wrong with the names to `errors`.
    pub fn check(&self, errors: &mut connect_sdk::config::ConfigErrors) {
        if self.topic_prefix.trim().is_empty() {
            errors.push("topic.prefix", "cannot be empty");
        }
    }

    /// The topic of a table's change records: `<prefix><delimiter><namespace><delimiter><table>`.
    pub fn table_topic(&self, namespace: &str, table: &str) -> String {
        let d = &self.topic_delimiter;
        format!("{}{d}{namespace}{d}{table}", self.topic_prefix)
    }
}

/// `snapshot.mode`, `envelope`, `tombstones.on.delete`, `max.batch.size` and
/// `poll.interval.ms`: flattened into a CDC connector's config (`#[serde(flatten)]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeOptions {
    /// `initial` (snapshot, then stream) or `never` (stream from where the change log is now).
    #[serde(default)]
    pub snapshot_mode: SnapshotMode,
    /// `debezium` (before/after/source/op envelope) or `row` (the new row, deletes as tombstones).
    #[serde(default)]
    pub envelope: Envelope,
    /// With the Debezium envelope, follow each delete with a tombstone of its key (for compacted consumers).
    #[serde(default = "yes")]
    pub tombstones_on_delete: bool,
    /// Records per poll at most.
    #[serde(default = "default_batch")]
    #[schemars(range(min = 1, max = 100_000))]
    pub max_batch_size: usize,
    /// Milliseconds a poll waits for changes.
    #[serde(default = "default_poll_ms")]
    #[schemars(range(max = 3_600_000))]
    pub poll_interval_ms: u64,
}

fn yes() -> bool {
    true
}
fn default_batch() -> usize {
    2048
}
fn default_poll_ms() -> u64 {
    500
}

/// A database's change log is one ordered stream: one task reads it, whatever `tasks.max`
/// says (the `split` of every CDC connector).
///
/// ```
/// assert_eq!(connect_cdc::one_reader(&"config", 8), ["config"]);
/// ```
pub fn one_reader<C: Clone>(config: &C, _max_tasks: usize) -> Vec<C> {
    vec![config.clone()]
}
