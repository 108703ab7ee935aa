//! What a captured table looks like: its columns from `information_schema` (the binlog only
//! carries types, not names), their Kafka Connect kinds, and the key, row and envelope
//! schemas of its change records.

use connect_cdc::{ChangeSchemas, SourceHead};
use connect_jdbc::db::{ColumnKind, Connection, SqlValue};
use connect_sdk::data::Schema;
use connect_sdk::prelude::*;

/// How temporal columns are represented (Debezium's `time.precision.mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimePrecision {
    /// Kafka's millisecond types, except that `DATETIME`, `TIMESTAMP` and `TIME` columns
    /// with more than 3 fractional digits are µs (`io.debezium.time.MicroTimestamp` /
    /// `MicroTime`), so nothing is rounded.
    #[default]
    Adaptive,
    /// Kafka Connect's `Timestamp`, `Time` and `Date` (milliseconds) for every column.
    Connect,
}

/// One column of a captured table.
#[derive(Clone, Debug, PartialEq)]
pub struct CdcColumn {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub kind: ColumnKind,
    /// Width in bits of an unsigned integer column (the binlog writes it as signed), else 0.
    pub unsigned_bits: u32,
    /// The labels of an `ENUM` or `SET` column (the binlog writes indexes and bit masks).
    pub labels: Vec<String>,
    /// `ENUM` (true) or `SET` (false), when it has labels.
    pub is_enum: bool,
    /// Whether the column is part of the primary key.
    pub key: bool,
}

/// A captured table: columns in order and the schemas of its records.
#[derive(Debug)]
pub struct TableSchema {
    /// Database name.
    pub database: String,
    /// Table name.
    pub table: String,
    /// Columns in table order.
    pub columns: Vec<CdcColumn>,
    /// The row, key and envelope schemas of its records.
    pub schemas: ChangeSchemas,
    /// The declarations the columns were made from (empty when made from columns directly).
    pub specs: Vec<ColumnSpec>,
}

/// The schema of the envelope's `source` block (Debezium's MySQL source info).
pub fn source_schema() -> Schema {
    SourceHead::schema(
        "io.debezium.connector.mysql.Source",
        [
            ("table", Schema::string().optional()),
            ("server_id", Schema::int64()),
            ("gtid", Schema::string().optional()),
            ("file", Schema::string()),
            ("pos", Schema::int64()),
            ("row", Schema::int32()),
        ],
    )
}

/// How a column is declared, as `information_schema` or a DDL statement says: what the
/// schema history keeps, and what a [`CdcColumn`] is made from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// Its name.
    pub name: String,
    /// The type's name in lower case (`int`, `decimal`, `enum`...).
    pub data_type: String,
    /// The full type in lower case (`int(10) unsigned`, `decimal(10,2)`, `enum('a','b')`).
    pub column_type: String,
    /// Digits after the point of a `DECIMAL`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scale: i32,
    /// Fractional second digits of a `DATETIME`, `TIMESTAMP` or `TIME`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fraction_digits: i32,
    /// Whether it is part of the primary key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key: bool,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

impl ColumnSpec {
    /// The table's columns from `information_schema`; `None` when it does not exist (any more).
    pub async fn load(connection: &mut Connection, database: &str, table: &str) -> Result<Option<Vec<ColumnSpec>>> {
        let sql = "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR), CAST(column_type AS CHAR), numeric_scale, CAST(column_key AS CHAR), \
                   datetime_precision FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position";
        let result = connection.query(sql, &[SqlValue::Text(database.to_owned()), SqlValue::Text(table.to_owned())]).await?;
        if result.rows.is_empty() {
            return Ok(None);
        }
        let mut columns = Vec::with_capacity(result.rows.len());
        for row in result.rows {
            let mut cells = row.into_iter();
            let mut text = || cells.next().and_then(SqlValue::into_text).unwrap_or_default();
            let (name, data_type, column_type) = (text(), text().to_ascii_lowercase(), text().to_ascii_lowercase());
            let number = |cell: Option<SqlValue>| match cell {
                Some(SqlValue::Int(n)) => n as i32,
                _ => 0,
            };
            let scale = number(cells.next());
            let key = cells.next().and_then(SqlValue::into_text).is_some_and(|k| k == "PRI");
            let fraction_digits = number(cells.next());
            columns.push(ColumnSpec { name, data_type, column_type, scale, fraction_digits, key });
        }
        Ok(Some(columns))
    }

    /// The column the connector decodes.
    fn column(&self, precision: TimePrecision) -> CdcColumn {
        let mut column = column_of(self.name.clone(), &self.data_type, &self.column_type, self.scale, self.key);
        if precision == TimePrecision::Adaptive && self.fraction_digits > 3 {
            column.kind = match column.kind {
                ColumnKind::Timestamp => ColumnKind::MicroTimestamp,
                ColumnKind::Time => ColumnKind::MicroTime,
                other => other,
            };
        }
        column
    }
}

