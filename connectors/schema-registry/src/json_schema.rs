//! [`JsonSchemaConverter`]: JSON documents in Confluent's wire format, JSON Schemas in a registry.

use std::sync::Arc;

use connect_sdk::converter::Converter;
use connect_sdk::data::{DataError, Schema, SchemaAndValue, Value};
use connect_sdk::prelude::*;
use serde_json::Value as Json;

use crate::format::{Format, Registered};
use crate::json_data;
use crate::settings::RegistrySettings;

/// JSON with JSON Schemas in a registry, as Confluent's `JsonSchemaConverter`: the message is
/// the record's JSON document (as the `json` converter writes payloads, decimals as numbers)
/// after the registered schema's id; a reader gets the record back with the schema's types.
#[derive(Clone, Debug, Deserialize, JsonSchema, connect_sdk::Converter)]
#[converter(name = "json-schema", aliases = ["io.confluent.connect.json.JsonSchemaConverter", "JsonSchemaConverter"])]
pub struct JsonSchemaConverter {
    /// The registry keys.
    #[serde(flatten)]
    pub registry: RegistrySettings,
    #[serde(skip)]
    is_key: bool,
    #[serde(skip)]
    state: Arc<Registered<JsonDocuments>>,
}

impl JsonSchemaConverter {
    /// A value converter over `registry`.
    pub fn new(registry: RegistrySettings) -> JsonSchemaConverter {
        JsonSchemaConverter { registry, is_key: false, state: Arc::default() }
    }
}

impl Converter for JsonSchemaConverter {
    fn encode(&self, topic: &str, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>, DataError> {
        self.state.encode(&self.registry, self.is_key, topic, schema, value)
    }

    fn decode(&self, _topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, DataError> {
        self.state.decode(&self.registry, data)
    }

    fn set_role(&mut self, is_key: bool) {
        self.is_key = is_key;
    }
}

/// JSON Schema as a [`Format`].
pub struct JsonDocuments;

impl Format for JsonDocuments {
    const TYPE: &'static str = "JSON";
    type Writer = ();
    type Reader = Schema;

    fn schema_text(schema: &Schema) -> Result<String, DataError> {
        Ok(json_data::json_schema(schema)?.to_string())
    }

    fn writer(_text: &str) -> Result<(), DataError> {
        Ok(())
    }

    fn encode(_writer: &(), schema: &Schema, value: &Value) -> Result<Vec<u8>, DataError> {
        let document = connect_sdk::converter::json_document(value, Some(schema))?;
        serde_json::to_vec(&document).map_err(|e| DataError::new(e.to_string()))
    }

    fn reader(text: &str) -> Result<Schema, DataError> {
        let json: Json = serde_json::from_str(text).map_err(|e| DataError::new(format!("the writer's schema is not JSON: {e}")))?;
        json_data::connect_schema(&json)
    }

    fn decode(schema: &Schema, payload: &[u8]) -> Result<SchemaAndValue, DataError> {
        let json: Json = serde_json::from_slice(payload).map_err(|e| DataError::new(format!("not a JSON document: {e}")))?;
        Ok(SchemaAndValue::new(Some(schema.clone()), connect_sdk::converter::json_value_of(&json, schema)?))
    }
}
