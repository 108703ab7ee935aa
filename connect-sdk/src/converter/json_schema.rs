//! Kafka's JSON forms of schemas and values (`JsonSchema.java` of Kafka's JSON converter):
//! schema ↔ JSON, and value ↔ JSON with or without a schema.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Number, Value as Json, json};

use super::DecimalFormat;
use crate::data::logical::{self, Decimal};
use crate::data::{DataError, Field, Schema, SchemaType, Struct, Value};

/// A schema as Kafka's JSON envelope writes it.
pub fn schema_to_json(schema: &Schema) -> Json {
    let mut out = Map::new();
    out.insert("type".into(), json!(schema.kind.kafka_name()));
    out.insert("optional".into(), json!(schema.optional));
    if let Some(name) = &schema.name {
        out.insert("name".into(), json!(name));
    }
    if let Some(version) = schema.version {
        out.insert("version".into(), json!(version));
    }
    if let Some(doc) = &schema.doc {
        out.insert("doc".into(), json!(doc));
    }
    if !schema.parameters.is_empty() {
        out.insert("parameters".into(), json!(schema.parameters));
    }
    if let Some(default) = &schema.default {
        let plain = Schema { default: None, optional: true, ..schema.clone() };
        if let Ok(value) = value_to_json(Some(&plain), default, DecimalFormat::Base64) {
            out.insert("default".into(), value);
        }
    }
    match schema.kind {
        SchemaType::Struct => {
            let fields = schema
                .fields
                .iter()
                .map(|f| {
                    let mut field = schema_to_json(&f.schema);
                    field["field"] = json!(f.name);
                    field
                })
                .collect();
            out.insert("fields".into(), Json::Array(fields));
        }
        SchemaType::Array => {
            if let Some(items) = schema.value_schema() {
                out.insert("items".into(), schema_to_json(items));
            }
        }
        SchemaType::Map => {
            if let Some(keys) = schema.key_schema() {
                out.insert("keys".into(), schema_to_json(keys));
            }
            if let Some(values) = schema.value_schema() {
                out.insert("values".into(), schema_to_json(values));
            }
        }
        _ => {}
    }
    Json::Object(out)
}

/// Reads a schema from Kafka's JSON form.
pub fn schema_from_json(json: &Json) -> Result<Schema, DataError> {
    let object = json.as_object().ok_or_else(|| DataError::new("a schema must be a JSON object"))?;
    let type_name = object.get("type").and_then(Json::as_str).ok_or_else(|| DataError::new("a schema needs a \"type\""))?;
    let kind = SchemaType::from_kafka_name(type_name).ok_or_else(|| DataError::new(format!("unknown schema type \"{type_name}\"")))?;
    let mut schema = Schema::of(kind);
    schema.optional = object.get("optional").and_then(Json::as_bool).unwrap_or(false);
    schema.name = object.get("name").and_then(Json::as_str).map(str::to_owned);
    schema.version = object.get("version").and_then(Json::as_i64).and_then(|v| i32::try_from(v).ok());
    schema.doc = object.get("doc").and_then(Json::as_str).map(str::to_owned);
    if let Some(parameters) = object.get("parameters").and_then(Json::as_object) {
        schema.parameters = parameters.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect();
    }
    match kind {
        SchemaType::Struct => {
            for field in object.get("fields").and_then(Json::as_array).into_iter().flatten() {
                let name =
                    field.get("field").and_then(Json::as_str).ok_or_else(|| DataError::new("a struct field needs a \"field\" name"))?;
                let field_schema = schema_from_json(field).map_err(|e| e.in_field(name))?;
                schema.fields.push(Field { name: name.to_owned(), schema: field_schema });
            }
        }
        SchemaType::Array => {
            let items = object.get("items").ok_or_else(|| DataError::new("an array schema needs \"items\""))?;
            schema.value_schema = Some(Arc::new(schema_from_json(items)?));
        }
        SchemaType::Map => {
            let keys = object.get("keys").ok_or_else(|| DataError::new("a map schema needs \"keys\""))?;
            let values = object.get("values").ok_or_else(|| DataError::new("a map schema needs \"values\""))?;
            schema.key_schema = Some(Arc::new(schema_from_json(keys)?));
            schema.value_schema = Some(Arc::new(schema_from_json(values)?));
        }
        _ => {}
    }
    if let Some(default) = object.get("default").filter(|d| !d.is_null()) {
        let value = value_from_json(Some(&Schema { optional: true, ..schema.clone() }), default)?;
        schema.default = Some(Box::new(value));
    }
    Ok(schema)
}

