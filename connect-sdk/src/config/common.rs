//! The keys every connector shares (Kafka Connect's `ConnectorConfig`): name, class, task
//! count, topics, converters, transforms, predicates and error handling.

use regex::Regex;
use serde_json::Value as Json;

use super::{ConfigErrors, ConfigMap};

/// Kafka Connect's type of a key, as shown by validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// Text.
    String,
    /// A 32-bit integer.
    Int,
    /// A 64-bit integer.
    Long,
    /// A float.
    Double,
    /// `true` / `false`.
    Boolean,
    /// A comma-separated list.
    List,
    /// A plugin name.
    Class,
}

impl KeyType {
    /// The upper-case name validation shows (`STRING`, `INT`...).
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "STRING",
            KeyType::Int => "INT",
            KeyType::Long => "LONG",
            KeyType::Double => "DOUBLE",
            KeyType::Boolean => "BOOLEAN",
            KeyType::List => "LIST",
            KeyType::Class => "CLASS",
        }
    }
}

/// The definition of one common key.
#[derive(Clone, Copy, Debug)]
pub struct CommonKey {
    /// The key.
    pub name: &'static str,
    /// Its type.
    pub kind: KeyType,
    /// Default, when it has one.
    pub default: Option<&'static str>,
    /// Documentation.
    pub doc: &'static str,
    /// Validation group (`Common`, `Transforms`, `Error Handling`...).
    pub group: &'static str,
}

const fn key(name: &'static str, kind: KeyType, default: Option<&'static str>, group: &'static str, doc: &'static str) -> CommonKey {
    CommonKey { name, kind, default, doc, group }
}

/// Every common key, in the order validation lists them.
pub const COMMON_KEYS: &[CommonKey] = &[
    key("name", KeyType::String, None, "Common", "Globally unique name to use for this connector."),
    key("connector.class", KeyType::String, None, "Common", "Name (or Kafka-style class name) of the connector plugin."),
    key("tasks.max", KeyType::Int, Some("1"), "Common", "Maximum number of tasks to use for this connector (alias `max.tasks`)."),
    key("topic", KeyType::String, None, "Common", "Topic a source writes to, when the connector uses one (alias `connect.topicname`)."),
    key("topics", KeyType::List, None, "Common", "Topics a sink consumes (alias `connect.topicnames`)."),
    key("topics.regex", KeyType::String, None, "Common", "Regular expression of the topics a sink consumes."),
    key("key.converter", KeyType::Class, None, "Common", "Converter of record keys; `key.converter.*` configures it."),
    key("value.converter", KeyType::Class, None, "Common", "Converter of record values; `value.converter.*` configures it."),
    key("header.converter", KeyType::Class, None, "Common", "Converter of header values; `header.converter.*` configures it."),
    key("config.action.reload", KeyType::String, Some("restart"), "Common", "What to do when a secret a placeholder refers to changes."),
    key(
        "transforms",
        KeyType::List,
        Some(""),
        "Transforms",
        "Aliases of the transforms applied in order; `transforms.<alias>.type` names each.",
    ),
    key(
        "predicates",
        KeyType::List,
        Some(""),
        "Predicates",
        "Aliases of predicates transforms may use; `predicates.<alias>.type` names each.",
    ),
    key("errors.retry.timeout", KeyType::Long, Some("0"), "Error Handling", "Maximum ms to retry a failed operation; -1 retries forever."),
    key("errors.retry.delay.max.ms", KeyType::Long, Some("60000"), "Error Handling", "Maximum ms between two retries."),
    key(
        "errors.tolerance",
        KeyType::String,
        Some("none"),
        "Error Handling",
        "`none` stops the task on a bad record; `all` skips it (to the dead-letter topic if set).",
    ),
    key("errors.log.enable", KeyType::Boolean, Some("false"), "Error Handling", "Log every failed operation and problematic record."),
    key(
        "errors.log.include.messages",
        KeyType::Boolean,
        Some("false"),
        "Error Handling",
        "Include record keys, values and headers in those logs.",
    ),
    key(
        "errors.deadletterqueue.topic.name",
        KeyType::String,
        Some(""),
        "Error Handling",
        "Topic that receives records the connector could not process.",
    ),
    key(
        "errors.deadletterqueue.topic.replication.factor",
        KeyType::Int,
        Some("3"),
        "Error Handling",
        "Accepted for compatibility; RocketMQ topics are replicated by the broker setup.",
    ),
    key(
        "errors.deadletterqueue.context.headers.enable",
        KeyType::Boolean,
        Some("false"),
        "Error Handling",
        "Add `__connect.errors.*` properties describing the failure to dead-letter records.",
    ),
];

