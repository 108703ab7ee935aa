//! Converters turn record keys and values into the bytes stored in RocketMQ and back:
//! [`JsonConverter`] (with or without Kafka's schema envelope), [`StringConverter`] and
//! [`ByteArrayConverter`]. Custom converters implement [`Converter`] and
//! `#[derive(Converter)]` registers them.

mod bytes;
mod json;
mod json_schema;
mod string;

pub use bytes::ByteArrayConverter;
pub use json::{DecimalFormat, JsonConverter};
pub use string::StringConverter;

use crate::config::PluginRef;
use crate::data::{DataError, Schema, SchemaAndValue, Value};

/// Serializes values to bytes and back (Kafka's `Converter`: `encode` is `fromConnectData`, `decode` is `toConnectData`).
///
/// `None` bytes stand for a null value (a tombstone).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a converter",
    note = "implement `connect_sdk::converter::Converter` for `{Self}`"
)]
pub trait Converter: Send + Sync + 'static {
    /// Serializes `value` (described by `schema`, when known) for `topic`.
    fn encode(&self, topic: &str, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>, DataError>;

    /// Deserializes bytes read from `topic`.
    fn decode(&self, topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, DataError>;

    /// [`encode`](Converter::encode), taking the value: a converter that stores a value's own
    /// bytes (text, bytes) moves them instead of copying. The runtime calls this one.
    fn encode_owned(&self, topic: &str, schema: Option<&Schema>, value: Value) -> Result<Option<Vec<u8>>, DataError> {
        self.encode(topic, schema, &value)
    }

    /// Told once, before its first use, whether it converts record keys (`true`) or values
    /// (Kafka's `isKey`): a converter whose output depends on it (a schema registry's subject
    /// names, `<topic>-key` or `<topic>-value`) keeps it. Does nothing by default.
    fn set_role(&mut self, is_key: bool) {
        let _ = is_key;
    }
}

/// The bytes a sink writes to a system that stores plain payloads (a queue, a key-value
/// store, an HTTP body): bytes as they are, text as UTF-8, anything else as schemaless JSON
/// (decimals as numbers); `None` for a null value.
///
/// ```
/// use connect_sdk::converter::payload_bytes;
/// use connect_sdk::data::{Schema, Struct, Value};
/// assert_eq!(payload_bytes(&Value::from("hi"), None).unwrap(), Some(b"hi".to_vec()));
/// let row = Struct::from_values(Schema::structure().field("id", Schema::int64()), vec![Value::Int64(7)]).unwrap();
/// assert_eq!(payload_bytes(&Value::Struct(row), None).unwrap(), Some(br#"{"id":7}"#.to_vec()));
/// assert_eq!(payload_bytes(&Value::Null, None).unwrap(), None);
/// ```
pub fn payload_bytes(value: &Value, schema: Option<&Schema>) -> Result<Option<Vec<u8>>, DataError> {
    Ok(match value {
        Value::Null => None,
        Value::Bytes(bytes) => Some(bytes.clone()),
        Value::String(text) => Some(text.clone().into_bytes()),
        other => Some(serde_json::to_vec(&json_document(other, schema)?).map_err(|e| DataError::new(e.to_string()))?),
    })
}

/// A value as the JSON document a schemaless JSON converter writes (decimals as numbers,
/// bytes as base64), following `schema` when given: what a sink writing JSON stores.
///
/// ```
/// use connect_sdk::converter::json_document;
/// use connect_sdk::data::Value;
/// assert_eq!(json_document(&Value::from("hi"), None).unwrap(), connect_sdk::serde_json::json!("hi"));
/// ```
pub fn json_document(value: &Value, schema: Option<&Schema>) -> Result<serde_json::Value, DataError> {
    json_schema::value_to_json(schema, value, DecimalFormat::Numeric)
}

/// The schemaless value of a JSON document a source read (objects become maps with string
/// keys, integers `Int64`, other numbers `Float64`): a JSON converter without schemas writes
/// it back as the same JSON.
///
/// ```
/// use connect_sdk::converter::json_value;
/// use connect_sdk::data::Value;
/// let value = json_value(&connect_sdk::serde_json::json!({"id": 7}));
/// let Value::Map(map) = value else { panic!() };
/// assert_eq!(map.get(&Value::from("id")), Some(&Value::Int64(7)));
/// ```
pub fn json_value(json: &serde_json::Value) -> Value {
    json_schema::value_from_json(None, json).unwrap_or(Value::Null)
}

/// A JSON document read as a value of `schema`, as the JSON converter reads payloads:
/// integers of the schema's width, bytes and decimals from base64 (decimals also from
/// numbers), structs by field name, logical types by their encodings.
///
/// ```
/// use connect_sdk::converter::json_value_of;
/// use connect_sdk::data::{Schema, Value};
/// let schema = Schema::structure().field("id", Schema::int16());
/// let Value::Struct(row) = json_value_of(&connect_sdk::serde_json::json!({"id": 7}), &schema).unwrap() else { panic!() };
/// assert_eq!(row.values(), &[Value::Int16(7)]);
/// ```
pub fn json_value_of(json: &serde_json::Value, schema: &Schema) -> Result<Value, DataError> {
    json_schema::value_from_json(Some(schema), json)
}

/// The converters a connector's records go through, one for keys and one for values
/// (`connect_sdk::host::assembly` builds them from a connector config).
pub struct RecordConverters {
    /// Converts keys.
    pub key: Box<dyn Converter>,
    /// Converts values.
    pub value: Box<dyn Converter>,
}

/// The converters used when a connector config names none (the worker's `key.converter` /
/// `value.converter`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConverterDefaults {
    /// Default key converter and its keys.
    pub key: PluginRef,
    /// Default value converter and its keys.
    pub value: PluginRef,
}

impl Default for ConverterDefaults {
    /// Keys as strings, values as JSON with Kafka's schema envelope (Kafka's defaults).
    fn default() -> ConverterDefaults {
        let plugin = |role: &str, class: &str| PluginRef {
            alias: role.to_owned(),
            class: class.to_owned(),
            config: Default::default(),
            prefix: format!("{role}."),
        };
        ConverterDefaults { key: plugin("key.converter", "string"), value: plugin("value.converter", "json") }
    }
}
