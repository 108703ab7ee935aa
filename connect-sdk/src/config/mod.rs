//! Connector configuration: a flat JSON object, Kafka Connect style (`"tasks.max": "3"`).
//!
//! The SDK reads the keys every connector shares ([`CommonConfig`]: name, class, task count,
//! topics, converters, transforms, predicates, `errors.*`). The remaining keys map onto the
//! connector's own struct through serde: `batch.size` finds the field `batch_size`, strings
//! are coerced to the numbers, booleans and lists the struct wants, unknown keys are errors
//! with a "did you mean" suggestion, and every error names its key ([`ConfigErrors`]).
//! [`validate`] answers in the shape of Kafka Connect's validation endpoint.
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
//! ```

mod common;
mod error;
mod parse;
pub mod schema_info;
mod validate;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

pub use common::{
    COMMON_KEYS, CommonConfig, CommonKey, ErrorHandling, KeyType, PluginRef, Tolerance, TopicSelection, TransformRef, canonical_key,
    is_common_key,
};
pub use error::{ConfigError, ConfigErrors};
pub use parse::{did_you_mean, parse_plugin_config};
pub use validate::{ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo, validate};

/// A flat configuration object, as it arrives over REST or from a file.
pub type ConfigMap = serde_json::Map<String, serde_json::Value>;

/// Parses the connector-specific keys of a full connector config into `T`.
///
/// Common keys are skipped unless `T` declares them too (a source's `topic`, say); RocketMQ
/// Connect's aliases (`connect.topicname`...) are accepted. Everything else must be a field of `T`.
pub fn parse_connector_config<T: DeserializeOwned + JsonSchema>(config: &ConfigMap) -> Result<T, ConfigErrors> {
    let canonical: ConfigMap = config.iter().map(|(k, v)| (canonical_key(k).to_owned(), v.clone())).collect();
    parse_plugin_config(&canonical, "", &is_common_key)
}
