//! Timestamp transforms: TimestampConverter and TimestampRouter.

use schemars::JsonSchema;
use serde::Deserialize;

use super::date_format::JavaDateFormat;
use crate::config::{ConfigError, ConfigErrors};
use crate::data::{Schema, Value, logical};
use crate::error::Result;
use crate::record::Record;
use crate::transform::fields::{build_struct, data, named_fields, operating, require_struct_schema, string_map, struct_like};
use crate::transform::{KeyValueTransform, Target, Transform};

const DAY_MS: i64 = 86_400_000;

/// What `TimestampConverter` converts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum TimestampType {
    /// Text in `format`.
    #[serde(rename = "string")]
    String,
    /// A number since the epoch in `unix.precision`.
    #[serde(rename = "unix")]
    Unix,
    /// The date logical type.
    Date,
    /// The time logical type.
    Time,
    /// The timestamp logical type.
    Timestamp,
}

/// Unit of unix timestamps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnixPrecision {
    /// Seconds.
    Seconds,
    /// Milliseconds.
    #[default]
    Milliseconds,
    /// Microseconds.
    Microseconds,
    /// Nanoseconds.
    Nanoseconds,
}

impl UnixPrecision {
    fn to_millis(self, n: i64) -> i64 {
        match self {
            UnixPrecision::Seconds => n * 1000,
            UnixPrecision::Milliseconds => n,
            UnixPrecision::Microseconds => n / 1000,
            UnixPrecision::Nanoseconds => n / 1_000_000,
        }
    }

    fn of_millis(self, ms: i64) -> i64 {
        match self {
            UnixPrecision::Seconds => ms / 1000,
            UnixPrecision::Milliseconds => ms,
            UnixPrecision::Microseconds => ms * 1000,
            UnixPrecision::Nanoseconds => ms * 1_000_000,
        }
    }
}

/// Converts a timestamp field (or the whole key or value) between text, unix numbers and the
/// Date, Time and Timestamp logical types. Kafka's `TimestampConverter$Key` / `$Value`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "TimestampConverter", key_value)]
pub struct TimestampConverter {
    /// Field to convert; empty converts the whole key or value.
    #[serde(default)]
    pub field: String,
    /// `string`, `unix`, `Date`, `Time` or `Timestamp`.
    pub target_type: TimestampType,
    /// `SimpleDateFormat` pattern to read or write text.
    #[serde(default)]
    pub format: String,
    /// Unit of unix numbers: `seconds`, `milliseconds`, `microseconds`, `nanoseconds`.
    #[serde(default)]
    pub unix_precision: UnixPrecision,
}

impl TimestampConverter {
    fn date_format(&self) -> Result<Option<JavaDateFormat>> {
        if self.format.is_empty() { Ok(None) } else { JavaDateFormat::new(&self.format).map(Some).map_err(|e| data(e.to_string())) }
    }

    fn to_millis(&self, schema: Option<&Schema>, value: &Value) -> Result<i64> {
        let name = schema.and_then(|s| s.name.as_deref());
        match (name, value) {
            (Some(logical::DATE), Value::Int32(days)) => Ok(i64::from(*days) * DAY_MS),
            (Some(logical::TIME), Value::Int32(ms)) => Ok(i64::from(*ms)),
            (Some(logical::TIMESTAMP), Value::Int64(ms)) => Ok(*ms),
            (_, Value::String(text)) => {
                let format = self.date_format()?.ok_or_else(|| data("TimestampConverter needs \"format\" to read text"))?;
                format.parse(text).map_err(|e| data(e.to_string()))
            }
            (_, v) => v
                .as_i64()
                .map(|n| self.unix_precision.to_millis(n))
                .ok_or_else(|| data(format!("TimestampConverter cannot read a {}", v.type_name()))),
        }
    }

    fn convert(&self, millis: i64) -> Result<(Value, Schema)> {
        Ok(match self.target_type {
            TimestampType::String => {
                let format = self.date_format()?.ok_or_else(|| data("TimestampConverter needs \"format\" to write text"))?;
                (Value::String(format.format(millis)), Schema::string())
            }
            TimestampType::Unix => (Value::Int64(self.unix_precision.of_millis(millis)), Schema::int64()),
            TimestampType::Date => (Value::Int32(millis.div_euclid(DAY_MS) as i32), logical::date_schema()),
            TimestampType::Time => (Value::Int32(millis.rem_euclid(DAY_MS) as i32), logical::time_schema()),
            TimestampType::Timestamp => (Value::Int64(millis), logical::timestamp_schema()),
        })
    }

    fn convert_value(&self, schema: Option<&Schema>, value: &Value) -> Result<(Value, Schema)> {
        let optional = schema.is_none_or(|s| s.optional);
        let (out, mut out_schema) =
            if value.is_null() { (Value::Null, self.convert(0)?.1) } else { self.convert(self.to_millis(schema, value)?)? };
        out_schema.optional = optional;
        Ok((out, out_schema))
    }
}

