//! Cast: changes the type of fields or of the whole key or value.

use base64::Engine;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::{ConfigError, ConfigErrors};
use crate::data::{Schema, SchemaType, Value};
use crate::error::Result;
use crate::record::Record;
use crate::transform::fields::{build_struct, data, named_fields, operating, require_struct_schema, string_map, struct_like};
use crate::transform::{KeyValueTransform, Target};

/// Casts fields (`spec=id:int32,price:float64`) or the whole key or value (`spec=string`) to
/// int8, int16, int32, int64, float32, float64, boolean or string. Kafka's `Cast$Key` / `$Value`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "Cast", key_value)]
pub struct Cast {
    /// `field:type` pairs, or a single type for the whole value.
    pub spec: Vec<String>,
}

const CASTABLE: &[SchemaType] = &[
    SchemaType::Int8,
    SchemaType::Int16,
    SchemaType::Int32,
    SchemaType::Int64,
    SchemaType::Float32,
    SchemaType::Float64,
    SchemaType::Boolean,
    SchemaType::String,
];

enum Spec {
    Whole(SchemaType),
    Fields(Vec<(String, SchemaType)>),
}

fn cast_type(name: &str) -> Option<SchemaType> {
    SchemaType::from_kafka_name(name.trim()).filter(|t| CASTABLE.contains(t))
}

impl Cast {
    /// The `spec` key, read; a part it cannot read is an error naming the key.
    fn parsed(&self) -> std::result::Result<Spec, ConfigError> {
        let refused = |what: String| ConfigError::new("spec", what);
        if let [single] = self.spec.as_slice()
            && !single.contains(':')
        {
            return cast_type(single).map(Spec::Whole).ok_or_else(|| refused(format!("\"{single}\" is not a type Cast supports")));
        }
        self.spec
            .iter()
            .map(|entry| {
                let (field, kind) = entry.split_once(':').ok_or_else(|| refused(format!("\"{entry}\" is not field:type")))?;
                let kind = cast_type(kind).ok_or_else(|| refused(format!("\"{kind}\" is not a type Cast supports")))?;
                Ok((field.trim().to_owned(), kind))
            })
            .collect::<std::result::Result<_, _>>()
            .map(Spec::Fields)
    }
}

/// Casts one value.
pub(crate) fn cast_value(value: &Value, to: SchemaType) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let fail = || data(format!("Cast: cannot cast {} {value} to {to}", value.type_name()));
    let as_f64 = || -> Result<f64> {
        match value {
            Value::Bool(b) => Ok(f64::from(u8::from(*b))),
            Value::String(s) => s.trim().parse().map_err(|_| fail()),
            v => v.as_f64().ok_or_else(fail),
        }
    };
    let as_i64 = || -> Result<i64> {
        match value {
            Value::String(s) => s.trim().parse::<i64>().or_else(|_| s.trim().parse::<f64>().map(|f| f as i64)).map_err(|_| fail()),
            Value::Float32(_) | Value::Float64(_) => Ok(as_f64()? as i64),
            Value::Bool(b) => Ok(i64::from(*b)),
            v => v.as_i64().ok_or_else(fail),
        }
    };
    Ok(match to {
        SchemaType::Int8 => Value::Int8(i8::try_from(as_i64()?).map_err(|_| fail())?),
        SchemaType::Int16 => Value::Int16(i16::try_from(as_i64()?).map_err(|_| fail())?),
        SchemaType::Int32 => Value::Int32(i32::try_from(as_i64()?).map_err(|_| fail())?),
        SchemaType::Int64 => Value::Int64(as_i64()?),
        SchemaType::Float32 => Value::Float32(as_f64()? as f32),
        SchemaType::Float64 => Value::Float64(as_f64()?),
        SchemaType::Boolean => match value {
            Value::String(s) => Value::Bool(s.trim().parse().map_err(|_| fail())?),
            Value::Bool(b) => Value::Bool(*b),
            _ => Value::Bool(as_f64()? != 0.0),
        },
        SchemaType::String => match value {
            Value::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Value::Array(_) | Value::Map(_) | Value::Struct(_) => return Err(fail()),
            v => Value::String(v.to_string()),
        },
        _ => return Err(fail()),
    })
}

