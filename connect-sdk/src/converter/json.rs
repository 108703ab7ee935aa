//! [`JsonConverter`]: JSON, with or without Kafka's `{"schema": ..., "payload": ...}` envelope.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::Converter;
use super::json_schema::{schema_from_json, schema_to_json, value_from_json, value_to_json};
use crate::data::{DataError, Schema, SchemaAndValue, Value};

/// How decimals are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DecimalFormat {
    /// Base64 of the unscaled bytes (Kafka's default).
    #[default]
    Base64,
    /// A JSON number.
    Numeric,
}

/// JSON, wire-compatible with Kafka's `JsonConverter`. With `schemas.enable` (the default)
/// every message is an envelope `{"schema": ..., "payload": ...}` so sinks get typed data;
/// without it, plain JSON whose types are inferred.
///
/// ```
/// use connect_sdk::converter::{Converter, JsonConverter};
/// use connect_sdk::data::{Schema, Value};
/// let plain = JsonConverter { schemas_enable: false, ..JsonConverter::default() };
/// let bytes = plain.encode("t", Some(&Schema::int32()), &Value::Int32(7)).unwrap();
/// assert_eq!(bytes.as_deref(), Some(&b"7"[..]));
/// let enveloped = JsonConverter::default().encode("t", Some(&Schema::int32()), &Value::Int32(7)).unwrap();
/// assert_eq!(String::from_utf8(enveloped.unwrap()).unwrap(),
///            r#"{"schema":{"type":"int32","optional":false},"payload":7}"#);
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Converter)]
#[converter(name = "json", aliases = ["org.apache.kafka.connect.json.JsonConverter", "JsonConverter"])]
pub struct JsonConverter {
    /// Write and expect the `{"schema", "payload"}` envelope.
    #[serde(default = "yes")]
    pub schemas_enable: bool,
    /// How decimals are written: `BASE64` or `NUMERIC`.
    #[serde(default)]
    pub decimal_format: DecimalFormat,
    /// Accepted for compatibility: schemas are not cached because parsing them is cheap here.
    #[serde(default = "cache_size")]
    #[schemars(range(max = 100_000))]
    pub schemas_cache_size: u32,
    /// Write a null field of a schema with a default as that default.
    #[serde(default = "yes")]
    pub replace_null_with_default: bool,
}

fn yes() -> bool {
    true
}

fn cache_size() -> u32 {
    1000
}

impl Default for JsonConverter {
    fn default() -> JsonConverter {
        JsonConverter {
            schemas_enable: true,
            decimal_format: DecimalFormat::Base64,
            schemas_cache_size: 1000,
            replace_null_with_default: true,
        }
    }
}

impl Converter for JsonConverter {
    fn encode(&self, _topic: &str, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>, DataError> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        if let Some(schema) = schema {
            schema.validate(value)?;
        }
        let without_default;
        let effective = match schema {
            Some(s) if !self.replace_null_with_default && s.default.is_some() => {
                without_default = Schema { default: None, ..s.clone() };
                Some(&without_default)
            }
            other => other,
        };
        let payload = value_to_json(effective, value, self.decimal_format)?;
        let json = if self.schemas_enable { json!({"schema": schema.map(schema_to_json), "payload": payload}) } else { payload };
        serde_json::to_vec(&json).map(Some).map_err(|e| DataError::new(e.to_string()))
    }

    fn decode(&self, _topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, DataError> {
        let Some(data) = data else { return Ok(SchemaAndValue::default()) };
        let json: Json = serde_json::from_slice(data).map_err(|e| DataError::new(format!("not valid JSON: {e}")))?;
        if !self.schemas_enable {
            return Ok(SchemaAndValue::new(None, value_from_json(None, &json)?));
        }
        let envelope =
            json.as_object().filter(|o| o.len() == 2 && o.contains_key("schema") && o.contains_key("payload")).ok_or_else(|| {
                DataError::new(
                    "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. \
                 If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.",
                )
            })?;
        let schema = match &envelope["schema"] {
            Json::Null => None,
            schema => Some(schema_from_json(schema)?),
        };
        let value = value_from_json(schema.as_ref(), &envelope["payload"])?;
        Ok(SchemaAndValue::new(schema, value))
    }
}
