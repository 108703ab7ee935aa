//! Reads a plugin's JSON Schema (from `schemars`) as a list of configuration keys: their
//! external (dotted) names, JSON types, whether required, defaults, bounds, documentation,
//! and the SDK's own annotations (see [`annotations`]).

use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value as Json};

/// One configuration key a plugin declares.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyInfo {
    /// The property name in the struct's JSON form (`batch_size`).
    pub property: String,
    /// The key users write (`batch.size`).
    pub key: String,
    /// JSON types accepted (`integer`, `string`, `null`, `array`...).
    pub types: Vec<String>,
    /// JSON types of array items.
    pub item_types: Vec<String>,
    /// Allowed values, for enums.
    pub allowed: Vec<Json>,
    /// True when the key has no default and is not optional.
    pub required: bool,
    /// The default value, when the schema states it.
    pub default: Option<Json>,
    /// The field's doc comment.
    pub documentation: Option<String>,
    /// Other names the key answers to ([`annotations::ALIASES`]).
    pub aliases: Vec<String>,
    /// The validation group it is shown in ([`annotations::GROUP`]).
    pub group: Option<String>,
    /// Set by the connector for its tasks, never by users ([`annotations::TASK_ONLY`]).
    pub task_only: bool,
    /// The value names files or directories ([`annotations::PATH`]).
    pub path: bool,
    /// URL schemes of a path key that name no local file (`s3`), whose values a worker does
    /// not check as paths ([`annotations::REMOTE_SCHEMES`]).
    pub remote_schemes: Vec<String>,
    /// The value names RocketMQ topics, or parts of their names ([`annotations::TOPIC`]).
    pub topic: TopicKey,
    /// The most characters of a string value (the schema's `maxLength`), if declared.
    pub max_length: Option<u64>,
    /// The most items of a list value (the schema's `maxItems`), if declared.
    pub max_items: Option<u64>,
    /// The smallest value allowed, for numbers.
    pub minimum: Option<f64>,
    /// The largest value allowed, for numbers.
    pub maximum: Option<f64>,
    /// Kafka Connect's type name (`INT`, `LONG`, `LIST`, `CLASS`...) shown by validation.
    pub kafka_type: &'static str,
}

/// What a key's value says of topics ([`annotations::TOPIC`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TopicKey {
    /// Nothing.
    #[default]
    No,
    /// A topic name, or a list of them, checked by [`check_topic`](super::check_topic).
    Name,
    /// A part of topic names (a prefix, a delimiter), checked by [`check_topic_part`](super::check_topic_part).
    Part,
}

/// The schema extensions the SDK reads on a config field, written with schemars' `extend`
/// (`#[schemars(extend("x-aliases" = ["max.tasks"]))]`); `#[config(...)]` on a field of a type
/// deriving the SDK's `JsonSchema` writes them for you.
pub mod annotations {
    /// Other keys accepted for this one (a list of strings): RocketMQ Connect's spellings of
    /// Kafka's keys, for example.
    pub const ALIASES: &str = "x-aliases";
    /// The validation group (a string); a plugin's own keys default to the plugin's name.
    pub const GROUP: &str = "x-group";
    /// `true`: the connector sets the field in the task configs it plans; a user config may not
    /// set it, and neither validation nor `plugins` shows it.
    pub const TASK_ONLY: &str = "x-task-only";
    /// Kafka Connect's type name when the JSON type does not say it (`CLASS`).
    pub const KAFKA_TYPE: &str = "x-kafka-type";
    /// `true`: the value is a filesystem path, or a list of paths (a JSON array or a
    /// comma-separated string), which a worker checks against its allowed paths.
    pub const PATH: &str = "x-path";
    /// The URL schemes (a list of strings, `["s3"]`) whose values of a [`PATH`] key are not
    /// local: `s3://bucket/prefix` is not checked against the allowed paths, `file:///dir`
    /// and a plain path are.
    pub const REMOTE_SCHEMES: &str = "x-remote-schemes";
    /// `"name"`: the value is a RocketMQ topic name or a list of them (`#[config(topic)]`);
    /// `"part"`: a part of topic names, such as a prefix (`#[config(topic_part)]`). Checked at
    /// validation against RocketMQ's rules.
    pub const TOPIC: &str = "x-topic";
}

impl KeyInfo {
    /// Whether `key` names this key: its name or an alias, compared in normalised form.
    pub fn answers_to(&self, key: &str) -> bool {
        let wanted = normalize_key(key);
        normalize_key(&self.property) == wanted || self.aliases.iter().any(|alias| normalize_key(alias) == wanted)
    }
}

/// The JSON Schema of `T`.
pub fn schema_of<T: JsonSchema>() -> Schema {
    schemars::SchemaGenerator::default().into_root_schema_for::<T>()
}

/// `root` without the properties users may not set (task-only ones): what `plugins` and the
/// REST API show.
pub fn user_schema(mut root: Schema) -> Schema {
    if let Some(properties) = root.get_mut("properties").and_then(Json::as_object_mut) {
        properties.retain(|_, property| property.get(annotations::TASK_ONLY).and_then(Json::as_bool) != Some(true));
    }
    root
}

/// Normalises a key so `batch.size`, `batch-size`, `Batch_Size` and `batch_size` compare equal.
pub fn normalize_key(key: &str) -> String {
    key.chars().map(|c| if c == '.' || c == '-' { '_' } else { c.to_ascii_lowercase() }).collect()
}

