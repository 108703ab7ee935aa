//! Header transforms: InsertHeader, DropHeaders, HeaderFrom.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::{ConfigError, ConfigErrors};
use crate::error::Result;
use crate::record::Record;
use crate::transform::fields::{build_struct, data, named_fields, operating, require_struct_schema, string_map, struct_like};
use crate::transform::{KeyValueTransform, Target, Transform};

/// Adds a header with a literal string value. Kafka's `InsertHeader`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "InsertHeader")]
pub struct InsertHeader {
    /// Header name.
    pub header: String,
    /// Header value.
    pub value_literal: String,
}

impl Transform for InsertHeader {
    fn apply(&self, mut record: Record) -> Result<Option<Record>> {
        record.headers.add(self.header.clone(), self.value_literal.clone());
        Ok(Some(record))
    }
}

/// Removes headers by name. Kafka's `DropHeaders`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "DropHeaders")]
pub struct DropHeaders {
    /// Header names to remove.
    pub headers: Vec<String>,
}

impl Transform for DropHeaders {
    fn apply(&self, mut record: Record) -> Result<Option<Record>> {
        for header in &self.headers {
            record.headers.remove(header);
        }
        Ok(Some(record))
    }
}

/// Whether `HeaderFrom` keeps the fields it copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HeaderOperation {
    /// Keep the field.
    #[default]
    Copy,
    /// Remove the field.
    Move,
}

/// Copies or moves fields of the key or value into headers. Kafka's `HeaderFrom$Key` / `$Value`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "HeaderFrom", key_value)]
pub struct HeaderFrom {
    /// Fields to read.
    pub fields: Vec<String>,
    /// Header names, one per field.
    pub headers: Vec<String>,
    /// `copy` or `move`.
    pub operation: HeaderOperation,
}

impl KeyValueTransform for HeaderFrom {
    fn apply_to(&self, target: Target, mut record: Record) -> Result<Option<Record>> {
        let (value, schema) = operating(&mut record, target);
        if value.is_null() {
            return Ok(Some(record));
        }
        let mut new_headers = Vec::new();
        for (field, header) in self.fields.iter().zip(&self.headers) {
            let field_schema = match schema.as_ref() {
                Some(s) => Some(
                    require_struct_schema(s, "HeaderFrom")?
                        .field_named(field)
                        .ok_or_else(|| data(format!("HeaderFrom: unknown field \"{field}\"")))?
                        .schema
                        .clone(),
                ),
                None => None,
            };
            new_headers.push((header.clone(), value.field(field).cloned().unwrap_or_default(), field_schema));
        }
        if self.operation == HeaderOperation::Move {
            let kept = named_fields(value, "HeaderFrom")?.into_iter().filter(|(n, _)| !self.fields.contains(n));
            match schema {
                None => *value = string_map(kept),
                Some(s) => {
                    let new_schema = struct_like(
                        s,
                        s.fields.iter().filter(|f| !self.fields.contains(&f.name)).map(|f| (f.name.clone(), f.schema.clone())),
                    );
                    *value = build_struct(new_schema.clone(), kept)?;
                    *schema = Some(new_schema);
                }
            }
        }
        for (header, header_value, header_schema) in new_headers {
            record.headers.add_with_schema(header, header_value, header_schema);
        }
        Ok(Some(record))
    }

    fn validate(&self) -> Result<(), ConfigErrors> {
        if self.fields.len() != self.headers.len() {
            return Err(ConfigError::new(
                "headers",
                format!("list one header per field: {} fields, {} headers", self.fields.len(), self.headers.len()),
            )
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::data::Value;
    use crate::record::Record;
    use crate::transform::testing::{apply, build, map};
    use serde_json::json;

    #[test]
    fn insert_and_drop_headers() {
        let out = apply(&json!({"type": "InsertHeader", "header": "source", "value.literal": "db1"}), Record::new("t", 1i32)).unwrap();
        assert_eq!(out.headers.last("source").unwrap().value, Value::from("db1"));
        let out = apply(&json!({"type": "DropHeaders", "headers": "source"}), out).unwrap();
        assert!(out.headers.is_empty());
    }

    #[test]
    fn header_from_copies_or_moves_fields() {
        let record = Record::new("t", map([("id", Value::Int64(1)), ("tenant", "acme".into())]));
        let config = json!({"type": "HeaderFrom$Value", "fields": "tenant", "headers": "x-tenant", "operation": "move"});
        let out = apply(&config, record.clone()).unwrap();
        assert_eq!(out.headers.last("x-tenant").unwrap().value, Value::from("acme"));
        assert_eq!(out.value, map([("id", Value::Int64(1))]));
        let copy = json!({"type": "HeaderFrom$Value", "fields": "tenant", "headers": "x-tenant", "operation": "copy"});
        assert_eq!(apply(&copy, record.clone()).unwrap().value, record.value);
    }

    #[test]
    fn header_from_needs_one_header_per_field() {
        let errors = build(&json!({"type": "HeaderFrom$Value", "fields": "a,b", "headers": "x", "operation": "copy"})).err().unwrap();
        assert_eq!(errors.iter().next().unwrap().key, "transforms.t.headers");
        let errors = build(&json!({"type": "HeaderFrom$Value", "fields": "a", "headers": "x", "operation": "swap"})).err().unwrap();
        assert_eq!(errors.iter().next().unwrap().key, "transforms.t.operation", "{errors}");
    }
}
