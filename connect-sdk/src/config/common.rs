//! The keys every connector shares (Kafka Connect's `ConnectorConfig`): name, class, task
//! count, topics, converters, transforms, predicates and error handling.
//!
//! [`CommonConfig`] is derived like any plugin config: its keys, defaults, aliases, groups and
//! documentation come from the struct, so `plugins`, validation and parsing all read the same
//! definition. The converters, transforms and predicates it names are configured by prefixed
//! keys (`transforms.<alias>.*`), collected into [`PluginConfigs`].

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::parse::{ConfigOrigin, KeyScope, parse_keys};
use super::schema_info::{KeyInfo, keys_of, normalize_key, schema_of};
use super::{ConfigErrors, ConfigMap};

/// The common part of a connector configuration.
///
/// ```
/// use connect_sdk::config::CommonConfig;
/// let config = serde_json::json!({
///     "name": "lines", "connector.class": "file-source", "max.tasks": "2",
///     "transforms": "route", "transforms.route.type": "RegexRouter",
///     "transforms.route.regex": "(.*)", "transforms.route.replacement": "copy-$1",
///     "errors.tolerance": "all"
/// });
/// let common = CommonConfig::parse(config.as_object().unwrap()).unwrap();
/// assert_eq!(common.tasks_max, 2);
/// assert_eq!(common.plugins.transforms[0].plugin.class, "RegexRouter");
/// assert_eq!(common.plugins.transforms[0].plugin.config["regex"], "(.*)");
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CommonConfig {
    /// Globally unique name to use for this connector.
    #[schemars(extend("x-group" = "Common"))]
    pub name: String,
    /// Name, alias or Kafka-style class name of the connector plugin.
    #[schemars(extend("x-group" = "Common", "x-kafka-type" = "CLASS"))]
    pub connector_class: String,
    /// Maximum number of tasks to use for this connector (at most 1024).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1024), extend("x-group" = "Common", "x-aliases" = ["max.tasks", "max.task"]))]
    pub tasks_max: u32,
    /// Topics a sink consumes (sinks only; this or `topics.regex`).
    #[serde(default)]
    #[schemars(extend("x-group" = "Common", "x-aliases" = ["connect.topicnames"], "x-topic" = "name"))]
    pub topics: Vec<String>,
    /// Regular expression of the topics a sink consumes (sinks only; this or `topics`).
    #[serde(default)]
    #[schemars(extend("x-group" = "Common"))]
    pub topics_regex: Option<String>,
    /// Converter of record keys (default: the worker's); `key.converter.*` configures it.
    #[serde(default)]
    #[schemars(extend("x-group" = "Common", "x-kafka-type" = "CLASS"))]
    pub key_converter: Option<String>,
    /// Converter of record values (default: the worker's); `value.converter.*` configures it.
    #[serde(default)]
    #[schemars(extend("x-group" = "Common", "x-kafka-type" = "CLASS"))]
    pub value_converter: Option<String>,
    /// Aliases of the transforms applied in order; `transforms.<alias>.type` names each.
    #[serde(default)]
    #[schemars(extend("x-group" = "Transforms"))]
    pub transforms: Vec<String>,
    /// Aliases of predicates transforms may use; `predicates.<alias>.type` names each.
    #[serde(default)]
    #[schemars(extend("x-group" = "Predicates"))]
    pub predicates: Vec<String>,
    /// `errors.*`.
    #[serde(flatten)]
    pub errors: ErrorHandling,
    /// A source's delivery (KIP-618): `requested` takes exactly-once when the worker provides
    /// it (`exactly.once.source.support=enabled`), `required` refuses to run without it.
    #[serde(default)]
    #[schemars(extend("x-group" = "Exactly Once Support"))]
    pub exactly_once_support: ExactlyOnceSupport,
    /// The converters, transforms and predicates the keys above name, with their own keys.
    #[serde(skip)]
    #[schemars(skip)]
    pub plugins: PluginConfigs,
    #[serde(skip)]
    #[schemars(skip)]
    selection: Option<TopicSelection>,
}

