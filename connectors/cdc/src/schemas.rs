//! A captured table's record schemas: its row, its key and Debezium's envelope around them.

use std::sync::Arc;

use connect_sdk::Result;
use connect_sdk::data::{Schema, Struct, Value};

/// The schemas of one captured table's change records.
#[derive(Debug)]
pub struct ChangeSchemas {
    /// Schema of a row image.
    pub row: Arc<Schema>,
    /// Schema of the key (the primary key's columns), if the table has one.
    pub key: Option<Arc<Schema>>,
    /// Schema of the change envelope.
    pub envelope: Arc<Schema>,
}

impl ChangeSchemas {
    /// The schemas of a table named `name` (`<topic.prefix>.<database or schema>.<table>`)
    /// whose columns are `(name, schema, part of the key)` in table order; `source` is the
    /// schema of the envelope's `source` block, the database's own.
    ///
    /// ```
    /// use connect_cdc::ChangeSchemas;
    /// use connect_sdk::data::Schema;
    ///
    /// let columns = [("id".to_owned(), Schema::int64().optional(), true), ("name".to_owned(), Schema::string().optional(), false)];
    /// let schemas = ChangeSchemas::new("shop.public.users", columns, Schema::structure().field("db", Schema::string()));
    /// assert_eq!(schemas.envelope.name.as_deref(), Some("shop.public.users.Envelope"));
    /// assert!(!schemas.key.as_ref().unwrap().fields[0].schema.optional, "a key's columns are required");
    /// ```
    pub fn new(name: &str, columns: impl IntoIterator<Item = (String, Schema, bool)>, source: Schema) -> ChangeSchemas {
        let mut row = Schema::structure().named(format!("{name}.Value"));
        let mut key = Schema::structure().named(format!("{name}.Key"));
        let mut keyed = false;
        for (column, schema, in_key) in columns {
            if in_key {
                let mut required = schema.clone();
                required.optional = false;
                key = key.field(column.clone(), required);
                keyed = true;
            }
            row = row.field(column, schema);
        }
        let envelope = Schema::structure()
            .named(format!("{name}.Envelope"))
            .field("before", row.clone().optional())
            .field("after", row.clone().optional())
            .field("source", source)
            .field("op", Schema::string())
            .field("ts_ms", Schema::int64().optional());
        ChangeSchemas { row: Arc::new(row), key: keyed.then(|| Arc::new(key)), envelope: Arc::new(envelope) }
    }

    /// A row image of these values, in column order.
    pub fn row(&self, values: Vec<Value>) -> Result<Struct> {
        Ok(Struct::from_values(self.row.clone(), values)?)
    }

    /// The key of a row image, when the table has one.
    pub fn key_of(&self, row: &Struct) -> Result<Option<Struct>> {
        let Some(key) = &self.key else { return Ok(None) };
        let values = key.fields.iter().map(|f| row.get(&f.name).cloned().unwrap_or(Value::Null)).collect();
        Ok(Some(Struct::from_values(key.clone(), values)?))
    }
}
