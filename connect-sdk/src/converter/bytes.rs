//! [`ByteArrayConverter`]: bytes passed through unchanged.

use schemars::JsonSchema;
use serde::Deserialize;

use super::Converter;
use crate::data::{DataError, Schema, SchemaAndValue, Value};

/// Passes bytes through unchanged; values must be bytes. Kafka's `ByteArrayConverter`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, crate::Converter)]
#[converter(name = "bytes", aliases = ["org.apache.kafka.connect.converters.ByteArrayConverter", "ByteArrayConverter"])]
pub struct ByteArrayConverter {}

impl Converter for ByteArrayConverter {
    fn encode(&self, topic: &str, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>, DataError> {
        self.encode_owned(topic, schema, value.clone())
    }

    fn encode_owned(&self, _topic: &str, _schema: Option<&Schema>, value: Value) -> Result<Option<Vec<u8>>, DataError> {
        match value {
            Value::Null => Ok(None),
            Value::Bytes(bytes) => Ok(Some(bytes)),
            other => Err(DataError::new(format!("ByteArrayConverter needs bytes, got {}", other.type_name()))),
        }
    }

    fn decode(&self, _topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, DataError> {
        Ok(SchemaAndValue::new(Some(Schema::bytes().optional()), data.map_or(Value::Null, |b| Value::Bytes(b.to_vec()))))
    }
}
