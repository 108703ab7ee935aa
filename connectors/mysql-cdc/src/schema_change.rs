//! Schema change records (Debezium's schema change topic, `<topic.prefix>`): one per DDL
//! statement that changed captured tables, with the statement and the tables' columns after it.

use std::sync::Arc;

use connect_sdk::data::{Schema, Struct};
use connect_sdk::prelude::*;

use crate::ddl::TableId;
use crate::schema::ColumnSpec;

/// What a statement did to one table (Debezium's `tableChanges[].type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeType {
    /// The table came to be.
    Create,
    /// Its columns changed.
    Alter,
    /// It is gone.
    Drop,
}

impl ChangeType {
    fn name(self) -> &'static str {
        match self {
            ChangeType::Create => "CREATE",
            ChangeType::Alter => "ALTER",
            ChangeType::Drop => "DROP",
        }
    }
}

/// The schemas of schema change records, made once per task.
pub struct SchemaChangeSchemas {
    key: Arc<Schema>,
    value: Arc<Schema>,
    change: Arc<Schema>,
    table: Arc<Schema>,
    column: Arc<Schema>,
}

impl SchemaChangeSchemas {
    /// The schemas, with `source` the schema of the envelope's source block.
    pub fn new(source: Schema) -> SchemaChangeSchemas {
        let column = Schema::structure()
            .named("io.debezium.connector.schema.Column")
            .field("name", Schema::string())
            .field("typeName", Schema::string())
            .field("typeExpression", Schema::string().optional())
            .field("position", Schema::int32())
            .field("scale", Schema::int32().optional());
        let table = Schema::structure()
            .named("io.debezium.connector.schema.Table")
            .field("primaryKeyColumnNames", Schema::array(Schema::string()).optional())
            .field("columns", Schema::array(column.clone()));
        let change = Schema::structure()
            .named("io.debezium.connector.schema.Change")
            .field("type", Schema::string())
            .field("id", Schema::string())
            .field("table", table.clone().optional());
        let value = Schema::structure()
            .named("io.debezium.connector.mysql.SchemaChangeValue")
            .field("source", source)
            .field("ts_ms", Schema::int64())
            .field("databaseName", Schema::string().optional())
            .field("ddl", Schema::string().optional())
            .field("tableChanges", Schema::array(change.clone()));
        let key = Schema::structure().named("io.debezium.connector.mysql.SchemaChangeKey").field("databaseName", Schema::string());
        SchemaChangeSchemas {
            key: Arc::new(key),
            value: Arc::new(value),
            change: Arc::new(change),
            table: Arc::new(table),
            column: Arc::new(column),
        }
    }

    /// The key and value schemas.
    pub fn key_and_value(&self) -> (Schema, Schema) {
        (Schema::clone(&self.key), Schema::clone(&self.value))
    }

    /// The key of a change in `database`.
    pub fn key(&self, database: &str) -> Result<Value> {
        Ok(Value::Struct(Struct::from_values(self.key.clone(), vec![Value::from(database)])?))
    }

    /// The value: the statement and what it did to each table (with its columns after it).
    pub fn value(
        &self,
        source: Struct,
        ts_ms: i64,
        database: &str,
        ddl: Option<&str>,
        tables: &[(ChangeType, &TableId, Option<&[ColumnSpec]>)],
    ) -> Result<Value> {
        let mut changes = Vec::with_capacity(tables.len());
        for (change, id, columns) in tables {
            let table = match columns {
                Some(columns) => Value::Struct(self.table(columns)?),
                None => Value::Null,
            };
            let values = vec![Value::from(change.name()), Value::from(id.to_string()), table];
            changes.push(Value::Struct(Struct::from_values(self.change.clone(), values)?));
        }
        let ddl = ddl.map_or(Value::Null, Value::from);
        let values = vec![Value::Struct(source), Value::Int64(ts_ms), Value::from(database), ddl, Value::Array(changes)];
        Ok(Value::Struct(Struct::from_values(self.value.clone(), values)?))
    }

    fn table(&self, columns: &[ColumnSpec]) -> Result<Struct> {
        let key: Vec<Value> = columns.iter().filter(|c| c.key).map(|c| Value::from(c.name.as_str())).collect();
        let mut described = Vec::with_capacity(columns.len());
        for (position, column) in columns.iter().enumerate() {
            let values = vec![
                Value::from(column.name.as_str()),
                Value::from(column.data_type.to_ascii_uppercase()),
                Value::from(column.column_type.as_str()),
                Value::Int32(position as i32 + 1),
                if column.scale > 0 { Value::Int32(column.scale) } else { Value::Null },
            ];
            described.push(Value::Struct(Struct::from_values(self.column.clone(), values)?));
        }
        Ok(Struct::from_values(self.table.clone(), vec![Value::Array(key), Value::Array(described)])?)
    }
}
