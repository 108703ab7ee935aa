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

/// The fields every Debezium `source` block starts with (`version`, `connector`, `name`,
/// `ts_ms`, `snapshot`, `db`); a database's own fields follow them.
#[derive(Clone, Copy, Debug)]
pub struct SourceHead<'a> {
    /// The connector, as Debezium names it (`mysql`, `postgresql`).
    pub connector: &'static str,
    /// The logical server name: `topic.prefix`.
    pub name: &'a str,
    /// When the change happened in the database (the snapshot's read time in a snapshot).
    pub ts_ms: i64,
    /// `true`, `last` or `false`: whether (and as what) the record came from a snapshot.
    pub snapshot: &'a str,
    /// The database.
    pub db: &'a str,
}

impl SourceHead<'_> {
    /// A `source` block's schema named `name`: the head's fields, then `own`.
    ///
    /// ```
    /// use connect_cdc::SourceHead;
    /// use connect_sdk::data::Schema;
    ///
    /// let schema = SourceHead::schema("io.debezium.connector.postgresql.Source", [("lsn", Schema::int64().optional())]);
    /// let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
    /// assert_eq!(names, ["version", "connector", "name", "ts_ms", "snapshot", "db", "lsn"]);
    /// ```
    pub fn schema(name: &str, own: impl IntoIterator<Item = (&'static str, Schema)>) -> Schema {
        let head = Schema::structure()
            .named(name)
            .field("version", Schema::string())
            .field("connector", Schema::string())
            .field("name", Schema::string())
            .field("ts_ms", Schema::int64())
            .field("snapshot", Schema::string().optional())
            .field("db", Schema::string());
        own.into_iter().fold(head, |schema, (field, field_schema)| schema.field(field, field_schema))
    }

    /// The `source` block of one record: the head's values, then `own` (in the order of the
    /// fields given to [`schema`](SourceHead::schema)).
    pub fn block(self, schema: &Arc<Schema>, own: impl IntoIterator<Item = Value>) -> Result<Struct> {
        let mut values = vec![
            Value::from(env!("CARGO_PKG_VERSION")),
            Value::from(self.connector),
            Value::from(self.name),
            Value::Int64(self.ts_ms),
            Value::from(self.snapshot),
            Value::from(self.db),
        ];
        values.extend(own);
        Ok(Struct::from_values(schema.clone(), values)?)
    }
}
