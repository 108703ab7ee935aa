//! Key groups many connectors share, as structs to flatten into a connector's config
//! (`#[serde(flatten)]`): their keys, defaults, bounds and documentation are written once
//! here, and each connector picks its defaults through const parameters.
//!
//! ```
//! use connect_sdk::config::groups::{BatchSize, Credentials, Reconnect};
//! use connect_sdk::config::parse_connector_config;
//! use connect_sdk::prelude::*;
//!
//! /// Copies rows into a database.
//! #[derive(Clone, Serialize, Deserialize, JsonSchema)]
//! pub struct Copy {
//!     /// Where to.
//!     pub connection_url: String,
//!     #[serde(flatten)]
//!     pub credentials: Credentials,
//!     #[serde(flatten)]
//!     pub reconnect: Reconnect<3, 10_000>,
//!     #[serde(flatten)]
//!     pub batch: BatchSize<500>,
//! }
//!
//! let config = serde_json::json!({"connection.url": "postgres://db/test", "connection.user": "app", "batch.size": "50"});
//! let copy: Copy = parse_connector_config(config.as_object().unwrap()).unwrap();
//! assert_eq!(copy.credentials.connection_user.as_deref(), Some("app"));
//! assert_eq!((copy.reconnect.connection_attempts, copy.batch.batch_size), (3, 50));
//!
//! let zero = serde_json::json!({"connection.url": "x", "batch.size": 0});
//! let errors = parse_connector_config::<Copy>(zero.as_object().unwrap()).err().unwrap();
//! assert_eq!(errors.iter().next().unwrap().to_string(), "batch.size: invalid value 0: must be at least 1");
//! ```

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `connection.user` and `connection.password`, for systems whose URL may leave them out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Credentials {
    /// User, when the URL names none.
    #[serde(default)]
    pub connection_user: Option<String>,
    /// Password, when the URL holds none; write a placeholder (`${env:VAR}`,
    /// `${file:/path:key}`) so the secret is never stored.
    #[serde(default)]
    #[schemars(extend("x-kafka-type" = "PASSWORD"))]
    pub connection_password: Option<String>,
}

/// `connection.attempts` and `connection.backoff.ms`: how a task connects again before it
/// gives up; `ATTEMPTS` and `BACKOFF_MS` are the connector's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reconnect<const ATTEMPTS: u32, const BACKOFF_MS: u64> {
    /// Connection attempts before a task gives up.
    #[serde(default = "u32_default::<ATTEMPTS>")]
    #[schemars(range(min = 1, max = 1_000))]
    pub connection_attempts: u32,
    /// Milliseconds between two connection attempts.
    #[serde(default = "u64_default::<BACKOFF_MS>")]
    #[schemars(range(max = 3_600_000))]
    pub connection_backoff_ms: u64,
}

impl<const ATTEMPTS: u32, const BACKOFF_MS: u64> Reconnect<ATTEMPTS, BACKOFF_MS> {
    /// The wait between two attempts.
    pub fn backoff(&self) -> Duration {
        Duration::from_millis(self.connection_backoff_ms)
    }
}

impl<const ATTEMPTS: u32, const BACKOFF_MS: u64> Default for Reconnect<ATTEMPTS, BACKOFF_MS> {
    fn default() -> Self {
        Reconnect { connection_attempts: ATTEMPTS, connection_backoff_ms: BACKOFF_MS }
    }
}

/// `batch.size`: records per poll (a source) or per write (a sink) at most; `DEFAULT` is
/// the connector's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BatchSize<const DEFAULT: usize> {
    /// Records per poll (sources) or per write (sinks) at most.
    #[serde(default = "usize_default::<DEFAULT>")]
    #[schemars(range(min = 1, max = 100_000))]
    pub batch_size: usize,
}

impl<const DEFAULT: usize> Default for BatchSize<DEFAULT> {
    fn default() -> Self {
        BatchSize { batch_size: DEFAULT }
    }
}

/// `poll.wait.ms`: how long a source's poll waits for messages before it returns what it has
/// (the runtime polls again at once after a non-empty poll, and after a short pause after an
/// empty one); `DEFAULT_MS` is the connector's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PollWait<const DEFAULT_MS: u64> {
    /// Milliseconds a poll waits for messages.
    #[serde(default = "u64_default::<DEFAULT_MS>")]
    #[schemars(range(max = 3_600_000))]
    pub poll_wait_ms: u64,
}

impl<const DEFAULT_MS: u64> PollWait<DEFAULT_MS> {
    /// The wait.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.poll_wait_ms)
    }
}

impl<const DEFAULT_MS: u64> Default for PollWait<DEFAULT_MS> {
    fn default() -> Self {
        PollWait { poll_wait_ms: DEFAULT_MS }
    }
}

/// `max.retries` and `retry.backoff.ms`: how often a failed request is tried again, waiting
/// twice as long each time; `RETRIES` and `BACKOFF_MS` are the connector's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Retries<const RETRIES: u32, const BACKOFF_MS: u64> {
    /// Retries of a failed request before the task gives up.
    #[serde(default = "u32_default::<RETRIES>")]
    #[schemars(range(max = 1_000))]
    pub max_retries: u32,
    /// Milliseconds before the first retry (doubling after each).
    #[serde(default = "u64_default::<BACKOFF_MS>")]
    #[schemars(range(max = 3_600_000))]
    pub retry_backoff_ms: u64,
}

impl<const RETRIES: u32, const BACKOFF_MS: u64> Retries<RETRIES, BACKOFF_MS> {
    /// The wait before the first retry.
    pub fn first_backoff(&self) -> Duration {
        Duration::from_millis(self.retry_backoff_ms)
    }
}

impl<const RETRIES: u32, const BACKOFF_MS: u64> Default for Retries<RETRIES, BACKOFF_MS> {
    fn default() -> Self {
        Retries { max_retries: RETRIES, retry_backoff_ms: BACKOFF_MS }
    }
}

fn u32_default<const N: u32>() -> u32 {
    N
}

fn u64_default<const N: u64>() -> u64 {
    N
}

fn usize_default<const N: usize>() -> usize {
    N
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema_info::{keys_of, schema_of};

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Flattened {
        #[serde(flatten)]
        reconnect: Reconnect<5, 2_000>,
        #[serde(flatten)]
        credentials: Credentials,
    }

    #[test]
    fn flattened_groups_show_their_keys_with_the_connector_s_defaults() {
        let keys = keys_of(&schema_of::<Flattened>());
        let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(names, ["connection.attempts", "connection.backoff.ms", "connection.user", "connection.password"]);
        assert_eq!(keys[0].default, Some(serde_json::json!(5)));
        assert_eq!(keys[3].kafka_type, "PASSWORD");
    }
}
