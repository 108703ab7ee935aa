//! [`JsonSchemaConverter`]: JSON documents in Confluent's wire format, JSON Schemas in a registry.

use std::sync::Arc;

use connect_sdk::converter::Converter;
use connect_sdk::data::{DataError, Schema, SchemaAndValue, Value};
use connect_sdk::prelude::*;
use serde_json::Value as Json;

use crate::format::{Format, Registered, Role};
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
    /// Check every document written and read against its JSON Schema (the `jsonschema`
    /// crate), failing the record with the reasons (Confluent's `json.fail.invalid.schema`).
    #[serde(default)]
    pub json_fail_invalid_schema: bool,
    #[serde(skip)]
    is_key: bool,
    #[serde(skip)]
    state: Arc<Registered<JsonDocuments>>,
}

impl JsonSchemaConverter {
    /// A value converter over `registry`.
    pub fn new(registry: RegistrySettings) -> JsonSchemaConverter {
        JsonSchemaConverter { registry, json_fail_invalid_schema: false, is_key: false, state: Arc::default() }
    }

    fn role(&self) -> Role<'_> {
        Role { settings: &self.registry, is_key: self.is_key, validate: self.json_fail_invalid_schema }
    }
}

impl Converter for JsonSchemaConverter {
    fn encode(&self, topic: &str, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>, DataError> {
        self.state.encode(self.role(), topic, schema, value)
    }

    fn decode(&self, _topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, DataError> {
        self.state.decode(self.role(), data)
    }

    fn set_role(&mut self, is_key: bool) {
        self.is_key = is_key;
    }
}

/// JSON Schema as a [`Format`].
pub struct JsonDocuments;

/// A JSON Schema compiled by the `jsonschema` crate, when documents are checked.
pub struct Checker(Option<jsonschema::Validator>);

impl Checker {
    fn new(schema: &Json, validate: bool) -> Result<Checker, DataError> {
        if !validate {
            return Ok(Checker(None));
        }
        let validator = jsonschema::validator_for(schema).map_err(|e| DataError::new(format!("the JSON Schema does not compile: {e}")))?;
        Ok(Checker(Some(validator)))
    }

    /// Every way `document` breaks the schema, in one error.
    fn check(&self, document: &Json) -> Result<(), DataError> {
        let Some(validator) = &self.0 else { return Ok(()) };
        let problems: Vec<String> = validator.iter_errors(document).map(|e| format!("{} at \"{}\"", e, e.instance_path())).collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DataError::new(format!("the document breaks its JSON Schema: {}", problems.join("; "))))
        }
    }
}

/// A writer's schema: what it reads as, and its checker.
pub struct JsonReader {
    connect: Schema,
    checker: Checker,
}

fn parse(text: &str) -> Result<Json, DataError> {
    serde_json::from_str(text).map_err(|e| DataError::new(format!("the writer's schema is not JSON: {e}")))
}

impl Format for JsonDocuments {
    const TYPE: &'static str = "JSON";
    type Writer = Checker;
    type Reader = JsonReader;

    fn schema_text(schema: &Schema) -> Result<String, DataError> {
        Ok(json_data::json_schema(schema)?.to_string())
    }

    fn writer(text: &str, validate: bool) -> Result<Checker, DataError> {
        Checker::new(&parse(text)?, validate)
    }

    fn encode(checker: &Checker, schema: &Schema, value: &Value) -> Result<Vec<u8>, DataError> {
        let document = connect_sdk::converter::json_document(value, Some(schema))?;
        checker.check(&document)?;
        serde_json::to_vec(&document).map_err(|e| DataError::new(e.to_string()))
    }

    fn reader(text: &str, validate: bool) -> Result<JsonReader, DataError> {
        let json = parse(text)?;
        Ok(JsonReader { connect: json_data::connect_schema(&json)?, checker: Checker::new(&json, validate)? })
    }

    fn decode(reader: &JsonReader, payload: &[u8]) -> Result<SchemaAndValue, DataError> {
        let json: Json = serde_json::from_slice(payload).map_err(|e| DataError::new(format!("not a JSON document: {e}")))?;
        reader.checker.check(&json)?;
        Ok(SchemaAndValue::new(Some(reader.connect.clone()), connect_sdk::converter::json_value_of(&json, &reader.connect)?))
    }
}
