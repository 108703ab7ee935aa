//! The `avro` and `json-schema` converters: records in Confluent's wire format with their
//! schemas in a Confluent-compatible schema registry (the worker's own, `/registry` on its
//! REST listener, unless `schema.registry.url` names another).
//!
//! - [`settings`]: the keys both share (`schema.registry.url`, `auto.register.schemas`,
//!   `use.latest.version`, subject name strategies, basic auth).
//! - `format`: the wire format, registry calls and caches; `client`: the HTTP client.
//! - [`avro_data`], [`json_data`]: Connect schemas and values ↔ Avro and JSON Schema.
//! - [`AvroConverter`], [`JsonSchemaConverter`]: the plugins.

pub mod avro_data;
mod client;
mod format;
pub mod json_data;
pub mod settings;

mod avro;
mod json_schema;

pub use avro::AvroConverter;
pub use client::{RegisteredSchema, RegistryClient};
pub use json_schema::JsonSchemaConverter;
pub use settings::{CredentialsSource, RegistrySettings, SubjectNameStrategy};

#[cfg(test)]
mod round_trip_tests;