fn retyped(schema: &Schema, to: SchemaType) -> Schema {
    let mut out = Schema::of(to);
    out.optional = schema.optional;
    out.doc = schema.doc.clone();
    out
}

impl KeyValueTransform for Cast {
    fn apply_to(&self, target: Target, mut record: Record) -> Result<Option<Record>> {
        let spec = self.parsed().map_err(|e| data(e.message))?;
        let (value, schema) = operating(&mut record, target);
        match spec {
            Spec::Whole(to) => {
                *value = cast_value(value, to)?;
                if let Some(s) = schema.as_mut() {
                    *s = retyped(s, to);
                }
            }
            Spec::Fields(casts) => {
                if value.is_null() {
                    return Ok(Some(record));
                }
                let target_of = |name: &str| casts.iter().find(|(f, _)| f == name).map(|(_, t)| *t);
                let fields = named_fields(value, "Cast")?
                    .into_iter()
                    .map(|(name, v)| match target_of(&name) {
                        Some(to) => cast_value(&v, to).map(|v| (name, v)),
                        None => Ok((name, v)),
                    })
                    .collect::<Result<Vec<_>>>()?;
                match schema {
                    None => *value = string_map(fields),
                    Some(s) => {
                        let old = require_struct_schema(s, "Cast")?;
                        let new_schema = struct_like(
                            old,
                            old.fields.iter().map(|f| {
                                (f.name.clone(), target_of(&f.name).map_or_else(|| f.schema.clone(), |to| retyped(&f.schema, to)))
                            }),
                        );
                        *value = build_struct(new_schema.clone(), fields)?;
                        *schema = Some(new_schema);
                    }
                }
            }
        }
        Ok(Some(record))
    }

    fn validate(&self) -> Result<(), ConfigErrors> {
        if self.spec.is_empty() {
            return Err(ConfigError::new("spec", "give field:type pairs or a single type").into());
        }
        self.parsed().map(drop).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use crate::data::{Schema, Struct, Value};
    use crate::record::Record;
    use crate::transform::testing::{apply, build, map};
    use serde_json::json;

    #[test]
    fn cast_fields_of_maps_and_structs() {
        let record = Record::new("t", map([("a", "12".into()), ("b", Value::Int64(1)), ("c", Value::Float64(2.7))]));
        let out = apply(&json!({"type": "Cast$Value", "spec": "a:int32,b:boolean,c:int64"}), record).unwrap();
        assert_eq!(out.value, map([("a", Value::Int32(12)), ("b", Value::Bool(true)), ("c", Value::Int64(2))]));

        let schema = Schema::structure().field("price", Schema::string());
        let row = Struct::new(schema.clone()).with("price", "9.5").unwrap();
        let record = Record { value: Value::Struct(row), value_schema: Some(schema), ..Record::default() };
        let out = apply(&json!({"type": "Cast$Value", "spec": "price:float64"}), record).unwrap();
        assert_eq!(out.value.field("price"), Some(&Value::Float64(9.5)));
        assert_eq!(out.value_schema.unwrap().fields[0].schema, Schema::float64());
    }

    #[test]
    fn cast_whole_value_and_reject_bad_specs() {
        let out = apply(&json!({"type": "Cast$Key", "spec": "string"}), Record { key: Value::Int32(5), ..Record::default() }).unwrap();
        assert_eq!(out.key, Value::from("5"));
        assert!(apply(&json!({"type": "Cast$Value", "spec": "int8"}), Record::new("t", 300i32)).is_err());
        let errors = build(&json!({"type": "Cast$Value", "spec": "a:decimal"})).err().unwrap();
        assert_eq!(errors.iter().next().unwrap().key, "transforms.t.spec");
    }
}