/// Writes a value as JSON, following `schema` when given (Kafka's `convertToJson`).
pub fn value_to_json(schema: Option<&Schema>, value: &Value, decimals: DecimalFormat) -> Result<Json, DataError> {
    if let Some(schema) = schema
        && schema.name.as_deref() == Some(logical::DECIMAL)
        && !value.is_null()
    {
        let decimal = Decimal::from_value(schema, value)?;
        return Ok(match decimals {
            DecimalFormat::Base64 => Json::String(BASE64.encode(value_bytes(value))),
            DecimalFormat::Numeric => serde_json::from_str(&decimal.to_string()).map_err(|e| DataError::new(e.to_string()))?,
        });
    }
    Ok(match value {
        Value::Null => match schema.and_then(|s| s.default.as_deref()) {
            Some(default) => value_to_json(schema, default, decimals)?,
            None if schema.is_some_and(|s| !s.optional) => return Err(DataError::new("null is not allowed by a required schema")),
            None => Json::Null,
        },
        Value::Bool(b) => Json::Bool(*b),
        Value::Int8(v) => json!(v),
        Value::Int16(v) => json!(v),
        Value::Int32(v) => json!(v),
        Value::Int64(v) => json!(v),
        Value::Float32(v) => float(f64::from(*v))?,
        Value::Float64(v) => float(*v)?,
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(BASE64.encode(b)),
        Value::Array(items) => {
            let item_schema = schema.and_then(Schema::value_schema);
            Json::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| value_to_json(item_schema, item, decimals).map_err(|e| e.in_field(&i.to_string())))
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::Map(entries) => {
            let key_schema = schema.and_then(Schema::key_schema);
            let value_schema = schema.and_then(Schema::value_schema);
            let string_keys = match key_schema {
                Some(s) => s.kind == SchemaType::String,
                None => entries.keys().all(|k| matches!(k, Value::String(_))),
            };
            if string_keys {
                let mut object = Map::new();
                for (k, v) in entries {
                    let key = k.as_str().map_or_else(|| k.to_string(), str::to_owned);
                    let json = value_to_json(value_schema, v, decimals).map_err(|e| e.in_field(&key))?;
                    object.insert(key, json);
                }
                Json::Object(object)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| Ok(json!([value_to_json(key_schema, k, decimals)?, value_to_json(value_schema, v, decimals)?])))
                        .collect::<Result<_, DataError>>()?,
                )
            }
        }
        Value::Struct(s) => {
            let mut object = Map::new();
            for field in &s.schema().fields {
                let field_value = s.get(&field.name).unwrap_or(&Value::Null);
                let json = value_to_json(Some(&field.schema), field_value, decimals).map_err(|e| e.in_field(&field.name))?;
                object.insert(field.name.clone(), json);
            }
            Json::Object(object)
        }
    })
}

fn value_bytes(value: &Value) -> &[u8] {
    match value {
        Value::Bytes(b) => b,
        _ => &[],
    }
}

fn float(v: f64) -> Result<Json, DataError> {
    Number::from_f64(v).map(Json::Number).ok_or_else(|| DataError::new(format!("{v} cannot be written as JSON")))
}

