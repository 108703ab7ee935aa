//! The values and column kinds both drivers map to, and their Kafka Connect form.

use connect_sdk::data::logical::{self, Decimal};
use connect_sdk::data::{DataError, Schema, SchemaType, Value};

pub use connect_sdk::data::logical::{DEBEZIUM_DATE, DEBEZIUM_TIMESTAMP, MICRO_TIME, MICRO_TIMESTAMP};

/// A value read from or bound to a SQL statement, independent of the driver.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer that fits 64 bits.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// An exact number.
    Decimal(Decimal),
    /// Text.
    Text(String),
    /// Binary data.
    Bytes(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 1970-01-01T00:00:00 UTC.
    Timestamp(i64),
}

impl SqlValue {
    /// The text, if this is text.
    pub fn into_text(self) -> Option<String> {
        match self {
            SqlValue::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The value as an integer, when it is one (an incrementing column).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Int(i) => Some(*i),
            SqlValue::Decimal(d) if d.scale == 0 => i64::try_from(d.unscaled).ok(),
            _ => None,
        }
    }

    /// The value as a timestamp in µs, when it is a timestamp or a date.
    pub fn as_micros(&self) -> Option<i64> {
        match self {
            SqlValue::Timestamp(micros) => Some(*micros),
            SqlValue::Date(days) => Some(i64::from(*days) * 86_400_000_000),
            _ => None,
        }
    }

    /// The SQL value of a record field with its (optional) schema. Logical types (decimal,
    /// date, time, timestamp) are recognised by the schema's name.
    pub fn from_value(value: &Value, schema: Option<&Schema>) -> Result<SqlValue, DataError> {
        if let Some(name) = schema.and_then(|s| s.name.as_deref())
            && !value.is_null()
        {
            match (name, value) {
                (MICRO_TIMESTAMP, Value::Int64(micros)) => return Ok(SqlValue::Timestamp(*micros)),
                (MICRO_TIME, Value::Int64(micros)) => return Ok(SqlValue::Time(*micros)),
                (DEBEZIUM_TIMESTAMP, Value::Int64(ms)) => return Ok(SqlValue::Timestamp(ms * 1000)),
                (DEBEZIUM_DATE, Value::Int32(days)) => return Ok(SqlValue::Date(*days)),
                _ => {}
            }
        }
        if let Some(schema) = schema
            && let Some(name) = logical::logical_name(schema)
            && !value.is_null()
        {
            return match (name, value) {
                (logical::DECIMAL, _) => Ok(SqlValue::Decimal(Decimal::from_value(schema, value)?)),
                (logical::DATE, Value::Int32(days)) => Ok(SqlValue::Date(*days)),
                (logical::TIME, Value::Int32(ms)) => Ok(SqlValue::Time(i64::from(*ms) * 1000)),
                (logical::TIMESTAMP, Value::Int64(ms)) => Ok(SqlValue::Timestamp(ms * 1000)),
                (name, other) => Err(DataError::new(format!("a {name} cannot hold a {}", other.type_name()))),
            };
        }
        Ok(match value {
            Value::Null => SqlValue::Null,
            Value::Bool(b) => SqlValue::Bool(*b),
            Value::Int8(i) => SqlValue::Int(i64::from(*i)),
            Value::Int16(i) => SqlValue::Int(i64::from(*i)),
            Value::Int32(i) => SqlValue::Int(i64::from(*i)),
            Value::Int64(i) => SqlValue::Int(*i),
            Value::Float32(f) => SqlValue::Float(f64::from(*f)),
            Value::Float64(f) => SqlValue::Float(*f),
            Value::String(s) => SqlValue::Text(s.clone()),
            Value::Bytes(b) => SqlValue::Bytes(b.clone()),
            Value::Array(_) | Value::Map(_) | Value::Struct(_) => {
                return Err(DataError::new(format!("a {} cannot be written to a column; flatten it first", value.type_name())));
            }
        })
    }
}

