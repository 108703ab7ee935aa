//! The data model: [`Value`], [`Schema`], [`Struct`] and logical types.
//!
//! It follows Kafka Connect's data API so that converters, transforms and sinks written
//! for Kafka Connect semantics behave the same here.

mod error;
pub mod logical;
mod schema;
mod structs;
mod value;

pub use error::DataError;
pub use schema::{Field, Schema, SchemaType};
pub use structs::Struct;
pub use value::Value;

/// A value together with its optional schema, as a converter produces it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchemaAndValue {
    /// The schema, when the data carries one.
    pub schema: Option<Schema>,
    /// The value.
    pub value: Value,
}

impl SchemaAndValue {
    /// Pairs a value with a schema.
    pub fn new(schema: Option<Schema>, value: Value) -> SchemaAndValue {
        SchemaAndValue { schema, value }
    }
}
