//! PostgreSQL's types in Kafka Connect's terms. Both the snapshot and the replication stream
//! carry values as PostgreSQL's text output (the sessions pin `DateStyle`, `TimeZone` and
//! `extra_float_digits`), so one parser per type reads both, and a row reads the same whichever
//! way it arrived.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use connect_sdk::data::logical::{self, Decimal};
use connect_sdk::data::logical::{MICRO_TIME, MICRO_TIMESTAMP};
use connect_sdk::data::{Schema, Value};

/// Debezium's schema name of a JSON document held as text.
pub const JSON: &str = "io.debezium.data.Json";
/// Debezium's schema name of a UUID held as text.
pub const UUID: &str = "io.debezium.data.Uuid";

/// Session settings that make PostgreSQL's text output parseable the same way everywhere.
pub const SESSION_OPTIONS: &str = "-c datestyle=ISO,MDY -c timezone=UTC -c extra_float_digits=3 -c intervalstyle=postgres";

/// What one value of a column is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// `boolean`.
    Bool,
    /// `smallint`.
    Int16,
    /// `integer`.
    Int32,
    /// `bigint`, `oid`.
    Int64,
    /// `real`.
    Float32,
    /// `double precision`.
    Float64,
    /// `numeric(p, s)`: Kafka's decimal with scale `s`.
    Decimal(i32),
    /// Text, and every type without a closer mapping (its text form: `interval`, `inet`,
    /// enums, an unconstrained `numeric`...).
    Text,
    /// Text with a Debezium semantic name (`json`, `jsonb`, `uuid`).
    Named(&'static str),
    /// `bytea`.
    Bytes,
    /// `date`: days since the epoch.
    Date,
    /// `time`: µs since midnight.
    Time,
    /// `timestamp`: µs since the epoch.
    Timestamp,
    /// `timestamptz`: µs since the epoch (UTC).
    TimestampTz,
}

/// What a column holds: one value or a one-dimensional array of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgKind {
    /// One value.
    Scalar(Scalar),
    /// An array of values (`int4[]`, `text[]`...).
    Array(Scalar),
}

/// The scale of a `numeric(p, s)` type modifier; `None` when unconstrained.
fn numeric_scale(modifier: i32) -> Option<i32> {
    (modifier >= 4).then_some((modifier - 4) & 0xffff)
}

fn scalar_of(oid: u32, modifier: i32) -> Option<Scalar> {
    Some(match oid {
        16 => Scalar::Bool,
        21 => Scalar::Int16,
        23 => Scalar::Int32,
        20 | 26 => Scalar::Int64,
        700 => Scalar::Float32,
        701 => Scalar::Float64,
        1700 => numeric_scale(modifier).map_or(Scalar::Text, Scalar::Decimal),
        17 => Scalar::Bytes,
        1082 => Scalar::Date,
        1083 => Scalar::Time,
        1114 => Scalar::Timestamp,
        1184 => Scalar::TimestampTz,
        114 | 3802 => Scalar::Named(JSON),
        2950 => Scalar::Named(UUID),
        25 | 1043 | 1042 | 19 => Scalar::Text,
        _ => return None,
    })
}

/// The element type of the array types this maps.
fn element_of(array_oid: u32) -> Option<u32> {
    Some(match array_oid {
        1000 => 16,
        1005 => 21,
        1007 => 23,
        1016 => 20,
        1028 => 26,
        1021 => 700,
        1022 => 701,
        1231 => 1700,
        1001 => 17,
        1182 => 1082,
        1183 => 1083,
        1115 => 1114,
        1185 => 1184,
        199 => 114,
        3807 => 3802,
        2951 => 2950,
        1009 => 25,
        1015 => 1043,
        1014 => 1042,
        1003 => 19,
        _ => return None,
    })
}

impl PgKind {
    /// The kind of a column of type `oid` with type modifier `modifier` (`pg_attribute.atttypmod`).
    pub fn of(oid: u32, modifier: i32) -> PgKind {
        if let Some(scalar) = scalar_of(oid, modifier) {
            return PgKind::Scalar(scalar);
        }
        match element_of(oid).and_then(|element| scalar_of(element, modifier)) {
            Some(scalar) => PgKind::Array(scalar),
            None => PgKind::Scalar(Scalar::Text),
        }
    }

    /// The (optional) schema of the column's values.
    pub fn schema(self) -> Schema {
        match self {
            PgKind::Scalar(scalar) => scalar.schema().optional(),
            PgKind::Array(scalar) => Schema::array(scalar.schema().optional()).optional(),
        }
    }

