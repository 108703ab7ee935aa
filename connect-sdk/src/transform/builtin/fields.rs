//! Field-level transforms: InsertField, ReplaceField, MaskField, ValueToKey, ExtractField, HoistField.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::ConfigErrors;
use crate::data::{Schema, SchemaType, Value, logical};
use crate::error::Result;
use crate::record::Record;
use crate::transform::fields::{build_struct, data, named_fields, operating, require_struct_schema, string_map, struct_like};
use crate::transform::{KeyValueTransform, Target};

/// Inserts the record's topic, queue id, queue offset, timestamp and/or a static string into
/// the key or value (a struct or a map). Kafka's `InsertField$Key` / `InsertField$Value`.
/// Suffix a field name with `!` to make it required in the new schema, `?` (the default) optional.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "InsertField", key_value)]
pub struct InsertField {
    /// Field for the record's topic.
    #[serde(default)]
    pub topic_field: Option<String>,
    /// Field for the queue id the record was read from (sink records only).
    #[serde(default)]
    pub partition_field: Option<String>,
    /// Field for the queue offset the record was read from (sink records only).
    #[serde(default)]
    pub offset_field: Option<String>,
    /// Field for the record's timestamp.
    #[serde(default)]
    pub timestamp_field: Option<String>,
    /// Field for a static value.
    #[serde(default)]
    pub static_field: Option<String>,
    /// The static value.
    #[serde(default)]
    pub static_value: Option<String>,
}

struct Insertion {
    name: String,
    optional: bool,
    schema: Schema,
    value: Value,
}

fn field_spec(spec: &Option<String>) -> Option<(String, bool)> {
    let spec = spec.as_deref()?.trim();
    if spec.is_empty() {
        return None;
    }
    Some(match spec.strip_suffix('!') {
        Some(name) => (name.to_owned(), false),
        None => (spec.trim_end_matches('?').to_owned(), true),
    })
}

impl InsertField {
    fn insertions(&self, record: &Record) -> Vec<Insertion> {
        let specs = [
            (&self.topic_field, Schema::string(), Value::from(record.topic.clone())),
            (&self.partition_field, Schema::int32(), Value::from(record.queue_id)),
            (&self.offset_field, Schema::int64(), Value::from(record.queue_offset)),
            (&self.timestamp_field, logical::timestamp_schema(), Value::from(record.timestamp)),
            (&self.static_field, Schema::string(), Value::from(self.static_value.clone())),
        ];
        specs
            .into_iter()
            .filter_map(|(spec, schema, value)| {
                let (name, optional) = field_spec(spec)?;
                let schema = if optional { schema.optional() } else { schema };
                Some(Insertion { name, optional, schema, value })
            })
            .collect()
    }
}

impl KeyValueTransform for InsertField {
    fn apply_to(&self, target: Target, mut record: Record) -> Result<Option<Record>> {
        let insertions = self.insertions(&record);
        let (value, schema) = operating(&mut record, target);
        if value.is_null() {
            return Ok(Some(record));
        }
        match schema {
            None => {
                let mut fields = named_fields(value, "InsertField")?;
                fields.extend(insertions.into_iter().map(|i| (i.name, i.value)));
                *value = string_map(fields);
            }
            Some(old) => {
                let old_schema = require_struct_schema(old, "InsertField")?.clone();
                let mut fields = named_fields(value, "InsertField")?;
                let mut field_schemas: Vec<(String, Schema)> =
                    old_schema.fields.iter().map(|f| (f.name.clone(), f.schema.clone())).collect();
                for insertion in insertions {
                    if old_schema.field_named(&insertion.name).is_some() {
                        return Err(data(format!("InsertField: the value already has a field \"{}\"", insertion.name)));
                    }
                    if !insertion.optional && insertion.value.is_null() {
                        return Err(data(format!("InsertField: required field \"{}\" has no value for this record", insertion.name)));
                    }
                    field_schemas.push((insertion.name.clone(), insertion.schema));
                    fields.push((insertion.name, insertion.value));
                }
                let new_schema = struct_like(&old_schema, field_schemas);
                *value = build_struct(new_schema.clone(), fields)?;
                *schema = Some(new_schema);
            }
        }
        Ok(Some(record))
    }
}

/// Keeps, drops and renames fields of the key or value. Kafka's `ReplaceField$Key` / `$Value`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "ReplaceField", key_value)]
pub struct ReplaceField {
    /// Fields to drop.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Fields to keep (all when empty).
    #[serde(default)]
    pub include: Vec<String>,
    /// Renames, as `old:new` pairs.
    #[serde(default)]
    pub renames: Vec<String>,
}