impl TableSchema {
    /// Reads the table's columns from `information_schema`; `None` when it does not exist (any more).
    pub async fn load(
        connection: &mut Connection,
        prefix: &str,
        database: &str,
        table: &str,
        precision: TimePrecision,
    ) -> Result<Option<TableSchema>> {
        let specs = ColumnSpec::load(connection, database, table).await?;
        Ok(specs.map(|specs| TableSchema::declared(prefix, database, table, specs, precision)))
    }

    /// The schemas of a table whose columns are declared so.
    pub fn declared(prefix: &str, database: &str, table: &str, specs: Vec<ColumnSpec>, precision: TimePrecision) -> TableSchema {
        let columns = specs.iter().map(|spec| spec.column(precision)).collect();
        let mut schema = TableSchema::new(prefix, database, table, columns);
        schema.specs = specs;
        schema
    }

    /// The schemas of a table with these columns.
    pub fn new(prefix: &str, database: &str, table: &str, columns: Vec<CdcColumn>) -> TableSchema {
        let named = columns.iter().map(|c| (c.name.clone(), c.kind.schema(), c.key));
        let schemas = ChangeSchemas::new(&format!("{prefix}.{database}.{table}"), named, source_schema());
        TableSchema { database: database.to_owned(), table: table.to_owned(), columns, schemas, specs: Vec::new() }
    }
}

/// A column from its `information_schema` description.
fn column_of(name: String, data_type: &str, column_type: &str, scale: i32, key: bool) -> CdcColumn {
    let unsigned = column_type.contains("unsigned");
    let (kind, bits) = match data_type {
        "tinyint" if column_type.starts_with("tinyint(1)") && !unsigned => (ColumnKind::Boolean, 0),
        "tinyint" if unsigned => (ColumnKind::Int16, 8),
        "tinyint" => (ColumnKind::Int8, 0),
        "smallint" if unsigned => (ColumnKind::Int32, 16),
        "smallint" => (ColumnKind::Int16, 0),
        "mediumint" => (ColumnKind::Int32, if unsigned { 24 } else { 0 }),
        "int" | "integer" if unsigned => (ColumnKind::Int64, 32),
        "int" | "integer" => (ColumnKind::Int32, 0),
        "bigint" if unsigned => (ColumnKind::Decimal(0), 64),
        "bigint" => (ColumnKind::Int64, 0),
        "float" => (ColumnKind::Float32, 0),
        "double" | "real" | "double precision" => (ColumnKind::Float64, 0),
        "decimal" | "numeric" => (ColumnKind::Decimal(scale), 0),
        "date" => (ColumnKind::Date, 0),
        "time" => (ColumnKind::Time, 0),
        "datetime" | "timestamp" => (ColumnKind::Timestamp, 0),
        "year" => (ColumnKind::Int32, 0),
        "bit" if column_type == "bit(1)" => (ColumnKind::Boolean, 0),
        "bit" | "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "geometry" | "point" => (ColumnKind::Bytes, 0),
        _ => (ColumnKind::Text, 0),
    };
    let labels = match data_type {
        "enum" | "set" => parse_labels(column_type),
        _ => Vec::new(),
    };
    CdcColumn { name, kind, unsigned_bits: bits, labels, is_enum: data_type == "enum", key }
}

/// The labels of `enum('a','b')` / `set('x','y')`.
fn parse_labels(column_type: &str) -> Vec<String> {
    let Some(inner) = column_type.split_once('(').and_then(|(_, rest)| rest.strip_suffix(')')) else { return Vec::new() };
    let mut labels = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('\'', true) if chars.peek() == Some(&'\'') => {
                current.push('\'');
                chars.next();
            }
            ('\'', _) => {
                if quoted {
                    labels.push(std::mem::take(&mut current));
                }
                quoted = !quoted;
            }
            (c, true) => current.push(c),
            _ => {}
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn information_schema_types_become_column_kinds() {
        let kind = |data: &str, full: &str| column_of("c".into(), data, full, 2, false);
        assert_eq!(kind("tinyint", "tinyint(1)").kind, ColumnKind::Boolean);
        assert_eq!(kind("int", "int(10) unsigned").unsigned_bits, 32);
        assert_eq!(kind("bigint", "bigint(20) unsigned").kind, ColumnKind::Decimal(0));
        assert_eq!(kind("decimal", "decimal(10,2)").kind, ColumnKind::Decimal(2));
        assert_eq!(kind("enum", "enum('new','it''s done')").labels, ["new", "it's done"]);
        assert_eq!(kind("varchar", "varchar(20)").kind, ColumnKind::Text);
    }

    #[test]
    fn envelopes_name_their_table() {
        let id = CdcColumn { name: "id".into(), kind: ColumnKind::Int64, unsigned_bits: 0, labels: vec![], is_enum: false, key: true };
        let schema = TableSchema::new("shop", "db", "orders", vec![id]);
        assert_eq!(schema.schemas.envelope.name.as_deref(), Some("shop.db.orders.Envelope"));
        assert_eq!(
            schema.schemas.envelope.field_named("source").unwrap().schema.name.as_deref(),
            Some("io.debezium.connector.mysql.Source")
        );
    }
}
