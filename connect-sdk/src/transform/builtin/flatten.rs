//! Flatten: nested structs and maps become top-level fields joined by a delimiter.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::data::{Schema, SchemaType, Value};
use crate::error::Result;
use crate::record::Record;
use crate::transform::fields::{build_struct, data, named_fields, operating, require_struct_schema, string_map, struct_like};
use crate::transform::{KeyValueTransform, Target};

/// Flattens nested structs (with a schema) or maps (without) into one level, joining names
/// with `delimiter`. Kafka's `Flatten$Key` / `$Value`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "Flatten", key_value)]
pub struct Flatten {
    /// Joins nested field names.
    #[serde(default = "dot")]
    pub delimiter: String,
}

fn dot() -> String {
    ".".to_owned()
}

impl Flatten {
    fn join(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() { name.to_owned() } else { format!("{prefix}{}{name}", self.delimiter) }
    }

    fn flatten_map(&self, prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) -> Result<()> {
        for (name, field_value) in named_fields(value, "Flatten")? {
            let name = self.join(prefix, &name);
            match field_value {
                Value::Map(_) => self.flatten_map(&name, &field_value, out)?,
                other => out.push((name, other)),
            }
        }
        Ok(())
    }

    fn flatten_schema(&self, prefix: &str, schema: &Schema, optional: bool, out: &mut Vec<(String, Schema)>) {
        for field in &schema.fields {
            let name = self.join(prefix, &field.name);
            let optional = optional || field.schema.optional;
            if field.schema.kind == SchemaType::Struct {
                self.flatten_schema(&name, &field.schema, optional, out);
            } else {
                let mut s = field.schema.clone();
                s.optional = optional;
                out.push((name, s));
            }
        }
    }

    fn flatten_struct(&self, prefix: &str, schema: &Schema, value: &Value, out: &mut Vec<(String, Value)>) {
        for field in &schema.fields {
            let name = self.join(prefix, &field.name);
            let field_value = value.field(&field.name).cloned().unwrap_or(Value::Null);
            if field.schema.kind == SchemaType::Struct {
                self.flatten_struct(&name, &field.schema, &field_value, out);
            } else {
                out.push((name, field_value));
            }
        }
    }
}

impl KeyValueTransform for Flatten {
    fn apply_to(&self, target: Target, mut record: Record) -> Result<Option<Record>> {
        let (value, schema) = operating(&mut record, target);
        if value.is_null() {
            return Ok(Some(record));
        }
        let mut fields = Vec::new();
        match schema {
            None => {
                if !matches!(value, Value::Map(_)) {
                    return Err(data(format!("Flatten without a schema needs a map, found {}", value.type_name())));
                }
                self.flatten_map("", value, &mut fields)?;
                *value = string_map(fields);
            }
            Some(s) => {
                let old = require_struct_schema(s, "Flatten")?;
                let mut field_schemas = Vec::new();
                self.flatten_schema("", old, false, &mut field_schemas);
                self.flatten_struct("", old, value, &mut fields);
                let new_schema = struct_like(old, field_schemas);
                *value = build_struct(new_schema.clone(), fields)?;
                *schema = Some(new_schema);
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use crate::data::{Schema, Struct, Value};
    use crate::record::Record;
    use crate::transform::testing::{apply, map};
    use serde_json::json;

    #[test]
    fn flatten_maps_with_a_custom_delimiter() {
        let record =
            Record::new("t", map([("a", map([("b", Value::Int64(1)), ("c", map([("d", "x".into())]))])), ("e", Value::Bool(true))]));
        let out = apply(&json!({"type": "Flatten$Value", "delimiter": "_"}), record).unwrap();
        assert_eq!(out.value, map([("a_b", Value::Int64(1)), ("a_c_d", "x".into()), ("e", Value::Bool(true))]));
    }

    #[test]
    fn flatten_structs_propagates_optional() {
        let address = Schema::structure().field("zip", Schema::string()).optional();
        let schema = Schema::structure().field("id", Schema::int64()).field("address", address.clone());
        let row = Struct::new(schema.clone())
            .with("id", 1i64)
            .unwrap()
            .with("address", Struct::new(address).with("zip", "75001").unwrap())
            .unwrap();
        let record = Record { value: Value::Struct(row), value_schema: Some(schema), ..Record::default() };
        let out = apply(&json!({"type": "Flatten$Value"}), record).unwrap();
        let schema = out.value_schema.unwrap();
        assert!(schema.field_named("address.zip").unwrap().schema.optional);
        assert_eq!(out.value.field("address.zip"), Some(&Value::from("75001")));
    }
}
