//! [`Schema`]: the optional type description carried beside a [`Value`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::{DataError, Value};

/// The type of a [`Schema`], as in Kafka Connect (`Schema.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchemaType {
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `float` (32-bit).
    Float32,
    /// `double` (64-bit).
    Float64,
    /// `boolean`.
    Boolean,
    /// `string`.
    String,
    /// `bytes`.
    Bytes,
    /// `array` of one item schema.
    Array,
    /// `map` from a key schema to a value schema.
    Map,
    /// `struct` with named fields.
    Struct,
}

impl SchemaType {
    /// The name Kafka Connect's JSON converter uses for this type (`int32`, `float`, `double`...).
    pub fn kafka_name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }

    /// Parses a Kafka type name; `float32`/`float64` are accepted beside `float`/`double`.
    pub fn from_kafka_name(name: &str) -> Option<SchemaType> {
        Some(match name {
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" | "float32" => SchemaType::Float32,
            "double" | "float64" => SchemaType::Float64,
            "boolean" => SchemaType::Boolean,
            "string" => SchemaType::String,
            "bytes" => SchemaType::Bytes,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            _ => return None,
        })
    }

    /// True for every type but array, map and struct.
    pub fn is_primitive(self) -> bool {
        !matches!(self, SchemaType::Array | SchemaType::Map | SchemaType::Struct)
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kafka_name())
    }
}

/// One named field of a struct schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Field schema.
    pub schema: Schema,
}

/// Describes the shape of a [`Value`]: its type, whether it may be null, a default, a name,
/// a version, documentation, parameters, and for containers the schemas of their parts.
///
/// Built with constructors and `with_*` methods:
///
/// ```
/// use connect_sdk::data::{Schema, SchemaType};
/// let user = Schema::structure()
///     .named("com.example.User")
///     .field("id", Schema::int64())
///     .field("email", Schema::string().optional());
/// assert_eq!(user.kind, SchemaType::Struct);
/// assert_eq!(user.field_named("email").unwrap().schema.optional, true);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// What values it describes: a primitive, an array, a map or a struct.
    pub kind: SchemaType,
    /// Whether `null` is allowed.
    pub optional: bool,
    /// Value used when a struct field is left null.
    pub default: Option<Box<Value>>,
    /// Fully qualified name; logical types are recognised by it.
    pub name: Option<String>,
    /// Schema version.
    pub version: Option<i32>,
    /// What the schema's values mean, for people.
    pub doc: Option<String>,
    /// Free-form parameters (for example a decimal's `scale`).
    pub parameters: BTreeMap<String, String>,
    /// Fields of a struct, in order.
    pub fields: Vec<Field>,
    /// Key schema of a map.
    pub key_schema: Option<Arc<Schema>>,
    /// Value schema of a map, item schema of an array.
    pub value_schema: Option<Arc<Schema>>,
}

macro_rules! primitive_constructors {
    ($($fn_name:ident => $kind:ident),* $(,)?) => {
        $(#[doc = concat!("A required `", stringify!($fn_name), "` schema.")]
        pub fn $fn_name() -> Schema {
            Schema::of(SchemaType::$kind)
        })*
    };
}

impl Schema {
    /// A required schema of the given type with nothing else set.
    pub fn of(kind: SchemaType) -> Schema {
        Schema {
            kind,
            optional: false,
            default: None,
            name: None,
            version: None,
            doc: None,
            parameters: BTreeMap::new(),
            fields: Vec::new(),
            key_schema: None,
            value_schema: None,
        }
    }

    primitive_constructors! {
        int8 => Int8, int16 => Int16, int32 => Int32, int64 => Int64, float32 => Float32,
        float64 => Float64, boolean => Boolean, string => String, bytes => Bytes,
    }

    /// A struct schema with no fields yet; add them with [`Schema::field`].
    pub fn structure() -> Schema {
        Schema::of(SchemaType::Struct)
    }

    /// An array whose items follow `items`.
    pub fn array(items: Schema) -> Schema {
        Schema { value_schema: Some(Arc::new(items)), ..Schema::of(SchemaType::Array) }
    }

