//! The typed [`Value`] every record key, value and header holds.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use super::Struct;

/// A typed value, as in Kafka Connect's data API.
///
/// Logical types (decimal, date, time, timestamp) are carried in their underlying
/// representation (bytes, `Int32`, `Int32`, `Int64`) and given meaning by a
/// [`Schema`](super::Schema); see [`logical`](super::logical) for helpers.
///
/// `Value` is totally ordered (floats by [`f64::total_cmp`]) so it can key a [`Value::Map`].
///
/// ```
/// use connect_sdk::data::Value;
/// let v = Value::from("hello");
/// assert_eq!(v.as_str(), Some("hello"));
/// assert_eq!(Value::from(42i64).as_i64(), Some(42));
/// ```
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// No value (a tombstone when it is a record's value).
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An 8-bit signed integer.
    Int8(i8),
    /// A 16-bit signed integer.
    Int16(i16),
    /// A 32-bit signed integer (also `date` and `time` logical types).
    Int32(i32),
    /// A 64-bit signed integer (also the `timestamp` logical type).
    Int64(i64),
    /// A 32-bit float.
    Float32(f32),
    /// A 64-bit float.
    Float64(f64),
    /// A UTF-8 string.
    String(String),
    /// Raw bytes (also the `decimal` logical type).
    Bytes(Vec<u8>),
    /// An ordered list of values.
    Array(Vec<Value>),
    /// A map from values to values.
    Map(BTreeMap<Value, Value>),
    /// A struct checked against its schema.
    Struct(Struct),
}

impl Value {
    /// Name of this value's type, as used in error messages and schemas (`int32`, `struct`...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int8(_) => "int8",
            Value::Int16(_) => "int16",
            Value::Int32(_) => "int32",
            Value::Int64(_) => "int64",
            Value::Float32(_) => "float32",
            Value::Float64(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Struct(_) => "struct",
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string, if this is a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Any integer widened to `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int8(v) => Some(v.into()),
            Value::Int16(v) => Some(v.into()),
            Value::Int32(v) => Some(v.into()),
            Value::Int64(v) => Some(v),
            _ => None,
        }
    }

    /// Any number widened to `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float32(v) => Some(v.into()),
            Value::Float64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// The boolean, if this is a [`Value::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The struct, if this is a [`Value::Struct`].
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The map, if this is a [`Value::Map`].
    pub fn as_map(&self) -> Option<&BTreeMap<Value, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks a field up by name in a struct or in a map with string keys.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(s) => s.get(name),
            Value::Map(m) => m.get(&Value::String(name.to_owned())),
            _ => None,
        }
    }

    /// Looks a nested field up by its path of names (see [`field`](Value::field)).
    ///
    /// ```
    /// use connect_sdk::data::{Schema, Struct, Value};
    /// # fn main() -> Result<(), connect_sdk::data::DataError> {
    /// let source = Struct::new(Schema::structure().field("db", Schema::string())).with("db", "test")?;
    /// let envelope = Struct::new(Schema::structure().field("source", source.schema().clone())).with("source", source)?;
    /// let envelope = Value::Struct(envelope);
    /// assert_eq!(envelope.at(&["source", "db"]), Some(&Value::from("test")));
    /// assert_eq!(envelope.at(&["source", "table"]), None);
    /// # Ok(()) }
    /// ```
    pub fn at(&self, path: &[&str]) -> Option<&Value> {
        path.iter().try_fold(self, |value, name| value.field(name))
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int8(_) => 2,
            Value::Int16(_) => 3,
            Value::Int32(_) => 4,
            Value::Int64(_) => 5,
            Value::Float32(_) => 6,
            Value::Float64(_) => 7,
            Value::String(_) => 8,
            Value::Bytes(_) => 9,
            Value::Array(_) => 10,
            Value::Map(_) => 11,
            Value::Struct(_) => 12,
        }
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int8(a), Int8(b)) => a.cmp(b),
            (Int16(a), Int16(b)) => a.cmp(b),
            (Int32(a), Int32(b)) => a.cmp(b),
            (Int64(a), Int64(b)) => a.cmp(b),
            (Float32(a), Float32(b)) => a.total_cmp(b),
            (Float64(a), Float64(b)) => a.total_cmp(b),
            (String(a), String(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Array(a), Array(b)) => a.cmp(b),
            (Map(a), Map(b)) => a.cmp(b),
            (Struct(a), Struct(b)) => a.values().cmp(b.values()),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Struct(a), Value::Struct(b)) => a == b,
            _ => self.cmp(other) == Ordering::Equal,
        }
    }
}

impl Eq for Value {}

impl fmt::Display for Value {
    /// Formats scalars plainly and containers as JSON-like text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Int8(v) => write!(f, "{v}"),
            Value::Int16(v) => write!(f, "{v}"),
            Value::Int32(v) => write!(f, "{v}"),
            Value::Int64(v) => write!(f, "{v}"),
            Value::Float32(v) => write!(f, "{v}"),
            Value::Float64(v) => write!(f, "{v}"),
            Value::String(v) => f.write_str(v),
            Value::Bytes(v) => f.write_str(&String::from_utf8_lossy(v)),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
            Value::Struct(s) => write!(f, "{s}"),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v.into())
            }
        })*
    };
}

value_from! {
    bool => Bool, i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64, f32 => Float32,
    f64 => Float64, String => String, &str => String, Vec<u8> => Bytes, Vec<Value> => Array,
    BTreeMap<Value, Value> => Map, Struct => Struct,
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_totally_ordered_so_they_can_key_maps() {
        let mut map = BTreeMap::new();
        map.insert(Value::Float64(f64::NAN), Value::from(1i32));
        map.insert(Value::Float64(1.5), Value::from(2i32));
        assert_eq!(map.get(&Value::Float64(f64::NAN)), Some(&Value::Int32(1)));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn field_reads_maps_with_string_keys() {
        let map = BTreeMap::from([(Value::from("id"), Value::from(7i64))]);
        assert_eq!(Value::Map(map).field("id"), Some(&Value::Int64(7)));
    }
}
