//! Connector configuration: a flat JSON object, Kafka Connect style (`"tasks.max": "3"`).
//!
//! The SDK reads the keys every connector shares ([`CommonConfig`]: name, class, task count,
//! topics, converters, transforms, predicates, `errors.*`). The remaining keys map onto the
//! connector's own struct through serde: `batch.size` finds the field `batch_size`, strings
//! are coerced to the numbers, booleans and lists the struct wants, unknown keys are errors
//! with a "did you mean" suggestion, and every error names its key ([`ConfigErrors`]).
//! `connect_sdk::host::assembly` checks a whole connector config against the registered plugins.
//!
//! ```
//! use connect_sdk::config::parse_connector_config;
//! use connect_sdk::prelude::*;
//!
//! #[derive(Debug, Deserialize, JsonSchema)]
//! struct Lines {
//!     /// File to read.
//!     file: String,
//!     /// Lines per poll.
//!     #[serde(default)]
//!     batch_size: u32,
//! }
//!
//! let config = serde_json::json!({
//!     "name": "lines", "connector.class": "file-source", "file": "/tmp/in.txt", "batch.size": "100"
//! });
//! let lines: Lines = parse_connector_config(config.as_object().unwrap()).unwrap();
//! assert_eq!(lines.batch_size, 100);
//!
//! let typo = serde_json::json!({"file": "/tmp/in.txt", "bacth.size": "100"});
//! let err = parse_connector_config::<Lines>(typo.as_object().unwrap()).unwrap_err();
//! assert_eq!(err.iter().next().unwrap().to_string(),
//!            "bacth.size: unknown configuration key; did you mean \"batch.size\"?");
//!
//! // A misspelled common key is caught with the connector's keys.
//! let typo = serde_json::json!({"file": "/tmp/in.txt", "task.max": "2"});
//! let err = parse_connector_config::<Lines>(typo.as_object().unwrap()).unwrap_err();
//! assert_eq!(err.iter().next().unwrap().to_string(),
//!            "task.max: unknown configuration key; did you mean \"tasks.max\"?");
//! ```

mod common;
mod error;
pub mod file_schema;
pub mod groups;
mod names;
mod parse;
pub mod schema_info;
mod traits;

pub use common::{
    CommonConfig, ErrorHandling, ExactlyOnceSupport, PluginConfigs, PluginRef, Tolerance, TopicSelection, TransformRef, common_keys,
    is_common_key,
};
pub use error::{ConfigError, ConfigErrors};
pub use names::{InvalidTopic, MAX_LIST_ITEMS, MAX_TOPIC_CHARS, MAX_VALUE_CHARS, check_topic, check_topic_part};
pub use parse::{ConfigOrigin, did_you_mean, parse_plugin_config};
pub use traits::{ConfigDeserialize, ConfigSchema, ConfigSerialize, ConnectorConfig};

/// A flat configuration object, as it arrives over REST or from a file.
pub type ConfigMap = serde_json::Map<String, serde_json::Value>;

/// Parses the connector-specific keys of a full connector config a user wrote into `T`.
///
/// Common keys are left to [`CommonConfig`] unless `T` declares them too (a source's `topic`,
/// say); RocketMQ Connect's names (`connect.topicname`) are accepted. Every other key must be
/// a field of `T`; a typo gets a suggestion from `T`'s keys and the common keys. Fields of `T`
/// marked task-only are refused: only the connector sets them, when it plans its tasks.
pub fn parse_connector_config<T: ConfigDeserialize + ConfigSchema>(config: &ConfigMap) -> Result<T, ConfigErrors> {
    connector_config(config, ConfigOrigin::User)
}

/// Parses a task config (what the connector planned, serialized and stored) into `T`:
/// [`parse_connector_config`], with task-only fields allowed.
pub fn parse_task_config<T: ConfigDeserialize + ConfigSchema>(config: &ConfigMap) -> Result<T, ConfigErrors> {
    connector_config(config, ConfigOrigin::Task)
}

fn connector_config<T: ConfigDeserialize + ConfigSchema>(config: &ConfigMap, origin: ConfigOrigin) -> Result<T, ConfigErrors> {
    let common: Vec<String> = common_keys().iter().map(|k| k.key.clone()).collect();
    let scope = parse::KeyScope { prefix: "", foreign: &is_common_key, also_known: &common, origin };
    parse::parse_keys(&common::connector_keys(config), &scope)
}