    /// A map from `keys` to `values`.
    pub fn map(keys: Schema, values: Schema) -> Schema {
        Schema { key_schema: Some(Arc::new(keys)), value_schema: Some(Arc::new(values)), ..Schema::of(SchemaType::Map) }
    }

    /// Marks the schema optional (null allowed).
    pub fn optional(mut self) -> Schema {
        self.optional = true;
        self
    }

    /// Sets the default value.
    pub fn with_default(mut self, value: impl Into<Value>) -> Schema {
        self.default = Some(Box::new(value.into()));
        self
    }

    /// Sets the name.
    pub fn named(mut self, name: impl Into<String>) -> Schema {
        self.name = Some(name.into());
        self
    }

    /// Sets the version.
    pub fn with_version(mut self, version: i32) -> Schema {
        self.version = Some(version);
        self
    }

    /// Sets the documentation.
    pub fn with_doc(mut self, doc: impl Into<String>) -> Schema {
        self.doc = Some(doc.into());
        self
    }

    /// Adds a parameter.
    pub fn with_parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Schema {
        self.parameters.insert(key.into(), value.into());
        self
    }

    /// Appends a field to a struct schema.
    pub fn field(mut self, name: impl Into<String>, schema: Schema) -> Schema {
        self.fields.push(Field { name: name.into(), schema });
        self
    }

    /// The field called `name` of a struct schema.
    pub fn field_named(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Position of the field called `name`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Item schema of an array, value schema of a map.
    pub fn value_schema(&self) -> Option<&Schema> {
        self.value_schema.as_deref()
    }

    /// Key schema of a map.
    pub fn key_schema(&self) -> Option<&Schema> {
        self.key_schema.as_deref()
    }

    /// Checks that `value` conforms to this schema, recursively.
    ///
    /// ```
    /// use connect_sdk::data::{Schema, Value};
    /// assert!(Schema::int32().validate(&Value::Int32(1)).is_ok());
    /// let err = Schema::int32().validate(&Value::from("x")).unwrap_err();
    /// assert!(err.to_string().contains("expected int32"));
    /// ```
    pub fn validate(&self, value: &Value) -> Result<(), DataError> {
        self.validate_at("", value)
    }

    fn validate_at(&self, path: &str, value: &Value) -> Result<(), DataError> {
        let mismatch = || DataError::new(format!("{}expected {}, got {}", at(path), self.describe(), value.type_name()));
        match (self.kind, value) {
            (_, Value::Null) if self.optional || self.default.is_some() => Ok(()),
            (_, Value::Null) => Err(DataError::new(format!("{}null is not allowed by a required {} schema", at(path), self.describe()))),
            (SchemaType::Int8, Value::Int8(_))
            | (SchemaType::Int16, Value::Int16(_))
            | (SchemaType::Int32, Value::Int32(_))
            | (SchemaType::Int64, Value::Int64(_))
            | (SchemaType::Float32, Value::Float32(_))
            | (SchemaType::Float64, Value::Float64(_))
            | (SchemaType::Boolean, Value::Bool(_))
            | (SchemaType::String, Value::String(_))
            | (SchemaType::Bytes, Value::Bytes(_)) => Ok(()),
            (SchemaType::Array, Value::Array(items)) => {
                let Some(item_schema) = self.value_schema() else { return Ok(()) };
                items.iter().enumerate().try_for_each(|(i, item)| item_schema.validate_at(&format!("{path}[{i}]"), item))
            }
            (SchemaType::Map, Value::Map(entries)) => entries.iter().try_for_each(|(k, v)| {
                let entry = format!("{path}[{k}]");
                self.key_schema().map_or(Ok(()), |s| s.validate_at(&entry, k))?;
                self.value_schema().map_or(Ok(()), |s| s.validate_at(&entry, v))
            }),
            (SchemaType::Struct, Value::Struct(s)) => {
                if s.schema().fields != self.fields {
                    return Err(DataError::new(format!("{}struct schema does not match the expected struct schema", at(path))));
                }
                s.validate()
            }
            _ => Err(mismatch()),
        }
    }

    fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{} ({name})", self.kind),
            None => self.kind.to_string(),
        }
    }
}

fn at(path: &str) -> String {
    if path.is_empty() { String::new() } else { format!("{path}: ") }
}