fn one() -> u32 {
    1
}

/// The `errors.*` keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorHandling {
    /// Maximum milliseconds to retry a failed operation; -1 retries forever.
    #[serde(rename = "errors_retry_timeout", default)]
    #[schemars(range(min = -1, max = 604_800_000), extend("x-group" = "Error Handling"))]
    pub retry_timeout_ms: i64,
    /// Maximum milliseconds between two retries.
    #[serde(rename = "errors_retry_delay_max_ms", default = "sixty_seconds")]
    #[schemars(range(max = 604_800_000), extend("x-group" = "Error Handling"))]
    pub retry_delay_max_ms: u64,
    /// `none` stops the task on a bad record; `all` skips it (to the dead-letter topic if set).
    #[serde(rename = "errors_tolerance", default)]
    #[schemars(extend("x-group" = "Error Handling"))]
    pub tolerance: Tolerance,
    /// Log every failed operation and problematic record.
    #[serde(rename = "errors_log_enable", default)]
    #[schemars(extend("x-group" = "Error Handling"))]
    pub log_enable: bool,
    /// Include record keys, values and headers in those logs.
    #[serde(rename = "errors_log_include_messages", default)]
    #[schemars(extend("x-group" = "Error Handling"))]
    pub log_include_messages: bool,
    /// Topic that receives records a sink could not process (empty: none).
    #[serde(rename = "errors_deadletterqueue_topic_name", default)]
    #[schemars(extend("x-group" = "Error Handling", "x-topic" = "name"))]
    pub dead_letter_topic_name: String,
    /// Add `__connect.errors.*` properties describing the failure to dead-letter records.
    #[serde(rename = "errors_deadletterqueue_context_headers_enable", default)]
    #[schemars(extend("x-group" = "Error Handling"))]
    pub dead_letter_context_headers: bool,
    /// Automatic restarts of a failed task before it is left failed (0: none). The count
    /// starts again once a restarted task has run for `errors.restart.backoff.max.ms`.
    #[serde(rename = "errors_restart_max_attempts", default = "ten")]
    #[schemars(range(max = 1000), extend("x-group" = "Error Handling"))]
    pub restart_max_attempts: u32,
    /// Milliseconds before the first automatic restart of a failed task; doubled for each
    /// further attempt.
    #[serde(rename = "errors_restart_backoff_ms", default = "one_second")]
    #[schemars(range(min = 1, max = 604_800_000), extend("x-group" = "Error Handling"))]
    pub restart_backoff_ms: u64,
    /// The longest wait before an automatic restart, in milliseconds.
    #[serde(rename = "errors_restart_backoff_max_ms", default = "sixty_seconds")]
    #[schemars(range(min = 1, max = 604_800_000), extend("x-group" = "Error Handling"))]
    pub restart_backoff_max_ms: u64,
}

fn sixty_seconds() -> u64 {
    60_000
}

fn one_second() -> u64 {
    1_000
}

fn ten() -> u32 {
    10
}

impl Default for ErrorHandling {
    fn default() -> ErrorHandling {
        ErrorHandling {
            retry_timeout_ms: 0,
            retry_delay_max_ms: sixty_seconds(),
            tolerance: Tolerance::None,
            log_enable: false,
            log_include_messages: false,
            dead_letter_topic_name: String::new(),
            dead_letter_context_headers: false,
            restart_max_attempts: ten(),
            restart_backoff_ms: one_second(),
            restart_backoff_max_ms: sixty_seconds(),
        }
    }
}