    /// The value of the column's text form.
    pub fn parse(self, text: &str) -> Result<Value, UnreadableValue> {
        match self {
            PgKind::Scalar(scalar) => scalar.parse(text),
            PgKind::Array(scalar) => {
                let elements = split_array(text)?;
                let values =
                    elements.into_iter().map(|e| e.map_or(Ok(Value::Null), |text| scalar.parse(&text))).collect::<Result<_, _>>()?;
                Ok(Value::Array(values))
            }
        }
    }
}

impl Scalar {
    fn schema(self) -> Schema {
        match self {
            Scalar::Bool => Schema::boolean(),
            Scalar::Int16 => Schema::int16(),
            Scalar::Int32 => Schema::int32(),
            Scalar::Int64 => Schema::int64(),
            Scalar::Float32 => Schema::float32(),
            Scalar::Float64 => Schema::float64(),
            Scalar::Decimal(scale) => logical::decimal_schema(scale),
            Scalar::Text => Schema::string(),
            Scalar::Named(name) => Schema::string().named(name).with_version(1),
            Scalar::Bytes => Schema::bytes(),
            Scalar::Date => logical::date_schema(),
            Scalar::Time => Schema::int64().named(MICRO_TIME).with_version(1),
            Scalar::Timestamp | Scalar::TimestampTz => Schema::int64().named(MICRO_TIMESTAMP).with_version(1),
        }
    }

    fn parse(self, text: &str) -> Result<Value, UnreadableValue> {
        let bad = |what: &str| UnreadableValue::new(text, format!("is not {what}"));
        Ok(match self {
            Scalar::Bool => match text {
                "t" | "true" => Value::Bool(true),
                "f" | "false" => Value::Bool(false),
                _ => return Err(bad("a boolean")),
            },
            Scalar::Int16 => Value::Int16(text.parse().map_err(|_| bad("a smallint"))?),
            Scalar::Int32 => Value::Int32(text.parse().map_err(|_| bad("an integer"))?),
            Scalar::Int64 => Value::Int64(text.parse().map_err(|_| bad("a bigint"))?),
            Scalar::Float32 => Value::Float32(text.parse().map_err(|_| bad("a real"))?),
            Scalar::Float64 => Value::Float64(text.parse().map_err(|_| bad("a double"))?),
            Scalar::Decimal(scale) => {
                Decimal::parse(text, scale).map_err(|e| UnreadableValue::new(text, format!("is not a decimal: {e}")))?.to_value()
            }
            Scalar::Text | Scalar::Named(_) => Value::String(text.to_owned()),
            Scalar::Bytes => Value::Bytes(hex_bytes(text).ok_or_else(|| bad("bytea in hex output"))?),
            Scalar::Date => {
                let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad("a date between 0001 and 9999"))?;
                Value::Int32((day - NaiveDate::default()).num_days() as i32)
            }
            Scalar::Time if text == "24:00:00" => Value::Int64(86_400_000_000),
            Scalar::Time => {
                let time = NaiveTime::parse_from_str(text, "%H:%M:%S%.f").map_err(|_| bad("a time"))?;
                Value::Int64((time - NaiveTime::MIN).num_microseconds().ok_or_else(|| bad("a time"))?)
            }
            Scalar::Timestamp => {
                let at =
                    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map_err(|_| bad("a timestamp between 0001 and 9999"))?;
                Value::Int64(at.and_utc().timestamp_micros())
            }
            Scalar::TimestampTz => {
                let at =
                    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z").map_err(|_| bad("a timestamptz between 0001 and 9999"))?;
                Value::Int64(at.timestamp_micros())
            }
        })
    }
}

/// A column's text form that is not a value of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` {problem}")]
pub struct UnreadableValue {
    /// The text as the server sent it.
    pub text: String,
    /// What is wrong with it (`is not a boolean`).
    pub problem: String,
}

impl UnreadableValue {
    fn new(text: &str, problem: String) -> UnreadableValue {
        UnreadableValue { text: text.to_owned(), problem }
    }
}

