//! [`Struct`]: a record-like value whose fields are checked against a struct [`Schema`].

use std::fmt;
use std::sync::Arc;

use super::{DataError, Schema, SchemaType, Value};

/// A struct value: one value per field of its struct schema, checked on every `put`.
///
/// ```
/// use connect_sdk::data::{Schema, Struct, Value};
/// let schema = Schema::structure().field("id", Schema::int64()).field("name", Schema::string().optional());
/// let mut row = Struct::new(schema);
/// row.put("id", 7i64).unwrap();
/// assert_eq!(row.get("id"), Some(&Value::Int64(7)));
/// assert!(row.put("id", "seven").is_err());   // wrong type
/// assert!(row.put("age", 3i32).is_err());     // no such field
/// assert!(row.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Struct {
    schema: Arc<Schema>,
    values: Vec<Value>,
}

impl Struct {
    /// An empty struct of `schema` (every field null). Panics never; a non-struct schema
    /// simply has no fields, and [`Struct::validate`] reports it.
    pub fn new(schema: impl Into<Arc<Schema>>) -> Struct {
        let schema = schema.into();
        let values = vec![Value::Null; schema.fields.len()];
        Struct { schema, values }
    }

    /// A struct of `schema` holding `values` (one per field, in schema order), checked once:
    /// the fast way to build a row.
    ///
    /// ```
    /// use connect_sdk::data::{Schema, Struct, Value};
    /// let schema = Schema::structure().field("id", Schema::int64()).field("name", Schema::string().optional());
    /// let row = Struct::from_values(schema.clone(), vec![Value::Int64(1), Value::Null]).unwrap();
    /// assert_eq!(row.get("id"), Some(&Value::Int64(1)));
    /// assert!(Struct::from_values(schema, vec![Value::Int64(1)]).is_err());   // a value per field
    /// ```
    pub fn from_values(schema: impl Into<Arc<Schema>>, values: Vec<Value>) -> Result<Struct, DataError> {
        let schema = schema.into();
        if values.len() != schema.fields.len() {
            return Err(DataError::new(format!("{} values for a struct of {} fields", values.len(), schema.fields.len())));
        }
        let row = Struct { schema, values };
        row.validate()?;
        Ok(row)
    }

    /// The struct's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The struct's schema, shared.
    pub fn schema_arc(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Field values in schema order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Sets a field, checking the value against the field's schema.
    pub fn put(&mut self, field: &str, value: impl Into<Value>) -> Result<&mut Struct, DataError> {
        let index = self.schema.field_index(field).ok_or_else(|| DataError::new(format!("{field} is not a valid field name")))?;
        let value = value.into();
        self.schema.fields[index].schema.validate(&value).map_err(|e| e.in_field(field))?;
        self.values[index] = value;
        Ok(self)
    }

    /// Builder form of [`Struct::put`].
    pub fn with(mut self, field: &str, value: impl Into<Value>) -> Result<Struct, DataError> {
        self.put(field, value)?;
        Ok(self)
    }

    /// A field's value; a null field with a schema default yields the default.
    pub fn get(&self, field: &str) -> Option<&Value> {
        let index = self.schema.field_index(field)?;
        match (&self.values[index], &self.schema.fields[index].schema.default) {
            (Value::Null, Some(default)) => Some(default),
            (value, _) => Some(value),
        }
    }

    /// Checks the schema is a struct schema and every required field is set.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.schema.kind != SchemaType::Struct {
            return Err(DataError::new(format!("a Struct needs a struct schema, not {}", self.schema.kind)));
        }
        self.schema
            .fields
            .iter()
            .zip(&self.values)
            .try_for_each(|(field, value)| field.schema.validate(value).map_err(|e| e.in_field(&field.name)))
    }

    /// Iterates over `(field name, value)` pairs in schema order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.schema.fields.iter().map(|f| f.name.as_str()).zip(&self.values)
    }
}

impl fmt::Display for Struct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Struct{")?;
        for (i, (name, value)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={value}")?;
        }
        f.write_str("}")
    }
}