impl ErrorHandling {
    /// How long to wait before automatic restart number `attempt` (from 0) of a failed task:
    /// `errors.restart.backoff.ms` doubled per attempt, at most `errors.restart.backoff.max.ms`.
    ///
    /// ```
    /// # use connect_sdk::config::ErrorHandling;
    /// # use std::time::Duration;
    /// let errors = ErrorHandling::default();
    /// assert_eq!(errors.restart_delay(0), Duration::from_secs(1));
    /// assert_eq!(errors.restart_delay(3), Duration::from_secs(8));
    /// assert_eq!(errors.restart_delay(40), Duration::from_secs(60));
    /// ```
    pub fn restart_delay(&self, attempt: u32) -> Duration {
        let factor = 1u64.checked_shl(attempt.min(63)).unwrap_or(u64::MAX);
        Duration::from_millis(self.restart_backoff_ms.saturating_mul(factor).min(self.restart_backoff_max_ms.max(1)))
    }

    /// How long a failed operation is retried; `None` retries forever (`-1`).
    pub fn retry_timeout(&self) -> Option<Duration> {
        u64::try_from(self.retry_timeout_ms).ok().map(Duration::from_millis)
    }

    /// The longest wait between two retries.
    pub fn retry_delay_max(&self) -> Duration {
        Duration::from_millis(self.retry_delay_max_ms)
    }

    /// The dead-letter topic, when one is set.
    pub fn dead_letter_topic(&self) -> Option<&str> {
        Some(self.dead_letter_topic_name.trim()).filter(|t| !t.is_empty())
    }
}

/// What `errors.tolerance` allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tolerance {
    /// Stop the task on the first bad record.
    #[default]
    None,
    /// Skip bad records (to the dead-letter topic when configured).
    All,
}

/// What `exactly.once.support` asks of the worker for a source connector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExactlyOnceSupport {
    /// Exactly once when the worker provides it, else at least once.
    #[default]
    Requested,
    /// Exactly once, or the connector is refused.
    Required,
}

/// The topics a sink consumes.
#[derive(Clone, Debug)]
pub enum TopicSelection {
    /// `topics`.
    List(Vec<String>),
    /// `topics.regex`.
    Regex(Regex),
}

impl TopicSelection {
    /// Whether `topic` is selected.
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            TopicSelection::List(topics) => topics.iter().any(|t| t == topic),
            TopicSelection::Regex(regex) => regex.is_match(topic),
        }
    }
}

/// A plugin a config refers to: an alias, its plugin name and its own keys.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginRef {
    /// The alias (`mask` in `transforms.mask.type`), or the role (`value.converter`).
    pub alias: String,
    /// The plugin name or Kafka class name.
    pub class: String,
    /// The plugin's own keys, without their prefix.
    pub config: ConfigMap,
    /// The prefix of those keys in the connector config (`transforms.mask.`).
    pub prefix: String,
}

/// A transform in the chain, with its optional predicate.
#[derive(Clone, Debug, PartialEq)]
pub struct TransformRef {
    /// The transform.
    pub plugin: PluginRef,
    /// Alias of the predicate that decides whether it applies.
    pub predicate: Option<String>,
    /// Apply when the predicate is false instead.
    pub negate: bool,
}

/// The converters, transforms and predicates a connector config names, with their keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PluginConfigs {
    /// `key.converter` and its keys; with only `key.converter.*` keys, their class is empty
    /// and they configure the worker's default key converter.
    pub key_converter: Option<PluginRef>,
    /// `value.converter` and its keys, likewise.
    pub value_converter: Option<PluginRef>,
    /// The transform chain, in order.
    pub transforms: Vec<TransformRef>,
    /// The predicates transforms may use.
    pub predicates: Vec<PluginRef>,
}

/// Keys whose prefix routes them to a converter, a transform or a predicate.
const ROUTED_PREFIXES: &[&str] = &["key.converter.", "value.converter.", "transforms.", "predicates."];

