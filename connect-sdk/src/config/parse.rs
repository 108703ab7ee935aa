//! Maps a flat, Kafka-style key/value config onto a plugin's own struct through serde:
//! dotted keys find their fields (`batch.size` → `batch_size`), strings are coerced to the
//! numbers, booleans and lists the schema asks for, unknown keys get a "did you mean"
//! suggestion, and every error names its key.

use serde_json::{Map, Number, Value as Json};

use super::names::{MAX_LIST_ITEMS, MAX_VALUE_CHARS, check_topic, check_topic_part};
use super::schema_info::{KeyInfo, TopicKey, keys_of, normalize_key};
use super::traits::{ConfigDeserialize, ConfigSchema};
use super::{ConfigErrors, ConfigMap};

/// Who wrote a config: its keys are read the same way, but only the connector itself, when it
/// plans its tasks, may set task-only fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// A user, through REST, a file or a test: task-only fields are refused.
    User,
    /// A task config the connector planned, read back to open a task.
    Task,
}

/// How the keys of one config are read.
pub(crate) struct KeyScope<'a> {
    /// Put before every key named in an error (`transforms.mask.`).
    pub prefix: &'a str,
    /// Keys someone else reads (the common keys, for a connector): skipped unless `T` declares them too.
    pub foreign: &'a dyn Fn(&str) -> bool,
    /// Other known keys a typo may have meant (the common keys, for a connector).
    pub also_known: &'a [String],
    /// Who wrote the config.
    pub origin: ConfigOrigin,
}

/// Parses the keys of `config` into `T`; every key must be one of `T`'s, and `prefix`
/// (`transforms.mask.`) is put before every key named in an error.
pub fn parse_plugin_config<T: ConfigDeserialize + ConfigSchema>(config: &ConfigMap, prefix: &str) -> Result<T, ConfigErrors> {
    parse_keys(config, &KeyScope { prefix, foreign: &|_| false, also_known: &[], origin: ConfigOrigin::User })
}

