//! Connect schemas ↔ JSON Schema, as Confluent's `JsonSchemaData` maps them: integers and
//! numbers carry their width in `connect.type` (`int8`..`int64`, `float32`, `float64`), bytes
//! are base64 strings (`connect.type: bytes`), maps are objects (`connect.type: map`, or arrays
//! of `[key, value]` pairs, as the JSON converter writes them, for keys that are not strings), structs are closed objects
//! (`additionalProperties: false`, so adding an optional field is a compatible change) titled
//! by their name, and optional schemas are `oneOf` null and the type. Names of other schemas
//! are titles; versions, docs and parameters ride in `connect.version`, `description` and
//! `connect.parameters`. Values are the JSON converter's documents with decimals as numbers.

use connect_sdk::data::logical::{self, DECIMAL};
use connect_sdk::data::{DataError, Schema, SchemaType, Value};
use serde_json::{Map, Value as Json, json};

/// The JSON Schema of a Connect schema.
pub fn json_schema(schema: &Schema) -> Result<Json, DataError> {
    let inner = non_null(schema)?;
    Ok(if schema.optional { json!({"oneOf": [{"type": "null"}, inner]}) } else { inner })
}

fn part<'s>(schema: Option<&'s Schema>, what: &str) -> Result<&'s Schema, DataError> {
    schema.ok_or_else(|| DataError::new(format!("a schema without its {what}")))
}

fn non_null(schema: &Schema) -> Result<Json, DataError> {
    let mut out = match schema.kind {
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 => {
            json!({"type": "integer", "connect.type": schema.kind.kafka_name()})
        }
        SchemaType::Float32 => json!({"type": "number", "connect.type": "float32"}),
        SchemaType::Float64 => json!({"type": "number", "connect.type": "float64"}),
        SchemaType::Bytes if logical::logical_name(schema) == Some(DECIMAL) => json!({"type": "number", "connect.type": "bytes"}),
        SchemaType::Bytes => json!({"type": "string", "connect.type": "bytes"}),
        SchemaType::Boolean => json!({"type": "boolean"}),
        SchemaType::String => json!({"type": "string"}),
        SchemaType::Array => json!({"type": "array", "items": json_schema(part(schema.value_schema(), "array items")?)?}),
        SchemaType::Map => {
            let (keys, values) = (part(schema.key_schema(), "map keys")?, part(schema.value_schema(), "map values")?);
            if keys.kind == SchemaType::String && !keys.optional {
                json!({"type": "object", "additionalProperties": json_schema(values)?, "connect.type": "map"})
            } else {
                // Entries as the JSON converter writes them: `[key, value]` pairs.
                let entry =
                    json!({"type": "array", "prefixItems": [json_schema(keys)?, json_schema(values)?], "minItems": 2, "maxItems": 2});
                json!({"type": "array", "items": entry, "connect.type": "map"})
            }
        }
        SchemaType::Struct => {
            let mut properties = Map::new();
            let mut required = Vec::new();
            for field in &schema.fields {
                properties.insert(field.name.clone(), json_schema(&field.schema)?);
                if !field.schema.optional && field.schema.default.is_none() {
                    required.push(field.name.clone());
                }
            }
            let mut object = json!({"type": "object", "properties": properties, "additionalProperties": false});
            if !required.is_empty() {
                object["required"] = json!(required);
            }
            object
        }
    };
    if let Some(name) = &schema.name {
        out["title"] = json!(name);
    }
    if let Some(version) = schema.version {
        out["connect.version"] = json!(version);
    }
    if let Some(doc) = &schema.doc {
        out["description"] = json!(doc);
    }
    if !schema.parameters.is_empty() {
        out["connect.parameters"] = json!(schema.parameters);
    }
    if let Some(default) = schema.default.as_deref() {
        out["default"] = connect_sdk::converter::json_document(default, Some(schema))?;
    }
    Ok(out)
}

/// The Connect schema of a JSON Schema document (a writer's schema).
pub fn connect_schema(json: &Json) -> Result<Schema, DataError> {
    let object =
        json.as_object().ok_or_else(|| DataError::new(format!("the JSON Schema {json} has no Connect type (only object schemas do)")))?;
    if let Some(branches) = object.get("oneOf").or_else(|| object.get("anyOf")).and_then(Json::as_array) {
        let non_null: Vec<&Json> = branches.iter().filter(|b| b.get("type").and_then(Json::as_str) != Some("null")).collect();
        return match (branches.len(), non_null.as_slice()) {
            (2, [only]) => Ok(connect_schema(only)?.optional()),
            _ => Err(DataError::new(format!("the JSON Schema union {json} has no Connect type (only a type with null does)"))),
        };
    }
    let connect_type = object.get("connect.type").and_then(Json::as_str);
    let title = object.get("title").and_then(Json::as_str);
    let mut schema = match (object.get("type").and_then(Json::as_str), connect_type) {
        (Some("integer"), Some(width)) => SchemaType::from_kafka_name(width).map(Schema::of).unwrap_or_else(Schema::int64),
        (Some("integer"), None) => Schema::int64(),
        (Some("number"), Some("bytes")) => Schema::bytes(),
        (Some("number"), Some("float32")) => Schema::float32(),
        (Some("number"), _) => Schema::float64(),
        (Some("boolean"), _) => Schema::boolean(),
        (Some("string"), Some("bytes")) => Schema::bytes(),
        (Some("string"), _) => Schema::string(),
        (Some("array"), Some("map")) => {
            let entry = object
                .get("items")
                .and_then(|i| i.get("prefixItems"))
                .ok_or_else(|| DataError::new("a map array without key and value"))?;
            Schema::map(connect_schema(&entry[0])?, connect_schema(&entry[1])?)
        }
        (Some("array"), _) => Schema::array(connect_schema(object.get("items").unwrap_or(&json!({})))?),
        (Some("object"), Some("map")) => {
            Schema::map(Schema::string(), connect_schema(object.get("additionalProperties").unwrap_or(&json!({})))?)
        }
        (Some("object"), _) => {
            let required: Vec<&str> =
                object.get("required").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str).collect();
            let mut schema = Schema::structure();
            for (name, property) in object.get("properties").and_then(Json::as_object).into_iter().flatten() {
                let mut field = connect_schema(property)?;
                if !required.contains(&name.as_str()) && field.default.is_none() {
                    field.optional = true;
                }
                schema = schema.field(name, field);
            }
            schema
        }
        _ => return Err(DataError::new(format!("the JSON Schema {json} has no Connect type"))),
    };
    if let Some(title) = title {
        schema.name = Some(title.to_owned());
    }
    if let Some(version) = object.get("connect.version").and_then(Json::as_i64) {
        schema.version = i32::try_from(version).ok();
    }
    if let Some(doc) = object.get("description").and_then(Json::as_str) {
        schema.doc = Some(doc.to_owned());
    }
    for (key, value) in object.get("connect.parameters").and_then(Json::as_object).into_iter().flatten() {
        if let Some(value) = value.as_str() {
            schema.parameters.insert(key.clone(), value.to_owned());
        }
    }
    if let Some(default) = object.get("default").filter(|d| !d.is_null()) {
        let value: Value = connect_sdk::converter::json_value_of(default, &schema)?;
        schema.default = Some(Box::new(value));
    }
    Ok(schema)
}