/// Keys Kafka Connect knows that this runtime refuses, with the reason a user reads.
const REFUSED_KEYS: &[(&str, &str)] = &[
    ("header.converter", "header converters are not supported: headers travel as RocketMQ message properties, as text; remove this key"),
    (
        "config.action.reload",
        "not supported: placeholders are resolved each time a task starts, so restart the connector to pick up a changed secret; remove this key",
    ),
    (
        "producer.override.",
        "per-connector producer settings are not supported: every task shares the worker's batching producer; remove this key",
    ),
    (
        "consumer.override.",
        "per-connector consumer settings are not supported: sink tasks read with the worker's settings; remove this key",
    ),
    ("admin.override.", "per-connector admin settings are not supported: topics are created with the worker's settings; remove this key"),
    (
        "errors.deadletterqueue.topic.replication.factor",
        "RocketMQ topics have no replication factor (replication comes from the broker setup); remove this key",
    ),
];

/// RocketMQ Connect's names of keys a connector declares itself.
const CONNECTOR_KEY_ALIASES: &[(&str, &str)] = &[("connect.topicname", "topic")];

/// The common keys, as validation and `plugins` show them.
pub fn common_keys() -> &'static [KeyInfo] {
    static KEYS: LazyLock<Vec<KeyInfo>> = LazyLock::new(|| keys_of(&schema_of::<CommonConfig>()));
    &KEYS
}

/// Why a key Kafka Connect knows is refused here, when it is.
fn refused(key: &str) -> Option<&'static str> {
    let key = normalize_key(key);
    REFUSED_KEYS.iter().find(|(name, _)| key.starts_with(&normalize_key(name))).map(|(_, why)| *why)
}

fn routed(key: &str) -> bool {
    ROUTED_PREFIXES.iter().any(|prefix| key.starts_with(prefix))
}

/// True for a key the common config reads, routes to a converter, transform or predicate, or
/// refuses: a connector's own parser leaves these alone (unless the connector declares the key).
pub fn is_common_key(key: &str) -> bool {
    common_keys().iter().any(|k| k.answers_to(key)) || routed(key) || refused(key).is_some()
}

/// The connector's part of a config: RocketMQ Connect's names of connector keys
/// (`connect.topicname`) renamed to Kafka's (`topic`).
pub(crate) fn connector_keys(config: &ConfigMap) -> ConfigMap {
    config
        .iter()
        .map(|(key, value)| {
            let normalized = normalize_key(key);
            let key = CONNECTOR_KEY_ALIASES.iter().find(|(alias, _)| normalize_key(alias) == normalized).map_or(key.as_str(), |(_, k)| k);
            (key.to_owned(), value.clone())
        })
        .collect()
}