/// Parses the keys of `config` that `scope` gives to `T`.
pub(crate) fn parse_keys<T: ConfigDeserialize + ConfigSchema>(config: &ConfigMap, scope: &KeyScope<'_>) -> Result<T, ConfigErrors> {
    let prefix = scope.prefix;
    let keys = keys_of(&T::config_schema());
    let mut errors = ConfigErrors::new();
    let mut object = Map::new();
    let mut given: Vec<(&str, &str)> = Vec::new();
    for (key, value) in config {
        match keys.iter().find(|k| k.answers_to(key)) {
            Some(info) if info.task_only && scope.origin == ConfigOrigin::User => errors
                .push(format!("{prefix}{key}"), "this key is set by the connector in the configs of its tasks, not by users; remove it"),
            Some(info) => {
                if let Some((_, first)) = given.iter().find(|(property, _)| *property == info.property) {
                    errors.push(format!("{prefix}{key}"), format!("given twice, as \"{first}\" and as \"{key}\"; keep one"));
                    continue;
                }
                given.push((&info.property, key));
                match coerce(info, value.clone()) {
                    Ok(Json::Null) if !info.types.iter().any(|t| t == "null") && !info.required => {}
                    Ok(v) => {
                        object.insert(info.property.clone(), v);
                    }
                    Err(refusal) => errors.push(format!("{prefix}{key}"), refusal.to_string()),
                }
            }
            None if (scope.foreign)(key) => {}
            None => {
                let known = keys.iter().filter(|k| !k.task_only).map(|k| k.key.as_str()).chain(scope.also_known.iter().map(String::as_str));
                errors.push(format!("{prefix}{key}"), unknown_key_message(key, known));
            }
        }
    }
    // A key given with a bad value is reported once, for its value, not as missing too.
    for info in keys.iter().filter(|k| k.required && !given.iter().any(|(property, _)| *property == k.property)) {
        errors.push(
            format!("{prefix}{}", info.key),
            format!("Missing required configuration \"{}{}\" which has no default value.", prefix, info.key),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    T::from_config_json(Json::Object(object)).map_err(|err| {
        let path = err.path().to_string();
        let property = path.split(['.', '[']).next().unwrap_or_default();
        let key = keys.iter().find(|k| k.property == property).map_or(property.to_owned(), |k| k.key.clone());
        let key = if key == "?" || key.is_empty() { prefix.trim_end_matches('.').to_owned() } else { format!("{prefix}{key}") };
        ConfigErrors::from(super::ConfigError::new(key, err.into_inner().to_string()))
    })
}

/// `unknown configuration key; did you mean "batch.size"?` (suggestion only when one is close).
pub fn unknown_key_message<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match did_you_mean(key, known) {
        Some(suggestion) => format!("unknown configuration key; did you mean \"{suggestion}\"?"),
        None => "unknown configuration key".to_owned(),
    }
}

/// The known key closest to `key`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = normalize_key(key);
    known
        .into_iter()
        // Optimal string alignment: a swap of two neighbours (`fiel` → `file`) costs one.
        .map(|candidate| (strsim::osa_distance(&wanted, &normalize_key(candidate)), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(3) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Why a key's value was refused: the message of its [`ConfigError`](super::ConfigError).
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("the value has {chars} characters: at most {max}")]
    TooLong { chars: usize, max: usize },
    #[error("the list has {items} items: at most {max}")]
    TooManyItems { items: usize, max: usize },
    #[error("invalid topic: {0}")]
    Topic(super::InvalidTopic),
    #[error("invalid value {value}: must be at least {bound}")]
    BelowMinimum { value: Json, bound: String },
    #[error("invalid value {value}: must be at most {bound}")]
    AboveMaximum { value: Json, bound: String },
    #[error("invalid value {value}: expected one of {allowed}")]
    NotAllowed { value: Json, allowed: String },
    #[error("invalid value {0:?}: remove the spaces around it")]
    Spaces(String),
    #[error("invalid value \"{text}\": expected {expected}")]
    Expected { text: String, expected: &'static str },
    #[error("invalid value \"{text}\": expected a JSON object ({error})")]
    NotAnObject { text: String, error: serde_json::Error },
}

/// Coerces a config value to what the key's schema wants: Kafka configs are often all strings.
fn coerce(info: &KeyInfo, value: Json) -> Result<Json, Refusal> {
    check_size(info, &value)?;
    coerce_to(&info.types, &info.item_types, value)
        .and_then(|v| check_allowed(info, v))
        .and_then(|v| check_range(info, v))
        .and_then(|v| check_topics(info, v))
}

/// Every value is bounded: strings (and list items) in characters, lists in items.
fn check_size(info: &KeyInfo, value: &Json) -> Result<(), Refusal> {
    let max_chars = info.max_length.map_or(MAX_VALUE_CHARS, |m| m as usize);
    let max_items = info.max_items.map_or(MAX_LIST_ITEMS, |m| m as usize);
    let too_long = |text: &str| {
        let chars = text.chars().count();
        (chars > max_chars).then_some(Refusal::TooLong { chars, max: max_chars })
    };
    match value {
        Json::String(text) => {
            if let Some(refusal) = too_long(text) {
                return Err(refusal);
            }
            let items = text.split(',').count();
            if info.types.iter().any(|t| t == "array") && items > max_items {
                return Err(Refusal::TooManyItems { items, max: max_items });
            }
            Ok(())
        }
        Json::Array(items) if items.len() > max_items => Err(Refusal::TooManyItems { items: items.len(), max: max_items }),
        Json::Array(items) => items.iter().filter_map(Json::as_str).find_map(too_long).map_or(Ok(()), Err),
        _ => Ok(()),
    }
}

/// Topic names (and parts of them) follow RocketMQ's rules; an empty name only where the
/// key's default is empty (none).
fn check_topics(info: &KeyInfo, value: Json) -> Result<Json, Refusal> {
    let check = |name: &str| match info.topic {
        TopicKey::No => Ok(()),
        TopicKey::Part => check_topic_part(name),
        TopicKey::Name if name.is_empty() && info.default.as_ref().and_then(Json::as_str) == Some("") => Ok(()),
        TopicKey::Name => check_topic(name),
    };
    let names: Vec<&str> = match &value {
        Json::String(name) => vec![name],
        Json::Array(items) => items.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    };
    match names.into_iter().find_map(|name| check(name).err()) {
        Some(invalid) => Err(Refusal::Topic(invalid)),
        None => Ok(value),
    }
}

fn check_range(info: &KeyInfo, value: Json) -> Result<Json, Refusal> {
    let Some(number) = value.as_f64() else { return Ok(value) };
    let bound = |b: f64| if b.fract() == 0.0 && b.abs() < 1e15 { format!("{}", b as i64) } else { b.to_string() };
    if let Some(min) = info.minimum.filter(|min| number < *min) {
        return Err(Refusal::BelowMinimum { bound: bound(min), value });
    }
    if let Some(max) = info.maximum.filter(|max| number > *max) {
        return Err(Refusal::AboveMaximum { bound: bound(max), value });
    }
    Ok(value)
}

fn check_allowed(info: &KeyInfo, value: Json) -> Result<Json, Refusal> {
    if info.allowed.is_empty() || value.is_null() || info.allowed.contains(&value) {
        return Ok(value);
    }
    let allowed: Vec<String> = info.allowed.iter().map(|v| v.to_string()).collect();
    Err(Refusal::NotAllowed { value, allowed: allowed.join(", ") })
}

fn coerce_to(types: &[String], item_types: &[String], value: Json) -> Result<Json, Refusal> {
    let wants = |t: &str| types.iter().any(|x| x == t);
    match value {
        Json::String(text) if !wants("string") => {
            let trimmed = text.trim();
            if trimmed.is_empty() && wants("null") {
                Ok(Json::Null)
            } else if trimmed.len() != text.len() && (wants("integer") || wants("number") || wants("boolean")) {
                // " 1" read as 1 would show one value and use another.
                Err(Refusal::Spaces(text))
            } else if wants("integer") {
                trimmed
                    .parse::<i64>()
                    .map(Json::from)
                    .or_else(|_| trimmed.parse::<u64>().map(Json::from))
                    .map_err(|_| Refusal::Expected { text, expected: "an integer" })
            } else if wants("number") {
                trimmed
                    .parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Json::Number)
                    .ok_or(Refusal::Expected { text, expected: "a number" })
            } else if wants("boolean") {
                match trimmed.to_ascii_lowercase().as_str() {
                    "true" => Ok(Json::Bool(true)),
                    "false" => Ok(Json::Bool(false)),
                    _ => Err(Refusal::Expected { text, expected: "true or false" }),
                }
            } else if wants("array") {
                trimmed
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| coerce_to(item_types, &[], Json::String(item.to_owned())))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Json::Array)
            } else if wants("object") {
                serde_json::from_str(trimmed).map_err(|error| Refusal::NotAnObject { text, error })
            } else {
                Ok(Json::String(text))
            }
        }
        Json::Number(n) if wants("string") && !wants("integer") && !wants("number") => Ok(Json::String(n.to_string())),
        Json::Bool(b) if wants("string") && !wants("boolean") => Ok(Json::String(b.to_string())),
        Json::Array(items) if wants("array") => {
            items.into_iter().map(|item| coerce_to(item_types, &[], item)).collect::<Result<Vec<_>, _>>().map(Json::Array)
        }
        Json::Array(items) if wants("string") => {
            Ok(Json::String(items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect::<Vec<_>>().join(",")))
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;
    use serde::Deserialize;
    use serde_json::json;

    /// A config to parse.
    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    struct Sample {
        /// The file.
        file: String,
        #[serde(default)]
        batch_size: u32,
        #[serde(default)]
        verbose: bool,
        #[serde(default)]
        fields: Vec<String>,
        ratio: Option<f64>,
    }

    fn parse(config: serde_json::Value) -> Result<Sample, ConfigErrors> {
        parse_plugin_config::<Sample>(config.as_object().unwrap(), "")
    }

    #[test]
    fn strings_become_the_types_the_struct_wants() {
        let parsed = parse(json!({"file": "a.txt", "batch.size": "20", "verbose": "TRUE", "fields": "a, b,", "ratio": "0.5"})).unwrap();
        assert_eq!(
            parsed,
            Sample { file: "a.txt".into(), batch_size: 20, verbose: true, fields: vec!["a".into(), "b".into()], ratio: Some(0.5) }
        );
    }

    #[test]
    fn errors_name_the_key() {
        let errors = parse(json!({"file": "a", "batch.size": "many"})).unwrap_err();
        assert_eq!(errors.iter().next().unwrap().key, "batch.size");
        assert!(errors.to_string().contains("expected an integer"), "{errors}");

        let errors = parse(json!({"file": "a", "batch.size": "-1"})).unwrap_err();
        assert_eq!(errors.to_string().lines().nth(1), Some("batch.size: invalid value -1: must be at least 0"), "{errors}");
    }

    #[test]
    fn a_required_key_with_a_bad_value_is_reported_once() {
        #[derive(Debug, Deserialize, JsonSchema)]
        struct Range {
            #[allow(dead_code)]
            start: u32,
        }
        let errors = parse_plugin_config::<Range>(json!({"start": "abc"}).as_object().unwrap(), "").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors}");
        assert_eq!(errors.iter().next().unwrap().message, "invalid value \"abc\": expected an integer");
    }

    #[test]
    fn aliases_and_task_only_keys_follow_the_schema() {
        #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
        struct Annotated {
            #[schemars(extend("x-aliases" = ["max.tasks"]))]
            tasks_max: u32,
            #[serde(default)]
            #[schemars(extend("x-task-only" = true))]
            tables: Vec<String>,
        }
        let user = |config: serde_json::Value| parse_plugin_config::<Annotated>(config.as_object().unwrap(), "");
        assert_eq!(user(json!({"max.tasks": "2"})).unwrap(), Annotated { tasks_max: 2, tables: vec![] });
        let twice = user(json!({"max.tasks": 2, "tasks.max": 3})).unwrap_err();
        assert!(twice.to_string().contains("given twice"), "{twice}");
        let refused = user(json!({"tasks.max": 1, "tables": "a"})).unwrap_err();
        assert_eq!(refused.iter().next().unwrap().key, "tables");
        let scope = KeyScope { prefix: "", foreign: &|_| false, also_known: &[], origin: ConfigOrigin::Task };
        let task: Annotated = parse_keys(json!({"tasks.max": 1, "tables": "a,b"}).as_object().unwrap(), &scope).unwrap();
        assert_eq!(task.tables, ["a", "b"]);
        let shown = crate::config::schema_info::user_schema(crate::config::schema_info::schema_of::<Annotated>());
        assert_eq!(
            shown.get("properties").and_then(|p| p.as_object()).map(|p| p.keys().cloned().collect::<Vec<String>>()),
            Some(vec!["tasks_max".to_owned()])
        );
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let errors = parse(json!({"file": "a", "bach.size": "1"})).unwrap_err();
        assert_eq!(errors.iter().next().unwrap().to_string(), "bach.size: unknown configuration key; did you mean \"batch.size\"?");
    }

    #[test]
    fn missing_required_keys_are_reported_like_kafka() {
        let errors = parse(json!({})).unwrap_err();
        assert_eq!(errors.iter().next().unwrap().message, "Missing required configuration \"file\" which has no default value.");
    }
}