/// `\x00ff` → `[0, 255]`.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?.as_bytes();
    if hex.len() % 2 != 0 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    hex.chunks(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

/// The elements of a one-dimensional array literal (`{1,NULL,"a b","q\"uote"}`); `None` for SQL NULL.
fn split_array(text: &str) -> Result<Vec<Option<String>>, UnreadableValue> {
    let bad = |problem: String| UnreadableValue::new(text, problem);
    // A literal with explicit bounds (`[0:1]={a,b}`) starts with them.
    let body = text.split_once('=').filter(|(bounds, _)| bounds.starts_with('[')).map_or(text, |(_, body)| body);
    let inner = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')).ok_or_else(|| bad("is not an array literal".to_owned()))?;
    let mut elements = Vec::new();
    if inner.is_empty() {
        return Ok(elements);
    }
    let mut chars = inner.chars().peekable();
    loop {
        let element = match chars.peek() {
            Some('{') => return Err(bad("is a multi-dimensional array: not supported".to_owned())),
            Some('"') => {
                chars.next();
                let mut out = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => out.extend(chars.next()),
                        Some('"') => break,
                        Some(c) => out.push(c),
                        None => return Err(bad("has an unterminated quoted element".to_owned())),
                    }
                }
                Some(out)
            }
            _ => {
                let mut out = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    out.push(c);
                    chars.next();
                }
                let out = out.trim().to_owned();
                (out != "NULL").then_some(out)
            }
        };
        elements.push(element);
        match chars.next() {
            Some(',') => continue,
            None => return Ok(elements),
            Some(c) => return Err(bad(format!("has an unexpected `{c}` after an element"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_parse_from_their_text_form() {
        let parse = |oid, modifier, text| PgKind::of(oid, modifier).parse(text).unwrap();
        assert_eq!(parse(16, -1, "t"), Value::Bool(true));
        assert_eq!(parse(21, -1, "-7"), Value::Int16(-7));
        assert_eq!(parse(20, -1, "9223372036854775807"), Value::Int64(i64::MAX));
        assert_eq!(parse(701, -1, "0.30000000000000004"), Value::Float64(0.30000000000000004));
        assert_eq!(parse(701, -1, "-Infinity"), Value::Float64(f64::NEG_INFINITY));
        // numeric(10, 3): the modifier is (precision << 16 | scale) + 4.
        assert_eq!(parse(1700, (10 << 16 | 3) + 4, "-12.345"), Decimal::new(-12_345, 3).to_value());
        assert_eq!(parse(1700, -1, "1.5e-7"), Value::from("1.5e-7"), "an unconstrained numeric stays exact as text");
        assert_eq!(parse(17, -1, "\\x00ff"), Value::Bytes(vec![0, 255]));
        assert_eq!(parse(1082, -1, "2024-05-01"), Value::Int32(19_844));
        assert_eq!(parse(1083, -1, "12:00:00.123456"), Value::Int64(43_200_123_456));
        assert_eq!(parse(1114, -1, "2024-05-01 12:00:00.123456"), Value::Int64(1_714_564_800_123_456));
        assert_eq!(parse(1184, -1, "2024-05-01 14:00:00.5+02"), Value::Int64(1_714_564_800_500_000));
        assert_eq!(parse(1184, -1, "2024-05-01 12:00:00+05:30"), Value::Int64(1_714_545_000_000_000));
        assert_eq!(parse(3802, -1, "{\"k\": 1}"), Value::from("{\"k\": 1}"));
        assert_eq!(PgKind::of(2950, -1).schema().name.as_deref(), Some(UUID));
        assert_eq!(parse(1186, -1, "1 day 02:00:00"), Value::from("1 day 02:00:00"), "other types as text");
        assert!(PgKind::of(23, -1).parse("x").unwrap_err().to_string().contains("`x`"));
        assert!(PgKind::of(1082, -1).parse("infinity").is_err());
    }

    #[test]
    fn arrays_parse_with_quotes_escapes_and_nulls() {
        assert_eq!(PgKind::of(1007, -1).parse("{1,NULL,-3}").unwrap(), Value::Array(vec![Value::Int32(1), Value::Null, Value::Int32(-3)]));
        assert_eq!(
            PgKind::of(1009, -1).parse(r#"{plain,"a b","q\"uote","NULL",""}"#).unwrap(),
            Value::Array(vec![Value::from("plain"), Value::from("a b"), Value::from("q\"uote"), Value::from("NULL"), Value::from("")])
        );
        assert_eq!(PgKind::of(1009, -1).parse("{}").unwrap(), Value::Array(vec![]));
        assert_eq!(PgKind::of(1007, -1).parse("[0:1]={5,6}").unwrap(), Value::Array(vec![Value::Int32(5), Value::Int32(6)]));
        assert!(PgKind::of(1007, -1).parse("{{1,2},{3,4}}").unwrap_err().to_string().contains("multi-dimensional"));
        let schema = PgKind::of(1016, -1).schema();
        assert_eq!(schema.value_schema().map(|s| s.kind), Some(connect_sdk::data::SchemaType::Int64));
    }
}