/// Reads a JSON value: typed by `schema` when given, otherwise inferred (integers as
/// `Int64`, other numbers as `Float64`, objects as maps with string keys).
pub fn value_from_json(schema: Option<&Schema>, json: &Json) -> Result<Value, DataError> {
    let Some(schema) = schema else { return Ok(infer(json)) };
    if json.is_null() {
        return match &schema.default {
            Some(default) => Ok((**default).clone()),
            None if schema.optional => Ok(Value::Null),
            None => Err(DataError::new(format!("null is not allowed by a required {} schema", schema.kind))),
        };
    }
    let wrong = || DataError::new(format!("expected {}, got JSON {}", schema.kind, json_type(json)));
    let int = |bits: u32| -> Result<i64, DataError> {
        let v = json.as_i64().ok_or_else(wrong)?;
        let range = 1i64 << (bits - 1);
        if bits < 64 && !(-range..range).contains(&v) {
            return Err(DataError::new(format!("{v} does not fit in int{bits}")));
        }
        Ok(v)
    };
    Ok(match schema.kind {
        SchemaType::Int8 => Value::Int8(int(8)? as i8),
        SchemaType::Int16 => Value::Int16(int(16)? as i16),
        SchemaType::Int32 => Value::Int32(int(32)? as i32),
        SchemaType::Int64 => Value::Int64(int(64)?),
        SchemaType::Float32 => Value::Float32(json.as_f64().ok_or_else(wrong)? as f32),
        SchemaType::Float64 => Value::Float64(json.as_f64().ok_or_else(wrong)?),
        SchemaType::Boolean => Value::Bool(json.as_bool().ok_or_else(wrong)?),
        SchemaType::String => Value::String(json.as_str().ok_or_else(wrong)?.to_owned()),
        SchemaType::Bytes => match json {
            Json::String(text) => Value::Bytes(BASE64.decode(text).map_err(|e| DataError::new(format!("bytes must be base64: {e}")))?),
            Json::Number(n) if schema.name.as_deref() == Some(logical::DECIMAL) => {
                Decimal::parse(&n.to_string(), logical::decimal_scale(schema)?)?.to_value()
            }
            _ => return Err(wrong()),
        },
        SchemaType::Array => {
            let items = json.as_array().ok_or_else(wrong)?;
            let item_schema = schema.value_schema();
            Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| value_from_json(item_schema, item).map_err(|e| e.in_field(&i.to_string())))
                    .collect::<Result<_, _>>()?,
            )
        }
        SchemaType::Map => {
            let (key_schema, value_schema) = (schema.key_schema(), schema.value_schema());
            let mut map = BTreeMap::new();
            match json {
                Json::Object(object) => {
                    for (k, v) in object {
                        let key = value_from_json(key_schema, &Json::String(k.clone()))?;
                        map.insert(key, value_from_json(value_schema, v).map_err(|e| e.in_field(k))?);
                    }
                }
                Json::Array(pairs) => {
                    for pair in pairs {
                        let [k, v] = pair.as_array().map(Vec::as_slice).unwrap_or_default() else {
                            return Err(DataError::new("a map with non-string keys is an array of [key, value] pairs"));
                        };
                        map.insert(value_from_json(key_schema, k)?, value_from_json(value_schema, v)?);
                    }
                }
                _ => return Err(wrong()),
            }
            Value::Map(map)
        }
        SchemaType::Struct => {
            let object = json.as_object().ok_or_else(wrong)?;
            let mut row = Struct::new(schema.clone());
            for field in &schema.fields {
                let value = value_from_json(Some(&field.schema), object.get(&field.name).unwrap_or(&Json::Null))
                    .map_err(|e| e.in_field(&field.name))?;
                row.put(&field.name, value)?;
            }
            Value::Struct(row)
        }
    })
}

fn infer(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n.as_i64().map_or_else(|| Value::Float64(n.as_f64().unwrap_or(f64::NAN)), Value::Int64),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(infer).collect()),
        Json::Object(object) => Value::Map(object.iter().map(|(k, v)| (Value::String(k.clone()), infer(v))).collect()),
    }
}

fn json_type(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}