impl CommonConfig {
    /// Reads and checks the common keys of `config`, and collects the keys of the converters,
    /// transforms and predicates they name; the connector's own keys are left alone.
    pub fn parse(config: &ConfigMap) -> Result<CommonConfig, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let foreign = |key: &str| !common_keys().iter().any(|k| k.answers_to(key));
        let scope = KeyScope { prefix: "", foreign: &foreign, also_known: &[], origin: ConfigOrigin::User };
        let parsed = parse_keys::<CommonConfig>(config, &scope);
        for (key, _) in config {
            if let Some(why) = refused(key) {
                errors.push(key.clone(), why);
            }
        }
        let mut common = match parsed {
            Ok(common) => common,
            Err(e) => {
                errors.extend_prefixed("", e);
                return Err(errors);
            }
        };
        common.selection = common.select_topics(&mut errors);
        common.plugins = common.collect_plugins(config, &mut errors);
        errors.into_result(common)
    }

    /// The topics a sink consumes: `topics` or `topics.regex`, when either is given.
    pub fn topic_selection(&self) -> Option<&TopicSelection> {
        self.selection.as_ref()
    }

    /// The number of tasks asked for.
    pub fn max_tasks(&self) -> usize {
        self.tasks_max as usize
    }

    fn select_topics(&self, errors: &mut ConfigErrors) -> Option<TopicSelection> {
        let list: Vec<String> = self.topics.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
        let regex = self.topics_regex.as_deref().map(str::trim).filter(|r| !r.is_empty());
        match (list.is_empty(), regex) {
            (true, None) => None,
            (false, None) => Some(TopicSelection::List(list)),
            (true, Some(pattern)) => match Regex::new(&format!("^(?:{pattern})$")) {
                Ok(regex) => Some(TopicSelection::Regex(regex)),
                Err(e) => {
                    errors.push("topics.regex", format!("invalid regular expression: {e}"));
                    None
                }
            },
            (false, Some(_)) => {
                errors.push("topics.regex", "\"topics\" and \"topics.regex\" are mutually exclusive; set only one");
                None
            }
        }
    }

    fn collect_plugins(&self, config: &ConfigMap, errors: &mut ConfigErrors) -> PluginConfigs {
        let prefixed = |prefix: &str| -> ConfigMap {
            config.iter().filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_owned(), v.clone()))).collect()
        };
        let converter = |role: &str, class: &Option<String>| -> Option<PluginRef> {
            let prefix = format!("{role}.");
            let keys = prefixed(&prefix);
            let class = class.clone().filter(|c| !c.trim().is_empty()).unwrap_or_default();
            (!class.is_empty() || !keys.is_empty()).then(|| PluginRef { alias: role.to_owned(), class, config: keys, prefix })
        };
        let key_converter = converter("key.converter", &self.key_converter);
        let value_converter = converter("value.converter", &self.value_converter);
        let predicates = aliased("predicates", &self.predicates, &prefixed, errors);
        let transforms: Vec<TransformRef> = aliased("transforms", &self.transforms, &prefixed, errors)
            .into_iter()
            .map(|mut plugin| {
                let predicate = plugin.config.remove("predicate").and_then(|p| p.as_str().map(str::to_owned)).filter(|p| !p.is_empty());
                let negate = match plugin.config.remove("negate") {
                    Some(v) if v == "true" || v == true => true,
                    None => false,
                    Some(v) if v == "false" || v == false => false,
                    Some(v) => {
                        errors.push(format!("{}negate", plugin.prefix), format!("invalid value {v}: expected true or false"));
                        false
                    }
                };
                if let Some(alias) = &predicate
                    && !predicates.iter().any(|p| &p.alias == alias)
                {
                    errors.push(format!("{}predicate", plugin.prefix), format!("predicate \"{alias}\" is not listed in \"predicates\""));
                }
                TransformRef { plugin, predicate, negate }
            })
            .collect();
        // Keys of an alias that is not listed would never be read.
        for (list, listed) in [("transforms", &self.transforms), ("predicates", &self.predicates)] {
            for key in config.keys().filter(|k| k.starts_with(&format!("{list}."))) {
                let alias = key[list.len() + 1..].split('.').next().unwrap_or_default();
                if !listed.iter().any(|l| l.trim() == alias) {
                    errors.push(key.clone(), format!("\"{alias}\" is not listed in \"{list}\"; add it there or remove this key"));
                }
            }
        }
        PluginConfigs { key_converter, value_converter, transforms, predicates }
    }
}

/// The plugins a list key (`transforms`, `predicates`) names, each with its prefixed keys.
fn aliased(list_key: &str, aliases: &[String], prefixed: &dyn Fn(&str) -> ConfigMap, errors: &mut ConfigErrors) -> Vec<PluginRef> {
    let mut plugins = Vec::new();
    for alias in aliases.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        let prefix = format!("{list_key}.{alias}.");
        let mut config = prefixed(&prefix);
        match config.remove("type").and_then(|t| t.as_str().map(str::to_owned)).filter(|t| !t.is_empty()) {
            Some(class) => plugins.push(PluginRef { alias: alias.to_owned(), class, config, prefix }),
            None => {
                errors.push(format!("{prefix}type"), format!("Missing required configuration \"{prefix}type\" which has no default value."))
            }
        }
    }
    plugins
}