impl ReplaceField {
    fn kept_name(&self, name: &str) -> Option<String> {
        if self.exclude.iter().any(|e| e == name) || (!self.include.is_empty() && !self.include.iter().any(|i| i == name)) {
            return None;
        }
        let renamed = self.renames.iter().filter_map(|r| r.split_once(':')).find(|(from, _)| *from == name).map(|(_, to)| to);
        Some(renamed.unwrap_or(name).to_owned())
    }
}

impl KeyValueTransform for ReplaceField {
    fn apply_to(&self, target: Target, mut record: Record) -> Result<Option<Record>> {
        let (value, schema) = operating(&mut record, target);
        if value.is_null() {
            return Ok(Some(record));
        }
        let fields: Vec<(String, Value)> =
            named_fields(value, "ReplaceField")?.into_iter().filter_map(|(n, v)| Some((self.kept_name(&n)?, v))).collect();
        match schema {
            None => *value = string_map(fields),
            Some(old) => {
                let old = require_struct_schema(old, "ReplaceField")?;
                let new_schema = struct_like(old, old.fields.iter().filter_map(|f| Some((self.kept_name(&f.name)?, f.schema.clone()))));
                *value = build_struct(new_schema.clone(), fields)?;
                *schema = Some(new_schema);
            }
        }
        Ok(Some(record))
    }

    fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        for rename in &self.renames {
            if !rename.split_once(':').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()) {
                errors.push("renames", format!("invalid rename \"{rename}\": expected old:new"));
            }
        }
        errors.into_result(())
    }
}

/// Replaces fields with a type-appropriate zero (`""`, `0`, `false`, empty list or map) or with
/// `replacement`. Kafka's `MaskField$Key` / `$Value`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "MaskField", key_value)]
pub struct MaskField {
    /// Fields to mask.
    pub fields: Vec<String>,
    /// Replacement text, converted to each field's type.
    #[serde(default)]
    pub replacement: Option<String>,
}

impl MaskField {
    fn mask(&self, field: &str, value: &Value) -> Result<Value> {
        let bad = |t: &str| {
            data(format!(
                "MaskField: cannot use replacement \"{}\" for {t} field \"{field}\"",
                self.replacement.as_deref().unwrap_or_default()
            ))
        };
        let Some(replacement) = self.replacement.as_deref() else {
            return Ok(match value {
                Value::Null => Value::Null,
                Value::Bool(_) => Value::Bool(false),
                Value::Int8(_) => Value::Int8(0),
                Value::Int16(_) => Value::Int16(0),
                Value::Int32(_) => Value::Int32(0),
                Value::Int64(_) => Value::Int64(0),
                Value::Float32(_) => Value::Float32(0.0),
                Value::Float64(_) => Value::Float64(0.0),
                Value::String(_) => Value::String(String::new()),
                Value::Bytes(_) => Value::Bytes(Vec::new()),
                Value::Array(_) => Value::Array(Vec::new()),
                Value::Map(_) => Value::Map(Default::default()),
                Value::Struct(_) => return Err(data(format!("MaskField: cannot mask struct field \"{field}\""))),
            });
        };
        Ok(match value {
            Value::Null => Value::Null,
            Value::String(_) => Value::String(replacement.to_owned()),
            Value::Bool(_) => Value::Bool(replacement.parse().map_err(|_| bad("boolean"))?),
            Value::Int8(_) => Value::Int8(replacement.parse().map_err(|_| bad("int8"))?),
            Value::Int16(_) => Value::Int16(replacement.parse().map_err(|_| bad("int16"))?),
            Value::Int32(_) => Value::Int32(replacement.parse().map_err(|_| bad("int32"))?),
            Value::Int64(_) => Value::Int64(replacement.parse().map_err(|_| bad("int64"))?),
            Value::Float32(_) => Value::Float32(replacement.parse().map_err(|_| bad("float32"))?),
            Value::Float64(_) => Value::Float64(replacement.parse().map_err(|_| bad("float64"))?),
            other => return Err(bad(other.type_name())),
        })
    }
}

impl KeyValueTransform for MaskField {
    fn apply_to(&self, target: Target, mut record: Record) -> Result<Option<Record>> {
        let (value, schema) = operating(&mut record, target);
        if value.is_null() {
            return Ok(Some(record));
        }
        let mut fields = named_fields(value, "MaskField")?;
        for (name, field_value) in &mut fields {
            if self.fields.contains(name) {
                *field_value = self.mask(name, field_value)?;
            }
        }
        *value = match schema {
            None => string_map(fields),
            Some(s) => build_struct(require_struct_schema(s, "MaskField")?.clone(), fields)?,
        };
        Ok(Some(record))
    }