/// RocketMQ Connect's names of Kafka's keys.
const ALIASES: &[(&str, &str)] = &[("connect.topicname", "topic"), ("connect.topicnames", "topics"), ("max.tasks", "tasks.max")];

/// Prefixes of keys that configure something other than the connector itself.
const COMMON_PREFIXES: &[&str] =
    &["key.converter.", "value.converter.", "header.converter.", "transforms.", "predicates.", "producer.override.", "consumer.override."];

/// Rewrites RocketMQ Connect's key names (`connect.topicname`, `max.tasks`...) to Kafka's.
pub fn canonical_key(key: &str) -> &str {
    ALIASES.iter().find(|(alias, _)| *alias == key).map_or(key, |(_, canonical)| canonical)
}

/// True for a key the SDK itself interprets (or a prefix it routes elsewhere).
pub fn is_common_key(key: &str) -> bool {
    let key = canonical_key(key);
    COMMON_KEYS.iter().any(|k| k.name == key) || COMMON_PREFIXES.iter().any(|p| key.starts_with(p))
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

/// What `errors.tolerance` allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tolerance {
    /// Stop the task on the first bad record.
    #[default]
    None,
    /// Skip bad records (to the dead-letter topic when configured).
    All,
}

/// The `errors.*` keys.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorHandling {
    /// `errors.retry.timeout` in ms; `None` retries forever (`-1`).
    pub retry_timeout_ms: Option<u64>,
    /// `errors.retry.delay.max.ms`.
    pub retry_delay_max_ms: u64,
    /// `errors.tolerance`.
    pub tolerance: Tolerance,
    /// `errors.log.enable`.
    pub log_enable: bool,
    /// `errors.log.include.messages`.
    pub log_include_messages: bool,
    /// `errors.deadletterqueue.topic.name` (`None` when empty).
    pub dead_letter_topic: Option<String>,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub dead_letter_context_headers: bool,
}