/// What a column holds, in Kafka Connect's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// `boolean`.
    Boolean,
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `float32`.
    Float32,
    /// `float64`.
    Float64,
    /// The decimal logical type with this scale.
    Decimal(i32),
    /// `string`.
    Text,
    /// `bytes`.
    Bytes,
    /// The date logical type.
    Date,
    /// The time logical type.
    Time,
    /// The timestamp logical type.
    Timestamp,
    /// A timestamp in µs ([`MICRO_TIMESTAMP`]).
    MicroTimestamp,
    /// A time of day in µs ([`MICRO_TIME`]).
    MicroTime,
}

impl ColumnKind {
    /// The (optional) Kafka Connect schema of the column.
    pub fn schema(&self) -> Schema {
        let schema = match self {
            ColumnKind::Boolean => Schema::boolean(),
            ColumnKind::Int8 => Schema::int8(),
            ColumnKind::Int16 => Schema::int16(),
            ColumnKind::Int32 => Schema::int32(),
            ColumnKind::Int64 => Schema::int64(),
            ColumnKind::Float32 => Schema::float32(),
            ColumnKind::Float64 => Schema::float64(),
            ColumnKind::Decimal(scale) => logical::decimal_schema(*scale),
            ColumnKind::Text => Schema::string(),
            ColumnKind::Bytes => Schema::bytes(),
            ColumnKind::Date => logical::date_schema(),
            ColumnKind::Time => logical::time_schema(),
            ColumnKind::Timestamp => logical::timestamp_schema(),
            ColumnKind::MicroTimestamp => Schema::int64().named(MICRO_TIMESTAMP).with_version(1),
            ColumnKind::MicroTime => Schema::int64().named(MICRO_TIME).with_version(1),
        };
        schema.optional()
    }

    /// The column kind that stores values of a record field's schema (for `auto.create`).
    pub fn of_schema(schema: &Schema) -> Result<ColumnKind, DataError> {
        match schema.name.as_deref() {
            Some(MICRO_TIMESTAMP) => return Ok(ColumnKind::MicroTimestamp),
            Some(MICRO_TIME) => return Ok(ColumnKind::MicroTime),
            Some(DEBEZIUM_TIMESTAMP) => return Ok(ColumnKind::Timestamp),
            Some(DEBEZIUM_DATE) => return Ok(ColumnKind::Date),
            _ => {}
        }
        if let Some(name) = logical::logical_name(schema) {
            return Ok(match name {
                logical::DECIMAL => ColumnKind::Decimal(logical::decimal_scale(schema)?),
                logical::DATE => ColumnKind::Date,
                logical::TIME => ColumnKind::Time,
                _ => ColumnKind::Timestamp,
            });
        }
        Ok(match schema.kind {
            SchemaType::Boolean => ColumnKind::Boolean,
            SchemaType::Int8 => ColumnKind::Int8,
            SchemaType::Int16 => ColumnKind::Int16,
            SchemaType::Int32 => ColumnKind::Int32,
            SchemaType::Int64 => ColumnKind::Int64,
            SchemaType::Float32 => ColumnKind::Float32,
            SchemaType::Float64 => ColumnKind::Float64,
            SchemaType::String => ColumnKind::Text,
            SchemaType::Bytes => ColumnKind::Bytes,
            other => return Err(DataError::new(format!("a {other} field has no column type; flatten it first"))),
        })
    }