    fn validate(&self) -> Result<(), ConfigErrors> {
        if self.fields.is_empty() {
            return Err(crate::config::ConfigError::new("fields", "list at least one field to mask").into());
        }
        Ok(())
    }
}

/// Replaces the key with a struct or map of some value fields. Kafka's `ValueToKey`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "ValueToKey")]
pub struct ValueToKey {
    /// Value fields that make up the new key.
    pub fields: Vec<String>,
}

impl crate::transform::Transform for ValueToKey {
    fn apply(&self, mut record: Record) -> Result<Option<Record>> {
        if record.value.is_null() {
            return Ok(Some(record));
        }
        let pick = |name: &String| (name.clone(), record.value.field(name).cloned().unwrap_or(Value::Null));
        match &record.value_schema {
            None => {
                record.key = string_map(self.fields.iter().map(pick));
                record.key_schema = None;
            }
            Some(schema) => {
                let schema = require_struct_schema(schema, "ValueToKey")?;
                let mut field_schemas = Vec::new();
                for name in &self.fields {
                    let field = schema.field_named(name).ok_or_else(|| data(format!("ValueToKey: the value has no field \"{name}\"")))?;
                    field_schemas.push((name.clone(), field.schema.clone()));
                }
                let key_schema = struct_like(&Schema::structure(), field_schemas);
                record.key = build_struct(key_schema.clone(), self.fields.iter().map(pick))?;
                record.key_schema = Some(key_schema);
            }
        }
        Ok(Some(record))
    }

    fn validate(&self) -> Result<(), ConfigErrors> {
        if self.fields.is_empty() {
            return Err(crate::config::ConfigError::new("fields", "list at least one field").into());
        }
        Ok(())
    }
}

/// How `ExtractField` reads `field`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum FieldSyntax {
    /// The field name as written.
    #[default]
    V1,
    /// A dotted path into nested structs or maps.
    V2,
}

/// Replaces the key or value with one of its fields. Kafka's `ExtractField$Key` / `$Value`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "ExtractField", key_value)]
pub struct ExtractField {
    /// Field to extract.
    pub field: String,
    /// `V1`: `field` is a name; `V2`: a dotted path.
    #[serde(default)]
    pub field_syntax_version: FieldSyntax,
}

impl KeyValueTransform for ExtractField {
    fn apply_to(&self, target: Target, mut record: Record) -> Result<Option<Record>> {
        let path: Vec<&str> = match self.field_syntax_version {
            FieldSyntax::V1 => vec![self.field.as_str()],
            FieldSyntax::V2 => self.field.split('.').collect(),
        };
        let (value, schema) = operating(&mut record, target);
        if value.is_null() {
            return Ok(Some(record));
        }
        let mut current_value = value.clone();
        let mut current_schema = schema.clone();
        for step in path {
            if let Some(s) = &current_schema {
                let s = require_struct_schema(s, "ExtractField")?;
                let field = s.field_named(step).ok_or_else(|| data(format!("ExtractField: unknown field \"{step}\"")))?;
                current_schema = Some(field.schema.clone());
            } else if !matches!(current_value, Value::Map(_) | Value::Null) {
                return Err(data(format!("ExtractField needs a map, found {}", current_value.type_name())));
            }
            current_value = current_value.field(step).cloned().unwrap_or(Value::Null);
        }
        *value = current_value;
        *schema = current_schema;
        Ok(Some(record))
    }
}

/// Wraps the key or value in a struct or map with one field. Kafka's `HoistField$Key` / `$Value`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "HoistField", key_value)]
pub struct HoistField {
    /// Name of the single field.
    pub field: String,
}

