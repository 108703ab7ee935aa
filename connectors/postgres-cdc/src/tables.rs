//! What a captured table looks like: its columns, their kinds, and the key, row and envelope
//! schemas of its change records.

use connect_cdc::{ChangeSchemas, SourceHead};
use connect_sdk::data::{Schema, Struct, Value};
use connect_sdk::{Error, Result};

use crate::pgoutput::Cell;
use crate::types::PgKind;

/// One column of a captured table.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub kind: PgKind,
    /// Whether it is part of the primary key.
    pub key: bool,
}

/// A captured table: columns in order and the schemas of its records.
#[derive(Debug)]
pub struct TableSchema {
    /// The table's schema (namespace).
    pub namespace: String,
    /// The table's name.
    pub table: String,
    /// Columns in table order.
    pub columns: Vec<Column>,
    /// The row, key and envelope schemas of its records.
    pub schemas: ChangeSchemas,
    /// `REPLICA IDENTITY FULL`: an update's old image is the whole row (else at most its key).
    pub full_identity: bool,
}

/// The schema of the envelope's `source` block (Debezium's PostgreSQL source info).
pub fn source_schema() -> Schema {
    SourceHead::schema(
        "io.debezium.connector.postgresql.Source",
        [
            ("schema", Schema::string()),
            ("table", Schema::string()),
            ("txId", Schema::int64().optional()),
            ("lsn", Schema::int64().optional()),
        ],
    )
}

impl TableSchema {
    /// The schemas of `namespace.table` with these columns; records are named after `prefix`.
    pub fn new(prefix: &str, namespace: &str, table: &str, columns: Vec<Column>) -> TableSchema {
        let named = columns.iter().map(|c| (c.name.clone(), c.kind.schema(), c.key));
        let schemas = ChangeSchemas::new(&format!("{prefix}.{namespace}.{table}"), named, source_schema());
        TableSchema { namespace: namespace.to_owned(), table: table.to_owned(), columns, schemas, full_identity: false }
    }

    /// `schema.table`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.namespace, self.table)
    }

    /// A row image from its cells' text. An unchanged TOASTed value (an update that did not
    /// touch a large column) takes its value from `previous` when that has it (the old row of
    /// a `REPLICA IDENTITY FULL` table), else Debezium's placeholder for text and bytes, else null.
    pub fn image(&self, cells: Vec<Cell>, previous: Option<&Struct>) -> Result<Struct> {
        if cells.len() != self.columns.len() {
            return Err(Error::other(format!(
                "{}: a change with {} columns for a table of {}",
                self.full_name(),
                cells.len(),
                self.columns.len()
            )));
        }
        let values = cells
            .into_iter()
            .zip(&self.columns)
            .map(|(cell, column)| match cell {
                Cell::Null => Ok(Value::Null),
                Cell::Text(text) => {
                    column.kind.parse(&text).map_err(|e| Error::other(format!("{}.{}: {e}", self.full_name(), column.name)))
                }
                Cell::Unchanged => Ok(previous.and_then(|row| row.get(&column.name)).cloned().unwrap_or_else(|| unavailable(column.kind))),
            })
            .collect::<Result<Vec<_>>>()?;
        self.schemas.row(values)
    }
}

/// Debezium's `unavailable.value.placeholder` for a TOASTed value an update did not send.
fn unavailable(kind: PgKind) -> Value {
    use crate::types::Scalar;
    const PLACEHOLDER: &str = "__debezium_unavailable_value";
    match kind {
        PgKind::Scalar(Scalar::Text | Scalar::Named(_)) => Value::from(PLACEHOLDER),
        PgKind::Scalar(Scalar::Bytes) => Value::Bytes(PLACEHOLDER.as_bytes().to_vec()),
        _ => Value::Null,
    }
}