    /// The Kafka Connect value of a SQL value read from a column of this kind.
    pub fn value(&self, value: SqlValue) -> Result<Value, DataError> {
        let out_of_range = |v: &dyn std::fmt::Debug| DataError::new(format!("{v:?} does not fit a {self:?} column"));
        Ok(match (self, value) {
            (_, SqlValue::Null) => Value::Null,
            (ColumnKind::Boolean, SqlValue::Bool(b)) => Value::Bool(b),
            (ColumnKind::Boolean, SqlValue::Int(i)) => Value::Bool(i != 0),
            (ColumnKind::Int8, SqlValue::Int(i)) => Value::Int8(i.try_into().map_err(|_| out_of_range(&i))?),
            (ColumnKind::Int16, SqlValue::Int(i)) => Value::Int16(i.try_into().map_err(|_| out_of_range(&i))?),
            (ColumnKind::Int32, SqlValue::Int(i)) => Value::Int32(i.try_into().map_err(|_| out_of_range(&i))?),
            (ColumnKind::Int64, SqlValue::Int(i)) => Value::Int64(i),
            (ColumnKind::Float32, SqlValue::Float(f)) => Value::Float32(f as f32),
            (ColumnKind::Float64, SqlValue::Float(f)) => Value::Float64(f),
            (ColumnKind::Decimal(scale), SqlValue::Decimal(d)) => rescale(d, *scale)?.to_value(),
            (ColumnKind::Decimal(scale), SqlValue::Int(i)) => Decimal::new(i128::from(i) * 10i128.pow(*scale as u32), *scale).to_value(),
            (ColumnKind::Text, SqlValue::Text(s)) => Value::String(s),
            (ColumnKind::Text, SqlValue::Decimal(d)) => Value::String(d.to_string()),
            (ColumnKind::Bytes, SqlValue::Bytes(b)) => Value::Bytes(b),
            (ColumnKind::Date, SqlValue::Date(days)) => Value::Int32(days),
            (ColumnKind::Time, SqlValue::Time(micros)) => Value::Int32((micros / 1000) as i32),
            (ColumnKind::Timestamp, SqlValue::Timestamp(micros)) => Value::Int64(micros.div_euclid(1000)),
            (ColumnKind::MicroTimestamp, SqlValue::Timestamp(micros)) | (ColumnKind::MicroTime, SqlValue::Time(micros)) => {
                Value::Int64(micros)
            }
            (kind, other) => return Err(DataError::new(format!("a {kind:?} column returned {other:?}"))),
        })
    }
}

/// `d` with exactly `scale` digits after the point (rounding half away from zero when it had more).
fn rescale(d: Decimal, scale: i32) -> Result<Decimal, DataError> {
    let shift = scale - d.scale;
    let overflow = || DataError::new(format!("{d} does not fit a decimal of scale {scale}"));
    if shift >= 0 {
        let factor = 10i128.checked_pow(shift as u32).ok_or_else(overflow)?;
        return Ok(Decimal::new(d.unscaled.checked_mul(factor).ok_or_else(overflow)?, scale));
    }
    let factor = 10i128.checked_pow((-shift) as u32).ok_or_else(overflow)?;
    let (quotient, remainder) = (d.unscaled / factor, d.unscaled % factor);
    let rounded = if remainder.abs() * 2 >= factor { quotient + d.unscaled.signum() } else { quotient };
    Ok(Decimal::new(rounded, scale))
}

/// A result column: its name and kind.
#[derive(Clone, Debug, PartialEq)]
pub struct SqlColumn {
    /// The column's name (or alias).
    pub name: String,
    /// What it holds.
    pub kind: ColumnKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_rescaled_to_the_column_scale() {
        assert_eq!(rescale(Decimal::new(15, 1), 3).unwrap(), Decimal::new(1500, 3));
        assert_eq!(rescale(Decimal::new(-1255, 3), 2).unwrap(), Decimal::new(-126, 2));
        assert_eq!(rescale(Decimal::new(1254, 3), 2).unwrap(), Decimal::new(125, 2));
    }

    #[test]
    fn logical_fields_become_typed_sql_values() {
        let ts = SqlValue::from_value(&Value::Int64(1_700_000_000_123), Some(&logical::timestamp_schema())).unwrap();
        assert_eq!(ts, SqlValue::Timestamp(1_700_000_000_123_000));
        let d = SqlValue::from_value(&Decimal::new(-42, 1).to_value(), Some(&logical::decimal_schema(1))).unwrap();
        assert_eq!(d, SqlValue::Decimal(Decimal::new(-42, 1)));
        assert!(SqlValue::from_value(&Value::Array(vec![]), None).is_err());
        assert_eq!(ColumnKind::Timestamp.value(SqlValue::Timestamp(-1)).unwrap(), Value::Int64(-1));
        let micros = ColumnKind::MicroTimestamp.schema();
        assert_eq!(ColumnKind::of_schema(&micros).unwrap(), ColumnKind::MicroTimestamp);
        assert_eq!(SqlValue::from_value(&Value::Int64(7), Some(&micros)).unwrap(), SqlValue::Timestamp(7));
    }
}