impl KeyValueTransform for HoistField {
    fn apply_to(&self, target: Target, mut record: Record) -> Result<Option<Record>> {
        let (value, schema) = operating(&mut record, target);
        let inner = std::mem::take(value);
        match schema.take() {
            None => *value = string_map([(self.field.clone(), inner)]),
            Some(inner_schema) => {
                let wrapper = Schema::of(SchemaType::Struct).field(self.field.clone(), inner_schema);
                *value = build_struct(wrapper.clone(), [(self.field.clone(), inner)])?;
                *schema = Some(wrapper);
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

    fn user_schema() -> Schema {
        Schema::structure().field("id", Schema::int64()).field("email", Schema::string().optional())
    }

    fn user() -> Value {
        Value::Struct(Struct::new(user_schema()).with("id", 7i64).unwrap().with("email", "a@b.c").unwrap())
    }

    fn with_schema(value: Value, schema: Schema) -> Record {
        Record { value, value_schema: Some(schema), ..Record::new("users", Value::Null) }
    }

    #[test]
    fn insert_field_adds_metadata_to_maps_and_structs() {
        let config =
            json!({"type": "InsertField$Value", "topic.field": "t!", "static.field": "origin", "static.value": "db1", "offset.field": "o"});
        let mut record = Record::new("users", map([("id", Value::Int64(1))]));
        record.queue_offset = Some(9);
        let out = apply(&config, record).unwrap();
        assert_eq!(out.value, map([("id", Value::Int64(1)), ("t", "users".into()), ("origin", "db1".into()), ("o", Value::Int64(9))]));

        let out = apply(&config, with_schema(user(), user_schema())).unwrap();
        let schema = out.value_schema.unwrap();
        assert!(!schema.field_named("t").unwrap().schema.optional);
        assert_eq!(out.value.field("t"), Some(&Value::from("users")));
        assert_eq!(out.value.field("o"), Some(&Value::Null));
    }

    #[test]
    fn replace_field_includes_excludes_and_renames() {
        let out =
            apply(&json!({"type": "ReplaceField$Value", "exclude": "email", "renames": "id:user_id"}), with_schema(user(), user_schema()))
                .unwrap();
        let schema = out.value_schema.unwrap();
        assert_eq!(schema.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["user_id"]);
        assert_eq!(out.value.field("user_id"), Some(&Value::Int64(7)));

        let out =
            apply(&json!({"type": "ReplaceField$Value", "include": "b"}), Record::new("t", map([("a", 1i64.into()), ("b", 2i64.into())])))
                .unwrap();
        assert_eq!(out.value, map([("b", Value::Int64(2))]));
    }

    #[test]
    fn replace_field_rejects_bad_renames_with_the_key() {
        let errors = crate::transform::testing::build(&json!({"type": "ReplaceField$Value", "renames": "nocolon"})).err().unwrap();
        assert_eq!(errors.iter().next().unwrap().key, "transforms.t.renames");
    }

    #[test]
    fn mask_field_zeroes_or_replaces() {
        let out = apply(&json!({"type": "MaskField$Value", "fields": "id,email"}), with_schema(user(), user_schema())).unwrap();
        assert_eq!((out.value.field("id"), out.value.field("email")), (Some(&Value::Int64(0)), Some(&Value::from(""))));
        let out =
            apply(&json!({"type": "MaskField$Value", "fields": "id", "replacement": "-1"}), with_schema(user(), user_schema())).unwrap();
        assert_eq!(out.value.field("id"), Some(&Value::Int64(-1)));
        let err =
            apply(&json!({"type": "MaskField$Value", "fields": "id", "replacement": "x"}), with_schema(user(), user_schema())).unwrap_err();
        assert!(err.to_string().contains("cannot use replacement"), "{err}");
    }

    #[test]
    fn value_to_key_builds_a_key_struct() {
        let out = apply(&json!({"type": "ValueToKey", "fields": "id"}), with_schema(user(), user_schema())).unwrap();
        assert_eq!(out.key.field("id"), Some(&Value::Int64(7)));
        assert_eq!(out.key_schema.unwrap().fields.len(), 1);
        assert!(apply(&json!({"type": "ValueToKey", "fields": "nope"}), with_schema(user(), user_schema())).is_err());
    }

    #[test]
    fn extract_field_and_hoist_field_are_inverse() {
        let hoisted = apply(&json!({"type": "HoistField$Value", "field": "line"}), Record::new("t", "hello")).unwrap();
        assert_eq!(hoisted.value, map([("line", "hello".into())]));
        let extracted = apply(&json!({"type": "ExtractField$Value", "field": "line"}), hoisted).unwrap();
        assert_eq!(extracted.value, Value::from("hello"));

        let typed = apply(&json!({"type": "ExtractField$Value", "field": "id"}), with_schema(user(), user_schema())).unwrap();
        assert_eq!((typed.value, typed.value_schema), (Value::Int64(7), Some(Schema::int64())));

        let nested = Record::new("t", map([("a", map([("b", Value::Int64(3))]))]));
        let out = apply(&json!({"type": "ExtractField$Value", "field": "a.b", "field.syntax.version": "V2"}), nested).unwrap();
        assert_eq!(out.value, Value::Int64(3));
    }

    #[test]
    fn key_variants_work_on_the_key() {
        let record = Record { key: Value::from("k1"), ..Record::new("t", "v") };
        let out = apply(&json!({"type": "HoistField$Key", "field": "id"}), record).unwrap();
        assert_eq!((out.key, out.value), (map([("id", "k1".into())]), Value::from("v")));
    }
}