impl PartialEq for CommonConfig {
    fn eq(&self, other: &CommonConfig) -> bool {
        let json = |c: &CommonConfig| serde_json::to_value(c).unwrap_or(Json::Null);
        json(self) == json(other) && self.plugins == other.plugins
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(config: serde_json::Value) -> Result<CommonConfig, ConfigErrors> {
        CommonConfig::parse(config.as_object().unwrap())
    }

    #[test]
    fn tasks_max_is_bounded() {
        let error = parse(json!({"name": "a", "connector.class": "x", "tasks.max": "1000000000"})).unwrap_err();
        assert!(error.to_string().contains("tasks.max"), "{error}");
        assert_eq!(parse(json!({"name": "a", "connector.class": "x", "tasks.max": 1024})).unwrap().tasks_max, 1024);
    }

    #[test]
    fn rocketmq_connect_aliases_are_accepted() {
        let c = parse(json!({"name": "a", "connector-class": "x", "max.tasks": 4, "connect.topicnames": "t"})).unwrap();
        assert_eq!((c.connector_class.as_str(), c.tasks_max, c.topics.as_slice()), ("x", 4, ["t".to_owned()].as_slice()));
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let errors = parse(json!({
            "tasks.max": "0", "topics": "a", "topics.regex": "b.*", "errors.tolerance": "some",
            "transforms": "x,y", "transforms.x.type": "Filter", "transforms.x.predicate": "missing"
        }))
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        for key in ["name", "connector.class", "tasks.max", "errors.tolerance"] {
            assert!(keys.contains(&key), "{key} missing from {errors}");
        }
        let errors = parse(json!({
            "name": "a", "connector.class": "x", "topics": "a", "topics.regex": "b.*",
            "transforms": "x,y", "transforms.x.type": "Filter", "transforms.x.predicate": "missing", "transforms.z.type": "Filter"
        }))
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        for key in ["topics.regex", "transforms.y.type", "transforms.x.predicate", "transforms.z.type"] {
            assert!(keys.contains(&key), "{key} missing from {errors}");
        }
    }

    #[test]
    fn tasks_max_must_be_at_least_one() {
        let errors = parse(json!({"name": "a", "connector.class": "x", "tasks.max": 0})).unwrap_err();
        assert_eq!(errors.iter().next().unwrap().to_string(), "tasks.max: invalid value 0: must be at least 1");
    }

    #[test]
    fn keys_kafka_knows_but_this_runtime_does_not_read_are_refused() {
        for key in
            ["header.converter", "config.action.reload", "producer.override.linger.ms", "errors.deadletterqueue.topic.replication.factor"]
        {
            let errors = parse(json!({"name": "a", "connector.class": "x", key: "1"})).unwrap_err();
            assert_eq!(errors.iter().next().unwrap().key, key, "{errors}");
            assert!(errors.to_string().contains("remove this key"), "{errors}");
        }
    }

    #[test]
    fn error_handling_defaults_follow_kafka() {
        let c = parse(json!({"name": "a", "connector.class": "x", "errors.retry.timeout": "-1"})).unwrap();
        assert_eq!(c.errors.retry_timeout(), None);
        assert_eq!(c.errors.retry_delay_max(), Duration::from_secs(60));
        assert_eq!(c.errors.tolerance, Tolerance::None);
        assert_eq!(c.errors.dead_letter_topic(), None);
    }

    #[test]
    fn converter_keys_without_a_class_configure_the_default_converter() {
        let c = parse(json!({"name": "a", "connector.class": "x", "value.converter.schemas.enable": "false"})).unwrap();
        let value = c.plugins.value_converter.unwrap();
        assert_eq!((value.class.as_str(), value.config["schemas.enable"].as_str()), ("", Some("false")));
    }

    #[test]
    fn the_common_keys_come_from_the_struct() {
        let keys: Vec<&str> = common_keys().iter().map(|k| k.key.as_str()).collect();
        assert_eq!(&keys[..3], ["name", "connector.class", "tasks.max"]);
        assert!(keys.contains(&"errors.deadletterqueue.topic.name"), "{keys:?}");
        let tasks_max = &common_keys()[2];
        assert_eq!((tasks_max.kafka_type, tasks_max.group.as_deref(), tasks_max.default.clone()), ("INT", Some("Common"), Some(json!(1))));
    }
}
