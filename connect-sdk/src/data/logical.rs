//! Logical types: decimal, date, time and timestamp, with Kafka Connect's names and encodings.
//!
//! A logical value is stored in its underlying [`Value`] (bytes, `Int32`, `Int32`, `Int64`)
//! and recognised by the schema name, so converters and sinks that know Kafka Connect read
//! them the same way.
//!
//! ```
//! use connect_sdk::data::logical::{self, Decimal};
//! let price = Decimal::new(12345, 2);                    // 123.45
//! let schema = logical::decimal_schema(2);
//! let value = price.to_value();
//! assert!(schema.validate(&value).is_ok());
//! assert_eq!(Decimal::from_value(&schema, &value).unwrap(), price);
//! assert_eq!(price.to_string(), "123.45");
//! ```

use std::fmt;

use super::{DataError, Schema, Value};

/// Schema name of the decimal logical type (bytes: big-endian two's complement unscaled value).
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
/// Schema name of the date logical type (int32: days since the Unix epoch).
pub const DATE: &str = "org.apache.kafka.connect.data.Date";
/// Schema name of the time logical type (int32: milliseconds since midnight).
pub const TIME: &str = "org.apache.kafka.connect.data.Time";
/// Schema name of the timestamp logical type (int64: milliseconds since the Unix epoch).
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
/// Parameter of a decimal schema holding its scale.
pub const SCALE: &str = "scale";
/// Debezium's schema name of a timestamp in µs since the epoch (`int64`), for columns with
/// more than millisecond precision.
pub const MICRO_TIMESTAMP: &str = "io.debezium.time.MicroTimestamp";
/// Debezium's schema name of a time of day in µs (`int64`).
pub const MICRO_TIME: &str = "io.debezium.time.MicroTime";
/// Debezium's schema name of a timestamp in ms (`int64`), as Kafka's.
pub const DEBEZIUM_TIMESTAMP: &str = "io.debezium.time.Timestamp";
/// Debezium's schema name of a date in days since the epoch (`int32`), as Kafka's.
pub const DEBEZIUM_DATE: &str = "io.debezium.time.Date";

/// A decimal schema with the given scale.
pub fn decimal_schema(scale: i32) -> Schema {
    Schema::bytes().named(DECIMAL).with_version(1).with_parameter(SCALE, scale.to_string())
}

/// The date schema.
pub fn date_schema() -> Schema {
    Schema::int32().named(DATE).with_version(1)
}

/// The time schema.
pub fn time_schema() -> Schema {
    Schema::int32().named(TIME).with_version(1)
}

/// The timestamp schema.
pub fn timestamp_schema() -> Schema {
    Schema::int64().named(TIMESTAMP).with_version(1)
}

/// Which logical type a schema carries, if any.
pub fn logical_name(schema: &Schema) -> Option<&str> {
    schema.name.as_deref().filter(|n| [DECIMAL, DATE, TIME, TIMESTAMP].contains(n))
}

/// A decimal number: `unscaled × 10^-scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    /// The unscaled integer.
    pub unscaled: i128,
    /// Digits after the decimal point.
    pub scale: i32,
}

impl Decimal {
    /// `unscaled × 10^-scale`.
    pub fn new(unscaled: i128, scale: i32) -> Decimal {
        Decimal { unscaled, scale }
    }

    /// Encodes the unscaled value as minimal big-endian two's complement bytes.
    pub fn to_value(self) -> Value {
        let bytes = self.unscaled.to_be_bytes();
        let negative = self.unscaled < 0;
        let pad = if negative { 0xff } else { 0x00 };
        let mut start = 0;
        while start < bytes.len() - 1 && bytes[start] == pad && ((bytes[start + 1] & 0x80 != 0) == negative) {
            start += 1;
        }
        Value::Bytes(bytes[start..].to_vec())
    }

    /// Decodes a decimal value of a decimal `schema`.
    pub fn from_value(schema: &Schema, value: &Value) -> Result<Decimal, DataError> {
        let scale = decimal_scale(schema)?;
        let Value::Bytes(bytes) = value else {
            return Err(DataError::new(format!("a decimal is stored as bytes, got {}", value.type_name())));
        };
        Decimal::from_be_bytes(bytes, scale)
    }

    /// Decodes big-endian two's complement bytes.
    pub fn from_be_bytes(bytes: &[u8], scale: i32) -> Result<Decimal, DataError> {
        if bytes.is_empty() || bytes.len() > 16 {
            return Err(DataError::new(format!("a decimal needs 1 to 16 bytes, got {}", bytes.len())));
        }
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
        let mut buf = [fill; 16];
        buf[16 - bytes.len()..].copy_from_slice(bytes);
        Ok(Decimal::new(i128::from_be_bytes(buf), scale))
    }

    /// Parses `-12.340` style text into a decimal of the given scale.
    pub fn parse(text: &str, scale: i32) -> Result<Decimal, DataError> {
        let bad = || DataError::new(format!("`{text}` is not a decimal number"));
        let (int_part, frac_part) = text.split_once('.').unwrap_or((text, ""));
        let digits = frac_part.len() as i32;
        if digits > scale {
            return Err(DataError::new(format!("`{text}` has more than {scale} digits after the point")));
        }
        let joined = format!("{int_part}{frac_part}{}", "0".repeat((scale - digits) as usize));
        joined.parse::<i128>().map(|u| Decimal::new(u, scale)).map_err(|_| bad())
    }

    /// The value as an `f64` (lossy).
    pub fn to_f64(self) -> f64 {
        self.unscaled as f64 / 10f64.powi(self.scale)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale <= 0 {
            return write!(f, "{}{}", self.unscaled, "0".repeat((-self.scale) as usize));
        }
        let sign = if self.unscaled < 0 { "-" } else { "" };
        let digits = self.unscaled.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int_part, frac_part) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int_part}.{frac_part}")
    }
}

/// The scale parameter of a decimal schema.
pub fn decimal_scale(schema: &Schema) -> Result<i32, DataError> {
    schema
        .parameters
        .get(SCALE)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| DataError::new("a decimal schema needs an integer `scale` parameter"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_trip_through_minimal_bytes() {
        for unscaled in [0i128, 1, -1, 127, 128, -128, -129, 255, 256, i64::MAX as i128, i128::MIN, i128::MAX] {
            let d = Decimal::new(unscaled, 3);
            let schema = decimal_schema(3);
            assert_eq!(Decimal::from_value(&schema, &d.to_value()).unwrap(), d, "{unscaled}");
        }
        assert_eq!(Decimal::new(128, 0).to_value(), Value::Bytes(vec![0, 128]));
        assert_eq!(Decimal::new(-128, 0).to_value(), Value::Bytes(vec![128]));
    }

    #[test]
    fn decimals_parse_and_print() {
        assert_eq!(Decimal::parse("-1.5", 2).unwrap(), Decimal::new(-150, 2));
        assert_eq!(Decimal::new(-5, 2).to_string(), "-0.05");
        assert!(Decimal::parse("1.234", 2).is_err());
    }
}
