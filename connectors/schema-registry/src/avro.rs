//! [`AvroConverter`]: Avro binary in Confluent's wire format, schemas in a registry.

use std::sync::Arc;

use apache_avro::Schema as AvroSchema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use connect_sdk::converter::Converter;
use connect_sdk::data::{DataError, Schema, SchemaAndValue, Value};
use connect_sdk::prelude::*;
use serde_json::Value as Json;

use crate::avro_data;
use crate::format::{Format, Registered, Role};
use crate::settings::RegistrySettings;

/// Avro with a schema registry, as Confluent's `AvroConverter`: a record's schema becomes an
/// Avro schema (names, optional fields as unions with null, defaults, logical types, maps with
/// any keys), registered under its subject (once, then cached), and the message carries its
/// id; a reader finds the writer's schema by that id and gets the record back as written.
#[derive(Clone, Debug, Deserialize, JsonSchema, connect_sdk::Converter)]
#[converter(name = "avro", aliases = ["io.confluent.connect.avro.AvroConverter", "AvroConverter"])]
pub struct AvroConverter {
    /// The registry keys.
    #[serde(flatten)]
    pub registry: RegistrySettings,
    #[serde(skip)]
    is_key: bool,
    #[serde(skip)]
    state: Arc<Registered<Avro>>,
}

impl AvroConverter {
    /// A value converter over `registry`.
    pub fn new(registry: RegistrySettings) -> AvroConverter {
        AvroConverter { registry, is_key: false, state: Arc::default() }
    }

    /// Avro's encoding checks values against the schema by itself.
    fn role(&self) -> Role<'_> {
        Role { settings: &self.registry, is_key: self.is_key, validate: false }
    }
}

impl Converter for AvroConverter {
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

/// Avro as a [`Format`].
pub struct Avro;

/// A writer's schema parsed for reading, and what it reads as.
pub struct AvroReader {
    avro: AvroSchema,
    connect: Schema,
}

fn avro_error(e: apache_avro::Error) -> DataError {
    DataError::new(connect_sdk::error_chain(&e))
}

impl Format for Avro {
    const TYPE: &'static str = "AVRO";
    type Writer = AvroSchema;
    type Reader = AvroReader;

    fn schema_text(schema: &Schema) -> Result<String, DataError> {
        Ok(avro_data::avro_schema(schema)?.to_string())
    }

    fn writer(text: &str, _validate: bool) -> Result<AvroSchema, DataError> {
        AvroSchema::parse_str(text).map_err(avro_error)
    }

    fn encode(writer: &AvroSchema, schema: &Schema, value: &Value) -> Result<Vec<u8>, DataError> {
        let datum = avro_data::avro_value(value, schema)?;
        GenericDatumWriter::builder(writer).build().and_then(|w| w.write_value_to_vec(datum)).map_err(avro_error)
    }

    fn reader(text: &str, _validate: bool) -> Result<AvroReader, DataError> {
        let json: Json = serde_json::from_str(text).map_err(|e| DataError::new(format!("the writer's schema is not JSON: {e}")))?;
        Ok(AvroReader { avro: AvroSchema::parse_str(text).map_err(avro_error)?, connect: avro_data::connect_schema(&json)? })
    }

    fn decode(reader: &AvroReader, mut payload: &[u8]) -> Result<SchemaAndValue, DataError> {
        let avro = GenericDatumReader::builder(&reader.avro).build().and_then(|r| r.read_value(&mut payload)).map_err(avro_error)?;
        let value = avro_data::connect_value(avro, &reader.connect)?;
        Ok(SchemaAndValue::new(Some(reader.connect.clone()), value))
    }
}