impl Default for ErrorHandling {
    fn default() -> ErrorHandling {
        ErrorHandling {
            retry_timeout_ms: Some(0),
            retry_delay_max_ms: 60_000,
            tolerance: Tolerance::None,
            log_enable: false,
            log_include_messages: false,
            dead_letter_topic: None,
            dead_letter_context_headers: false,
        }
    }
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

/// The common part of a connector configuration, validated.
///
/// ```
/// use connect_sdk::config::CommonConfig;
/// let config = serde_json::json!({
///     "name": "lines", "connector.class": "file-source", "tasks.max": "2",
///     "transforms": "route", "transforms.route.type": "RegexRouter",
///     "transforms.route.regex": "(.*)", "transforms.route.replacement": "copy-$1",
///     "errors.tolerance": "all"
/// });
/// let common = CommonConfig::parse(config.as_object().unwrap()).unwrap();
/// assert_eq!(common.tasks_max, 2);
/// assert_eq!(common.transforms[0].plugin.class, "RegexRouter");
/// assert_eq!(common.transforms[0].plugin.config["regex"], "(.*)");
/// ```
#[derive(Clone, Debug)]
pub struct CommonConfig {
    /// `name`.
    pub name: String,
    /// `connector.class`.
    pub connector_class: String,
    /// `tasks.max` (at least 1).
    pub tasks_max: usize,
    /// `topic`.
    pub topic: Option<String>,
    /// `topics` / `topics.regex`, when given.
    pub topics: Option<TopicSelection>,
    /// `key.converter` and its keys.
    pub key_converter: Option<PluginRef>,
    /// `value.converter` and its keys.
    pub value_converter: Option<PluginRef>,
    /// `header.converter` and its keys.
    pub header_converter: Option<PluginRef>,
    /// The transform chain, in order.
    pub transforms: Vec<TransformRef>,
    /// The predicates transforms may use.
    pub predicates: Vec<PluginRef>,
    /// `errors.*`.
    pub errors: ErrorHandling,
}

impl CommonConfig {
    /// Reads and checks the common keys of `config`; other keys are ignored here.
    pub fn parse(config: &ConfigMap) -> Result<CommonConfig, ConfigErrors> {
        let mut reader = Reader { config, errors: ConfigErrors::new() };
        let name = reader.string("name").unwrap_or_default();
        if name.is_empty() {
            reader.errors.push("name", "Missing required configuration \"name\" which has no default value.");
        }
        let connector_class = reader.string("connector.class").unwrap_or_default();
        if connector_class.is_empty() {
            reader.errors.push("connector.class", "Missing required configuration \"connector.class\" which has no default value.");
        }
        let tasks_max = reader.integer("tasks.max").unwrap_or(1);
        if tasks_max < 1 {
            reader.errors.push("tasks.max", format!("invalid value {tasks_max}: must be at least 1"));
        }
        let topics = reader.topics();
        let transforms = reader.transforms();
        let predicates = reader.aliased("predicates");
        for transform in &transforms {
            if let Some(predicate) = &transform.predicate
                && !predicates.iter().any(|p| &p.alias == predicate)
            {
                reader.errors.push(
                    format!("transforms.{}.predicate", transform.plugin.alias),
                    format!("predicate \"{predicate}\" is not listed in \"predicates\""),
                );
            }
        }
        let common = CommonConfig {
            name,
            connector_class,
            tasks_max: usize::try_from(tasks_max).unwrap_or(1),
            topic: reader.string("topic").filter(|t| !t.is_empty()),
            topics,
            key_converter: reader.converter("key.converter"),
            value_converter: reader.converter("value.converter"),
            header_converter: reader.converter("header.converter"),
            transforms,
            predicates,
            errors: reader.error_handling(),
        };
        reader.errors.into_result(common)
    }
}

struct Reader<'a> {
    config: &'a ConfigMap,
    errors: ConfigErrors,
}