/// The key users write for a property: `batch_size` → `batch.size`.
pub fn external_key(property: &str) -> String {
    property.replace('_', ".")
}

/// Every key declared by a root schema, in declaration order.
pub fn keys_of(root: &Schema) -> Vec<KeyInfo> {
    let root_json = root.as_value();
    let Some(object) = resolve(root_json, root_json).as_object() else { return Vec::new() };
    let required: Vec<&str> =
        object.get("required").and_then(Json::as_array).map(|r| r.iter().filter_map(Json::as_str).collect()).unwrap_or_default();
    let Some(properties) = object.get("properties").and_then(Json::as_object) else { return Vec::new() };
    properties
        .iter()
        .map(|(property, schema)| {
            let schema = resolve(root_json, schema);
            let types = types_of(root_json, schema);
            let items = schema.get("items").map(|i| types_of(root_json, resolve(root_json, i))).unwrap_or_default();
            let strings = |name: &str| -> Vec<String> {
                schema
                    .get(name)
                    .and_then(Json::as_array)
                    .map(|a| a.iter().filter_map(Json::as_str).map(str::to_owned).collect())
                    .unwrap_or_default()
            };
            KeyInfo {
                property: property.clone(),
                key: external_key(property),
                required: required.contains(&property.as_str()),
                default: schema.get("default").cloned(),
                documentation: description_of(root_json, schema),
                allowed: enum_values(root_json, schema),
                aliases: strings(annotations::ALIASES),
                group: schema.get(annotations::GROUP).and_then(Json::as_str).map(str::to_owned),
                task_only: schema.get(annotations::TASK_ONLY).and_then(Json::as_bool).unwrap_or(false),
                path: schema.get(annotations::PATH).and_then(Json::as_bool).unwrap_or(false),
                remote_schemes: strings(annotations::REMOTE_SCHEMES),
                topic: match schema.get(annotations::TOPIC).and_then(Json::as_str) {
                    Some("name") => TopicKey::Name,
                    Some("part") => TopicKey::Part,
                    _ => TopicKey::No,
                },
                max_length: schema.get("maxLength").and_then(Json::as_u64),
                max_items: schema.get("maxItems").and_then(Json::as_u64),
                minimum: schema.get("minimum").and_then(Json::as_f64),
                maximum: schema.get("maximum").and_then(Json::as_f64),
                kafka_type: kafka_type(schema, &types),
                types,
                item_types: items,
            }
        })
        .collect()
}

/// Kafka Connect's name of a key's type, from its JSON type and integer format.
fn kafka_type(schema: &Json, types: &[String]) -> &'static str {
    match schema.get(annotations::KAFKA_TYPE).and_then(Json::as_str) {
        Some("CLASS") => return "CLASS",
        Some("PASSWORD") => return "PASSWORD",
        _ => {}
    }
    match types.iter().find(|t| *t != "null").map(String::as_str) {
        Some("integer") => match schema.get("format").and_then(Json::as_str) {
            Some("int8" | "int16" | "int32" | "uint8" | "uint16" | "uint32") => "INT",
            _ => "LONG",
        },
        Some("number") => "DOUBLE",
        Some("boolean") => "BOOLEAN",
        Some("array") => "LIST",
        _ => "STRING",
    }
}

fn resolve<'a>(root: &'a Json, schema: &'a Json) -> &'a Json {
    match schema.get("$ref").and_then(Json::as_str) {
        Some(reference) => {
            reference.strip_prefix("#/").and_then(|path| path.split('/').try_fold(root, |node, part| node.get(part))).unwrap_or(schema)
        }
        None => schema,
    }
}

fn types_of(root: &Json, schema: &Json) -> Vec<String> {
    let mut types = Vec::new();
    match schema.get("type") {
        Some(Json::String(t)) => types.push(t.clone()),
        Some(Json::Array(ts)) => types.extend(ts.iter().filter_map(Json::as_str).map(str::to_owned)),
        _ => {}
    }
    if schema.get("enum").is_some() && types.is_empty() {
        types.push("string".to_owned());
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(options) = schema.get(combinator).and_then(Json::as_array) {
            for option in options {
                for t in types_of(root, resolve(root, option)) {
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
            }
        }
    }
    types
}

fn enum_values(root: &Json, schema: &Json) -> Vec<Json> {
    if let Some(values) = schema.get("enum").and_then(Json::as_array) {
        return values.clone();
    }
    let mut values = Vec::new();
    for combinator in ["anyOf", "oneOf"] {
        for option in schema.get(combinator).and_then(Json::as_array).into_iter().flatten() {
            let option = resolve(root, option);
            if let Some(c) = option.get("const") {
                values.push(c.clone());
            }
            values.extend(enum_values(root, option));
        }
    }
    values
}

fn description_of(root: &Json, schema: &Json) -> Option<String> {
    schema
        .get("description")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| schema.get("allOf").and_then(Json::as_array)?.iter().find_map(|s| description_of(root, resolve(root, s))))
}

/// Turns an object schema's own description and title into one string.
pub fn description_of_root(root: &Schema) -> Option<String> {
    root.as_object().and_then(|o: &Map<String, Json>| o.get("description")).and_then(Json::as_str).map(str::to_owned)
}
