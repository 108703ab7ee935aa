//! Reads a plugin's JSON Schema (from `schemars`) as a list of configuration keys: their
//! external (dotted) names, JSON types, whether required, defaults and documentation.

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
}

/// The JSON Schema of `T`.
pub fn schema_of<T: JsonSchema>() -> Schema {
    schemars::SchemaGenerator::default().into_root_schema_for::<T>()
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
            KeyInfo {
                property: property.clone(),
                key: external_key(property),
                required: required.contains(&property.as_str()),
                default: schema.get("default").cloned(),
                documentation: description_of(root_json, schema),
                allowed: enum_values(root_json, schema),
                types,
                item_types: items,
            }
        })
        .collect()
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
