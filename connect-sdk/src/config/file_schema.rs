//! The JSON Schema of a config as users write it, for editors and CI validators: the keys by
//! the names users write (`batch.size`, their aliases too), the string forms the worker reads
//! (`"10"`, `"true"`, `"a,b"`), and for a connector the worker's own keys (`name`,
//! `connector.class`, `tasks.max`, converters, transforms, `errors.*`). A key the worker does
//! not know is refused (`additionalProperties: false`), as the worker refuses it.
//!
//! ```
//! use connect_sdk::config::file_schema::plugin_file_schema;
//! use connect_sdk::prelude::*;
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Settings {
//!     /// Records a batch.
//!     #[schemars(range(min = 1, max = 500))]
//!     batch_size: u32,
//! }
//! let schema = plugin_file_schema(&connect_sdk::config::schema_info::schema_of::<Settings>());
//! let batch = &schema["properties"]["batch.size"];
//! assert_eq!(batch["anyOf"][0], connect_sdk::serde_json::json!({"type": "integer", "minimum": 1, "maximum": 500}));
//! assert_eq!(batch["anyOf"][1]["type"], "string", "\"10\" is read as 10");
//! assert_eq!(schema["additionalProperties"], false);
//! ```

use schemars::Schema;
use serde_json::{Map, Value as Json, json};

use super::common::common_keys;
use super::names::MAX_VALUE_CHARS;
use super::schema_info::{KeyInfo, keys_of};

/// Marks a property of a connector's schema that the worker reads (not the connector):
/// `tasks.max`, `transforms`, `errors.tolerance`...
pub const WORKER_KEY: &str = "x-worker-key";
/// Marks a property that is another name of a key (its value: the key's own name).
pub const ALIAS_OF: &str = "x-alias-of";

/// An integer as the worker reads it from text.
const INTEGER_TEXT: &str = "^[+-]?[0-9]+$";
/// A number as the worker reads it from text.
const NUMBER_TEXT: &str = "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$";
/// `true` or `false` in any case.
const BOOLEAN_TEXT: &str = "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$";

/// The key prefixes whose keys configure a converter, a transform or a predicate (their own
/// keys, checked by the worker against that plugin once it is named).
const ROUTED_PATTERNS: [&str; 4] = ["^key[.]converter[.]", "^value[.]converter[.]", "^transforms[.][^.]+[.]", "^predicates[.][^.]+[.]"];

/// The schema of a converter's, transform's or predicate's own keys (as written after its
/// prefix: `transforms.<alias>.`).
pub fn plugin_file_schema(root: &Schema) -> Json {
    let keys: Vec<KeyInfo> = keys_of(root).into_iter().filter(|k| !k.task_only).collect();
    let mut schema = object_schema(&keys, false);
    if let Some(description) = root.get("description") {
        schema["description"] = description.clone();
    }
    schema
}

/// The schema of a connector's config (the `config` object of a connector file, the body of
/// `PUT /connectors/<name>/config`): its own keys, the worker's, `connector.class` one of
/// `classes`, and for a sink `topics` or `topics.regex`.
pub fn connector_file_schema(root: &Schema, classes: &[String], sink: bool) -> Json {
    let own: Vec<KeyInfo> = keys_of(root).into_iter().filter(|k| !k.task_only).collect();
    let mut schema = object_schema(&own, false);
    let worker: Vec<KeyInfo> = common_keys()
        .iter()
        .filter(|k| sink || !matches!(k.key.as_str(), "topics" | "topics.regex"))
        .filter(|k| !own.iter().any(|o| o.answers_to(&k.key)))
        .cloned()
        .collect();
    let worker_schema = object_schema(&worker, true);
    let properties = schema["properties"].as_object_mut().expect("object_schema has properties");
    properties.extend(worker_schema["properties"].as_object().cloned().unwrap_or_default());
    let class = json!({"enum": classes, "description": "The connector plugin, by its name or an alias.", WORKER_KEY: true});
    properties.insert("connector.class".to_owned(), class);
    let patterns: Map<String, Json> =
        ROUTED_PATTERNS.iter().map(|pattern| ((*pattern).to_owned(), json!({"type": ["string", "number", "boolean", "array"]}))).collect();
    schema["patternProperties"] = Json::Object(patterns);
    let mut required: Vec<Json> = schema["required"].as_array().cloned().unwrap_or_default();
    required.insert(0, json!("connector.class"));
    schema["required"] = Json::Array(required);
    if sink {
        schema["anyOf"] = json!([{"required": ["topics"]}, {"required": ["topics.regex"]}, {"required": ["connect.topicnames"]}]);
    }
    if let Some(description) = root.get("description") {
        schema["description"] = description.clone();
    }
    schema
}

/// An object of `keys` (each alias a property too) refusing any other key.
fn object_schema(keys: &[KeyInfo], worker: bool) -> Json {
    let mut properties = Map::new();
    for key in keys {
        let mut property = property_schema(key);
        if worker {
            property[WORKER_KEY] = json!(true);
        }
        for alias in &key.aliases {
            let mut alias_property = property.clone();
            alias_property[ALIAS_OF] = json!(key.key);
            properties.insert(alias.clone(), alias_property);
        }
        properties.insert(key.key.clone(), property);
    }
    let required: Vec<&str> = keys.iter().filter(|k| k.required).map(|k| k.key.as_str()).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// One key's values: its JSON type and the text forms the worker reads as that type.
fn property_schema(key: &KeyInfo) -> Json {
    let nullable = key.types.iter().any(|t| t == "null");
    let mut forms: Vec<Json> = Vec::new();
    let allowed: Vec<&Json> = key.allowed.iter().filter(|v| !v.is_null()).collect();
    if !allowed.is_empty() {
        forms.push(json!({"enum": allowed}));
    } else {
        for kind in key.types.iter().filter(|t| *t != "null") {
            forms.extend(forms_of(kind, key));
        }
    }
    if nullable {
        forms.push(json!({"type": "null"}));
        forms.push(json!({"const": ""}));
    }
    let mut property = match forms.len() {
        0 => json!({}),
        1 => forms.remove(0),
        _ => json!({"anyOf": forms}),
    };
    if let Some(documentation) = &key.documentation {
        property["description"] = json!(documentation);
    }
    if let Some(default) = key.default.as_ref().filter(|d| !d.is_null()) {
        property["default"] = default.clone();
    }
    property
}

fn forms_of(kind: &str, key: &KeyInfo) -> Vec<Json> {
    // A whole bound as an integer (`1`, not `1.0`).
    let number = |bound: f64| if bound.fract() == 0.0 && bound.abs() < 9.0e15 { json!(bound as i64) } else { json!(bound) };
    let bounded = |mut schema: Json| {
        if let Some(minimum) = key.minimum {
            schema["minimum"] = number(minimum);
        }
        if let Some(maximum) = key.maximum {
            schema["maximum"] = number(maximum);
        }
        schema
    };
    let text = json!({"type": "string", "maxLength": key.max_length.unwrap_or(MAX_VALUE_CHARS as u64)});
    match kind {
        "integer" => vec![bounded(json!({"type": "integer"})), json!({"type": "string", "pattern": INTEGER_TEXT})],
        "number" => vec![bounded(json!({"type": "number"})), json!({"type": "string", "pattern": NUMBER_TEXT})],
        "boolean" => vec![json!({"type": "boolean"}), json!({"type": "string", "pattern": BOOLEAN_TEXT})],
        // A list is a JSON array or comma-separated text.
        "array" => {
            let mut list = json!({"type": "array"});
            if let Some(max) = key.max_items {
                list["maxItems"] = json!(max);
            }
            vec![list, text]
        }
        "object" => vec![json!({"type": "object"}), text],
        // Text keys take numbers and booleans as their text.
        _ => vec![text, json!({"type": ["number", "boolean"]})],
    }
}