impl Reader<'_> {
    fn raw(&self, key: &str) -> Option<&Json> {
        self.config.iter().find(|(k, v)| canonical_key(k) == key && !v.is_null()).map(|(_, v)| v)
    }

    fn string(&self, key: &str) -> Option<String> {
        self.raw(key).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    }

    fn integer(&mut self, key: &str) -> Option<i64> {
        let text = self.string(key)?;
        match text.trim().parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.errors.push(key, format!("invalid value \"{text}\": expected an integer"));
                None
            }
        }
    }

    fn boolean(&mut self, key: &str) -> bool {
        match self.string(key).map(|s| s.trim().to_ascii_lowercase()) {
            None => false,
            Some(s) if s == "true" => true,
            Some(s) if s == "false" || s.is_empty() => false,
            Some(s) => {
                self.errors.push(key, format!("invalid value \"{s}\": expected true or false"));
                false
            }
        }
    }

    fn list(&self, key: &str) -> Vec<String> {
        match self.raw(key) {
            Some(Json::Array(items)) => items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect(),
            Some(_) => {
                self.string(key).unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
            }
            None => Vec::new(),
        }
    }

    fn prefixed(&self, prefix: &str) -> ConfigMap {
        self.config.iter().filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_owned(), v.clone()))).collect()
    }

    fn topics(&mut self) -> Option<TopicSelection> {
        let list = self.list("topics");
        let regex = self.string("topics.regex").filter(|r| !r.trim().is_empty());
        match (list.is_empty(), regex) {
            (true, None) => None,
            (false, None) => Some(TopicSelection::List(list)),
            (true, Some(pattern)) => match Regex::new(&format!("^(?:{pattern})$")) {
                Ok(regex) => Some(TopicSelection::Regex(regex)),
                Err(e) => {
                    self.errors.push("topics.regex", format!("invalid regular expression: {e}"));
                    None
                }
            },
            (false, Some(_)) => {
                self.errors.push("topics.regex", "\"topics\" and \"topics.regex\" are mutually exclusive; set only one");
                None
            }
        }
    }

    fn converter(&self, key: &str) -> Option<PluginRef> {
        let class = self.string(key).filter(|c| !c.is_empty())?;
        let prefix = format!("{key}.");
        Some(PluginRef { alias: key.to_owned(), class, config: self.prefixed(&prefix), prefix })
    }

    fn aliased(&mut self, list_key: &str) -> Vec<PluginRef> {
        let mut plugins = Vec::new();
        for alias in self.list(list_key) {
            let prefix = format!("{list_key}.{alias}.");
            let mut config = self.prefixed(&prefix);
            match config.remove("type").and_then(|t| t.as_str().map(str::to_owned)).filter(|t| !t.is_empty()) {
                Some(class) => plugins.push(PluginRef { alias, class, config, prefix }),
                None => self
                    .errors
                    .push(format!("{prefix}type"), format!("Missing required configuration \"{prefix}type\" which has no default value.")),
            }
        }
        plugins
    }

    fn transforms(&mut self) -> Vec<TransformRef> {
        let plugins = self.aliased("transforms");
        plugins
            .into_iter()
            .map(|mut plugin| {
                let predicate = plugin.config.remove("predicate").and_then(|p| p.as_str().map(str::to_owned)).filter(|p| !p.is_empty());
                let negate_key = format!("{}negate", plugin.prefix);
                let negate = match plugin.config.remove("negate") {
                    Some(v) if v == "true" || v == true => true,
                    Some(v) if v == "false" || v == false => false,
                    None => false,
                    Some(v) => {
                        self.errors.push(negate_key, format!("invalid value {v}: expected true or false"));
                        false
                    }
                };
                TransformRef { plugin, predicate, negate }
            })
            .collect()
    }

    fn error_handling(&mut self) -> ErrorHandling {
        let retry_timeout = self.integer("errors.retry.timeout").unwrap_or(0);
        let retry_timeout_ms = match retry_timeout {
            -1 => None,
            t if t >= 0 => Some(t.unsigned_abs()),
            t => {
                self.errors.push("errors.retry.timeout", format!("invalid value {t}: must be -1 (forever) or at least 0"));
                Some(0)
            }
        };
        let delay_max = self.integer("errors.retry.delay.max.ms").unwrap_or(60_000);
        if delay_max < 0 {
            self.errors.push("errors.retry.delay.max.ms", format!("invalid value {delay_max}: must be at least 0"));
        }
        let tolerance = match self.string("errors.tolerance").as_deref().map(str::trim) {
            None | Some("none") | Some("") => Tolerance::None,
            Some("all") => Tolerance::All,
            Some(other) => {
                self.errors.push("errors.tolerance", format!("invalid value \"{other}\": expected \"none\" or \"all\""));
                Tolerance::None
            }
        };
        ErrorHandling {
            retry_timeout_ms,
            retry_delay_max_ms: delay_max.max(0).unsigned_abs(),
            tolerance,
            log_enable: self.boolean("errors.log.enable"),
            log_include_messages: self.boolean("errors.log.include.messages"),
            dead_letter_topic: self.string("errors.deadletterqueue.topic.name").filter(|t| !t.trim().is_empty()),
            dead_letter_context_headers: self.boolean("errors.deadletterqueue.context.headers.enable"),
        }
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
    fn rocketmq_connect_aliases_are_accepted() {
        let c = parse(json!({"name": "a", "connector.class": "x", "max.tasks": 4, "connect.topicname": "t"})).unwrap();
        assert_eq!((c.tasks_max, c.topic.as_deref()), (4, Some("t")));
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let errors = parse(json!({
            "tasks.max": "0", "topics": "a", "topics.regex": "b.*", "errors.tolerance": "some",
            "transforms": "x,y", "transforms.x.type": "Filter", "transforms.x.predicate": "missing"
        }))
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        for key in
            ["name", "connector.class", "tasks.max", "topics.regex", "errors.tolerance", "transforms.y.type", "transforms.x.predicate"]
        {
            assert!(keys.contains(&key), "{key} missing from {errors}");
        }
    }

    #[test]
    fn error_handling_defaults_follow_kafka() {
        let c = parse(json!({"name": "a", "connector.class": "x", "errors.retry.timeout": "-1"})).unwrap();
        assert_eq!(c.errors.retry_timeout_ms, None);
        assert_eq!(c.errors.retry_delay_max_ms, 60_000);
        assert_eq!(c.errors.tolerance, Tolerance::None);
    }
}