impl KeyValueTransform for TimestampConverter {
    fn apply_to(&self, target: Target, mut record: Record) -> Result<Option<Record>> {
        let (value, schema) = operating(&mut record, target);
        if self.field.is_empty() {
            let (out, out_schema) = self.convert_value(schema.as_ref(), value)?;
            *value = out;
            if schema.is_some() {
                *schema = Some(out_schema);
            }
            return Ok(Some(record));
        }
        if value.is_null() {
            return Ok(Some(record));
        }
        let mut fields = named_fields(value, "TimestampConverter")?;
        match schema {
            None => {
                for (name, v) in &mut fields {
                    if *name == self.field {
                        *v = self.convert_value(None, v)?.0;
                    }
                }
                *value = string_map(fields);
            }
            Some(s) => {
                let old = require_struct_schema(s, "TimestampConverter")?;
                let field =
                    old.field_named(&self.field).ok_or_else(|| data(format!("TimestampConverter: unknown field \"{}\"", self.field)))?;
                let (_, new_field_schema) = self.convert_value(Some(&field.schema), &Value::Null)?;
                for (name, v) in &mut fields {
                    if *name == self.field {
                        *v = self.convert_value(Some(&field.schema), v)?.0;
                    }
                }
                let new_schema = struct_like(
                    old,
                    old.fields
                        .iter()
                        .map(|f| (f.name.clone(), if f.name == self.field { new_field_schema.clone() } else { f.schema.clone() })),
                );
                *value = build_struct(new_schema.clone(), fields)?;
                *schema = Some(new_schema);
            }
        }
        Ok(Some(record))
    }

    fn validate(&self) -> Result<(), ConfigErrors> {
        if let Err(e) = self.date_format() {
            return Err(ConfigError::new("format", e.to_string()).into());
        }
        if self.target_type == TimestampType::String && self.format.is_empty() {
            return Err(ConfigError::new("format", "target.type=string needs a format").into());
        }
        Ok(())
    }
}

/// Routes records to a topic built from the topic and the record timestamp
/// (`${topic}-${timestamp}`). Kafka's `TimestampRouter`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "TimestampRouter")]
pub struct TimestampRouter {
    /// Topic template with `${topic}` and `${timestamp}`.
    #[serde(default = "default_topic_format")]
    pub topic_format: String,
    /// `SimpleDateFormat` pattern of `${timestamp}`.
    #[serde(default = "default_timestamp_format")]
    pub timestamp_format: String,
}

fn default_topic_format() -> String {
    "${topic}-${timestamp}".to_owned()
}

fn default_timestamp_format() -> String {
    "yyyyMMdd".to_owned()
}

impl Transform for TimestampRouter {
    fn apply(&self, mut record: Record) -> Result<Option<Record>> {
        let millis =
            record.timestamp.ok_or_else(|| data(format!("TimestampRouter: the record on topic {} has no timestamp", record.topic)))?;
        let format = JavaDateFormat::new(&self.timestamp_format).map_err(|e| data(e.to_string()))?;
        record.topic = self.topic_format.replace("${topic}", &record.topic).replace("${timestamp}", &format.format(millis));
        Ok(Some(record))
    }

    fn validate(&self) -> Result<(), ConfigErrors> {
        JavaDateFormat::new(&self.timestamp_format).map(drop).map_err(|e| ConfigError::new("timestamp.format", e.to_string()).into())
    }
}

#[cfg(test)]
mod tests {
    use crate::data::{Schema, Struct, Value, logical};
    use crate::record::Record;
    use crate::transform::testing::{apply, build, map};
    use serde_json::json;

    #[test]
    fn converts_unix_millis_to_text_and_back() {
        let record = Record::new("t", map([("ts", Value::Int64(1_700_000_000_000))]));
        let config = json!({"type": "TimestampConverter$Value", "field": "ts", "target.type": "string", "format": "yyyy-MM-dd HH:mm:ss"});
        let out = apply(&config, record).unwrap();
        assert_eq!(out.value.field("ts"), Some(&Value::from("2023-11-14 22:13:20")));
        let back = json!({"type": "TimestampConverter$Value", "field": "ts", "target.type": "unix", "format": "yyyy-MM-dd HH:mm:ss", "unix.precision": "seconds"});
        assert_eq!(apply(&back, out).unwrap().value.field("ts"), Some(&Value::Int64(1_700_000_000)));
    }

    #[test]
    fn converts_logical_types_with_schemas() {
        let schema = Schema::structure().field("at", logical::timestamp_schema());
        let row = Struct::new(schema.clone()).with("at", Value::Int64(DAY + 5)).unwrap();
        let record = Record { value: Value::Struct(row), value_schema: Some(schema), ..Record::default() };
        let out = apply(&json!({"type": "TimestampConverter$Value", "field": "at", "target.type": "Date"}), record).unwrap();
        assert_eq!(out.value.field("at"), Some(&Value::Int32(1)));
        assert_eq!(out.value_schema.unwrap().fields[0].schema.name.as_deref(), Some(logical::DATE));
    }

    const DAY: i64 = 86_400_000;

    #[test]
    fn string_target_needs_a_format() {
        let errors = build(&json!({"type": "TimestampConverter$Value", "target.type": "string"})).err().unwrap();
        assert_eq!(errors.iter().next().unwrap().key, "transforms.t.format");
        let errors = build(&json!({"type": "TimestampConverter$Value", "target.type": "Instant"})).err().unwrap();
        assert_eq!(errors.iter().next().unwrap().key, "transforms.t.target.type", "{errors}");
    }

    #[test]
    fn timestamp_router_appends_the_day() {
        let record = Record { timestamp: Some(0), ..Record::new("logs", 1i32) };
        assert_eq!(apply(&json!({"type": "TimestampRouter"}), record).unwrap().topic, "logs-19700101");
        let custom = json!({"type": "TimestampRouter", "topic.format": "${timestamp}.${topic}", "timestamp.format": "yyyy"});
        assert_eq!(apply(&custom, Record { timestamp: Some(0), ..Record::new("logs", 1i32) }).unwrap().topic, "1970.logs");
        assert!(apply(&json!({"type": "TimestampRouter"}), Record::new("logs", 1i32)).is_err());
    }
}
