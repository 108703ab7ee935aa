//! [`StringConverter`]: values as UTF-8 text.

use schemars::JsonSchema;
use serde::Deserialize;

use super::Converter;
use crate::data::{DataError, Schema, SchemaAndValue, Value};

/// Stores values as UTF-8 text (any value is written with its text form); reads text back
/// as an optional string. Kafka's `StringConverter`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Converter)]
#[converter(name = "string", aliases = ["org.apache.kafka.connect.storage.StringConverter", "StringConverter"])]
pub struct StringConverter {
    /// Character encoding; only UTF-8 is supported.
    #[serde(default = "utf8", alias = "converter.encoding")]
    pub encoding: String,
}

fn utf8() -> String {
    "UTF-8".to_owned()
}

impl Default for StringConverter {
    fn default() -> StringConverter {
        StringConverter { encoding: utf8() }
    }
}

impl Converter for StringConverter {
    fn encode(&self, topic: &str, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>, DataError> {
        self.encode_owned(topic, schema, value.clone())
    }

    fn encode_owned(&self, _topic: &str, _schema: Option<&Schema>, value: Value) -> Result<Option<Vec<u8>>, DataError> {
        self.check_encoding()?;
        Ok(match value {
            Value::Null => None,
            Value::String(s) => Some(s.into_bytes()),
            // Integer keys (a task id, a row id) are common: written without the formatter.
            Value::Int64(n) => Some(itoa::Buffer::new().format(n).as_bytes().to_vec()),
            Value::Int32(n) => Some(itoa::Buffer::new().format(n).as_bytes().to_vec()),
            other => Some(other.to_string().into_bytes()),
        })
    }

    fn decode(&self, _topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, DataError> {
        self.check_encoding()?;
        let value = match data {
            None => Value::Null,
            Some(bytes) => Value::String(String::from_utf8(bytes.to_vec()).map_err(|e| DataError::new(format!("not valid UTF-8: {e}")))?),
        };
        Ok(SchemaAndValue::new(Some(Schema::string().optional()), value))
    }
}

impl StringConverter {
    fn check_encoding(&self) -> Result<(), DataError> {
        // Per record: no allocation.
        if self.encoding.eq_ignore_ascii_case("UTF-8") || self.encoding.eq_ignore_ascii_case("UTF8") {
            Ok(())
        } else {
            Err(DataError::new(format!("encoding {} is not supported; use UTF-8", self.encoding)))
        }
    }
}
