//! Helpers shared by the built-in transforms: reaching the key or value of a record, and
//! rebuilding maps and structs field by field.

use std::collections::BTreeMap;

use crate::data::{DataError, Schema, SchemaType, Struct, Value};
use crate::error::{Error, Result};
use crate::record::Record;

use super::Target;

/// The value and schema a `$Key` / `$Value` transform works on.
pub fn operating(record: &mut Record, target: Target) -> (&mut Value, &mut Option<Schema>) {
    match target {
        Target::Key => (&mut record.key, &mut record.key_schema),
        Target::Value => (&mut record.value, &mut record.value_schema),
    }
}

/// A view of a map with string keys or a struct, as `(name, value)` pairs in order.
pub fn named_fields(value: &Value, purpose: &str) -> Result<Vec<(String, Value)>> {
    match value {
        Value::Map(map) => map
            .iter()
            .map(|(k, v)| match k {
                Value::String(name) => Ok((name.clone(), v.clone())),
                other => Err(data(format!("{purpose} needs a map with string keys, found a {} key", other.type_name()))),
            })
            .collect(),
        Value::Struct(s) => Ok(s.iter().map(|(n, v)| (n.to_owned(), v.clone())).collect()),
        other => Err(data(format!("{purpose} needs a struct or a map, found {}", other.type_name()))),
    }
}

/// A map with string keys.
pub fn string_map(fields: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Map(fields.into_iter().map(|(k, v)| (Value::String(k), v)).collect::<BTreeMap<_, _>>())
}

/// A struct of `schema` filled from `fields` (missing fields stay null).
pub fn build_struct(schema: Schema, fields: impl IntoIterator<Item = (String, Value)>) -> Result<Value> {
    let mut row = Struct::new(schema);
    for (name, value) in fields {
        row.put(&name, value)?;
    }
    Ok(Value::Struct(row))
}

/// A struct schema with the same metadata as `base` and these fields.
pub fn struct_like(base: &Schema, fields: impl IntoIterator<Item = (String, Schema)>) -> Schema {
    let mut schema = Schema { fields: Vec::new(), ..base.clone() };
    schema.kind = SchemaType::Struct;
    schema.default = None;
    for (name, field_schema) in fields {
        schema = schema.field(name, field_schema);
    }
    schema
}

/// A [`Error::Data`] with this message.
pub fn data(message: impl Into<String>) -> Error {
    Error::Data(DataError::new(message))
}

/// Requires a struct schema when one is present.
pub fn require_struct_schema<'a>(schema: &'a Schema, purpose: &str) -> Result<&'a Schema> {
    if schema.kind == SchemaType::Struct {
        Ok(schema)
    } else {
        Err(data(format!("{purpose} needs a struct schema, found {}", schema.kind)))
    }
}
