//! How `jdbc-sink` turns records into rows and rows into statements: primary keys by
//! `pk.mode`, runs of rows that share a table, an operation and columns, multi-row
//! `INSERT`/upsert statements, and the DDL of `auto.create` / `auto.evolve`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use connect_sdk::data::{DataError, Struct};
use connect_sdk::prelude::*;

use crate::db::{ColumnKind, Connection, Dialect, SqlValue};

/// What of a `jdbc-sink` config shapes its rows and statements.
#[derive(Clone, Debug, Default)]
pub(crate) struct WriteRules {
    /// `table.name.format`: the table of a record, `${topic}` replaced by its topic.
    pub table_name_format: String,
    /// `delete.enabled`: a tombstone deletes its key's row.
    pub delete_enabled: bool,
    /// `insert.mode`.
    pub insert_mode: InsertMode,
    /// `pk.mode`.
    pub pk_mode: PkMode,
    /// `pk.fields`.
    pub pk_fields: Vec<String>,
    /// `fields.whitelist` (empty: every field).
    pub fields_whitelist: Vec<String>,
    /// `batch.size`: rows per statement at most.
    pub batch_size: usize,
    /// `auto.create`.
    pub auto_create: bool,
    /// `auto.evolve`.
    pub auto_evolve: bool,
}

/// How rows are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InsertMode {
    /// `INSERT`: a row whose key exists fails.
    #[default]
    Insert,
    /// Insert, or update the row with the same primary key.
    Upsert,
    /// `UPDATE` the row with the same primary key.
    Update,
}

impl fmt::Display for InsertMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InsertMode::Insert => "insert",
            InsertMode::Upsert => "upsert",
            InsertMode::Update => "update",
        })
    }
}

/// Where the primary key comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PkMode {
    /// No primary key.
    #[default]
    None,
    /// `__connect_topic`, `__connect_partition` (the queue) and `__connect_offset`.
    Kafka,
    /// The record key (a struct's fields, or one column for a primitive key).
    RecordKey,
    /// Fields of the record value (`pk.fields`).
    RecordValue,
}

/// What a row does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Write(InsertMode),
    Delete,
}

/// A column of a row: its name, kind and whether it may be null.
#[derive(Clone, Debug, PartialEq)]
struct ColumnSpec {
    name: String,
    kind: ColumnKind,
    optional: bool,
}

/// One record as a row.
pub(crate) struct Row {
    table: String,
    op: Op,
    key: Vec<(ColumnSpec, SqlValue)>,
    values: Vec<(ColumnSpec, SqlValue)>,
}

impl Row {
    fn shape(&self) -> (&str, Op, Vec<&str>, Vec<&str>) {
        (
            &self.table,
            self.op,
            self.key.iter().map(|(c, _)| c.name.as_str()).collect(),
            self.values.iter().map(|(c, _)| c.name.as_str()).collect(),
        )
    }
}

/// The rows of one `put`, in record order.
pub(crate) struct RowBatch {
    rows: Vec<Row>,
}

fn columns_of(value: &Struct, only: &[String]) -> Result<Vec<(ColumnSpec, SqlValue)>, DataError> {
    let schema = value.schema();
    let mut out = Vec::with_capacity(schema.fields.len());
    for (field, v) in schema.fields.iter().zip(value.values()) {
        if !only.is_empty() && !only.contains(&field.name) {
            continue;
        }
        let kind = ColumnKind::of_schema(&field.schema).map_err(|e| e.in_field(&field.name))?;
        let sql = SqlValue::from_value(v, Some(&field.schema)).map_err(|e| e.in_field(&field.name))?;
        out.push((ColumnSpec { name: field.name.clone(), kind, optional: field.schema.optional }, sql));
    }
    Ok(out)
}

/// The kind of a schemaless primitive.
fn kind_of_value(value: &Value) -> Result<ColumnKind, DataError> {
    Ok(match value {
        Value::Bool(_) => ColumnKind::Boolean,
        Value::Int8(_) => ColumnKind::Int8,
        Value::Int16(_) => ColumnKind::Int16,
        Value::Int32(_) => ColumnKind::Int32,
        Value::Int64(_) => ColumnKind::Int64,
        Value::Float32(_) => ColumnKind::Float32,
        Value::Float64(_) => ColumnKind::Float64,
        Value::String(_) => ColumnKind::Text,
        Value::Bytes(_) => ColumnKind::Bytes,
        other => return Err(DataError::new(format!("a {} key cannot be a primary key column", other.type_name()))),
    })
}

fn struct_of<'a>(value: &'a Value, what: &str) -> Result<&'a Struct, DataError> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(DataError::new(format!(
            "jdbc-sink needs a struct {what} with a schema, got a {} (use a converter with schemas, e.g. JSON with schemas.enable)",
            other.type_name()
        ))),
    }
}

impl RowBatch {
    /// The rows of `records`; a record that cannot be a row is a data error naming it.
    pub(crate) fn of(rules: &WriteRules, records: &[SinkRecord]) -> Result<RowBatch> {
        let rows = records.iter().map(|r| Self::row(rules, r).map_err(|e| describe(r, e))).collect::<Result<Vec<_>>>()?;
        Ok(RowBatch { rows })
    }

    fn row(rules: &WriteRules, record: &SinkRecord) -> Result<Row, DataError> {
        let table = rules.table_name_format.replace("${topic}", &record.topic);
        let op = match (&record.value, rules.delete_enabled) {
            (Value::Null, true) => Op::Delete,
            (Value::Null, false) => return Err(DataError::new("a tombstone (null value) needs delete.enabled=true")),
            _ => Op::Write(rules.insert_mode),
        };
        let key = match rules.pk_mode {
            PkMode::None => Vec::new(),
            PkMode::Kafka => vec![
                (
                    ColumnSpec { name: "__connect_topic".into(), kind: ColumnKind::Text, optional: false },
                    SqlValue::Text(record.topic.clone()),
                ),
                (
                    ColumnSpec { name: "__connect_partition".into(), kind: ColumnKind::Int32, optional: false },
                    SqlValue::Int(i64::from(record.queue_id.unwrap_or(-1))),
                ),
                (
                    ColumnSpec { name: "__connect_offset".into(), kind: ColumnKind::Int64, optional: false },
                    SqlValue::Int(record.position()),
                ),
            ],
            PkMode::RecordKey => match &record.key {
                Value::Null => return Err(DataError::new("pk.mode=record_key needs a record key")),
                Value::Struct(key) => columns_of(key, &rules.pk_fields)?,
                primitive => {
                    let [name] = rules.pk_fields.as_slice() else {
                        return Err(DataError::new("a primitive record key needs pk.fields to name its one column"));
                    };
                    let kind = match &record.key_schema {
                        Some(schema) => ColumnKind::of_schema(schema)?,
                        None => kind_of_value(primitive)?,
                    };
                    vec![(
                        ColumnSpec { name: name.clone(), kind, optional: false },
                        SqlValue::from_value(primitive, record.key_schema.as_ref())?,
                    )]
                }
            },
            PkMode::RecordValue => {
                let value = struct_of(&record.value, "value")?;
                let key = columns_of(value, &rules.pk_fields)?;
                if let Some(missing) = rules.pk_fields.iter().find(|f| !key.iter().any(|(c, _)| &c.name == *f)) {
                    return Err(DataError::new(format!("the value has no key field {missing:?} (pk.fields)")));
                }
                key
            }
        };
        let values = match op {
            Op::Delete => Vec::new(),
            Op::Write(_) => {
                let value = struct_of(&record.value, "value")?;
                let mut values = columns_of(value, &rules.fields_whitelist)?;
                values.retain(|(c, _)| !key.iter().any(|(k, _)| k.name == c.name));
                values
            }
        };
        let mut key = key;
        for (column, _) in &mut key {
            column.optional = false;
        }
        Ok(Row { table, op, key, values })
    }

    /// Consecutive rows sharing a table, an operation and columns.
    pub(crate) fn runs(&self) -> impl Iterator<Item = (&str, &[Row])> {
        self.rows.chunk_by(|a, b| a.shape() == b.shape()).map(|run| (run[0].table.as_str(), run))
    }
}

fn describe(record: &SinkRecord, error: DataError) -> Error {
    Error::Data(DataError::new(format!("record {}@{}/{}: {error}", record.topic, record.queue_id.unwrap_or(-1), record.position())))
}

/// What the sink knows of one table.
pub(crate) struct TableWriter {
    table: String,
    /// Its columns, once looked up.
    columns: Option<BTreeSet<String>>,
}

/// At most this many parameters per statement (both databases allow 65535).
const MAX_PARAMS: usize = 60_000;

impl TableWriter {
    /// Nothing known yet about `table`.
    pub(crate) fn new(table: &str) -> TableWriter {
        TableWriter { table: table.to_owned(), columns: None }
    }

    /// Writes a run of rows of this table (see [`RowBatch::runs`]).
    pub(crate) async fn write(&mut self, connection: &mut Connection, rules: &WriteRules, rows: &[Row]) -> Result<()> {
        let Some(first) = rows.first() else { return Ok(()) };
        self.ensure_columns(connection, rules, first).await?;
        let d = connection.dialect();
        match first.op {
            Op::Write(InsertMode::Update) => {
                for row in rows {
                    self.update(connection, d, row).await?;
                }
            }
            Op::Delete => {
                for row in rows {
                    self.delete(connection, d, row).await?;
                }
            }
            Op::Write(mode) => {
                let rows: Vec<&Row> = if mode == InsertMode::Upsert { last_per_key(rows) } else { rows.iter().collect() };
                let width = (first.key.len() + first.values.len()).max(1);
                for chunk in rows.chunks(rules.batch_size.min(MAX_PARAMS / width)) {
                    self.insert(connection, d, mode, chunk).await?;
                }
            }
        }
        Ok(())
    }

    /// Creates the table or adds columns, as configured; errors name what is missing.
    async fn ensure_columns(&mut self, connection: &mut Connection, rules: &WriteRules, row: &Row) -> Result<()> {
        let d = connection.dialect();
        if self.columns.is_none() {
            let found: BTreeSet<String> = connection.columns(&self.table).await?.into_iter().collect();
            if found.is_empty() {
                if !rules.auto_create {
                    return Err(Error::other(format!("table {} does not exist; create it or set auto.create=true", self.table)));
                }
                if row.op == Op::Delete {
                    // Nothing to delete from a table that does not exist yet.
                    return Ok(());
                }
                connection.create_if_missing(&create_table(d, &self.table, row)).await?;
                self.columns = Some(row.key.iter().chain(&row.values).map(|(c, _)| c.name.clone()).collect());
                return Ok(());
            }
            self.columns = Some(found);
        }
        let known = self.columns.as_mut().expect("looked up above");
        let missing: Vec<&ColumnSpec> = row.key.iter().chain(&row.values).map(|(c, _)| c).filter(|c| !known.contains(&c.name)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if !rules.auto_evolve {
            let names: Vec<&str> = missing.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::Data(DataError::new(format!(
                "table {} has no column {}; add it or set auto.evolve=true",
                self.table,
                names.join(", ")
            ))));
        }
        for column in missing {
            let sql = format!("ALTER TABLE {} ADD COLUMN {} {}", d.quote(&self.table), d.quote(&column.name), d.column_type(&column.kind));
            connection.batch(&sql).await?;
            known.insert(column.name.clone());
        }
        Ok(())
    }

    async fn insert(&self, connection: &mut Connection, d: Dialect, mode: InsertMode, rows: &[&Row]) -> Result<()> {
        let first = rows[0];
        let columns: Vec<&ColumnSpec> = first.key.iter().chain(&first.values).map(|(c, _)| c).collect();
        let names = columns.iter().map(|c| d.quote(&c.name)).collect::<Vec<_>>().join(", ");
        let mut params = Vec::with_capacity(rows.len() * columns.len());
        let mut tuples = Vec::with_capacity(rows.len());
        for row in rows {
            let mut placeholders = Vec::with_capacity(columns.len());
            for (_, value) in row.key.iter().chain(&row.values) {
                params.push(value.clone());
                placeholders.push(d.placeholder(params.len()));
            }
            tuples.push(format!("({})", placeholders.join(", ")));
        }
        let mut sql = format!("INSERT INTO {} ({names}) VALUES {}", d.quote(&self.table), tuples.join(", "));
        if mode == InsertMode::Upsert {
            sql.push_str(&upsert_clause(d, first));
        }
        connection.execute(&sql, &params).await?;
        Ok(())
    }

    async fn update(&self, connection: &mut Connection, d: Dialect, row: &Row) -> Result<()> {
        if row.values.is_empty() {
            return Ok(());
        }
        let mut params = Vec::new();
        let mut set = Vec::new();
        for (column, value) in &row.values {
            params.push(value.clone());
            set.push(format!("{} = {}", d.quote(&column.name), d.placeholder(params.len())));
        }
        let condition = key_condition(d, row, &mut params);
        let sql = format!("UPDATE {} SET {} WHERE {condition}", d.quote(&self.table), set.join(", "));
        connection.execute(&sql, &params).await?;
        Ok(())
    }

    async fn delete(&self, connection: &mut Connection, d: Dialect, row: &Row) -> Result<()> {
        if self.columns.is_none() {
            return Ok(());
        }
        let mut params = Vec::new();
        let condition = key_condition(d, row, &mut params);
        connection.execute(&format!("DELETE FROM {} WHERE {condition}", d.quote(&self.table)), &params).await?;
        Ok(())
    }
}

/// `k1 = $n AND k2 = $n+1`, appending the key values to `params`.
fn key_condition(d: Dialect, row: &Row, params: &mut Vec<SqlValue>) -> String {
    let mut parts = Vec::new();
    for (column, value) in &row.key {
        params.push(value.clone());
        parts.push(format!("{} = {}", d.quote(&column.name), d.placeholder(params.len())));
    }
    parts.join(" AND ")
}

/// The rows of a run with the last row of each key only (one statement cannot upsert a key twice).
fn last_per_key(rows: &[Row]) -> Vec<&Row> {
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        last.insert(format!("{:?}", row.key.iter().map(|(_, v)| v).collect::<Vec<_>>()), i);
    }
    let keep: BTreeSet<usize> = last.into_values().collect();
    rows.iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, r)| r).collect()
}

fn upsert_clause(d: Dialect, row: &Row) -> String {
    let keys = row.key.iter().map(|(c, _)| d.quote(&c.name)).collect::<Vec<_>>().join(", ");
    match d {
        Dialect::Postgres if row.values.is_empty() => format!(" ON CONFLICT ({keys}) DO NOTHING"),
        Dialect::Postgres => {
            let set = row.values.iter().map(|(c, _)| format!("{0} = EXCLUDED.{0}", d.quote(&c.name))).collect::<Vec<_>>().join(", ");
            format!(" ON CONFLICT ({keys}) DO UPDATE SET {set}")
        }
        Dialect::MySql => {
            let columns: Vec<&ColumnSpec> =
                if row.values.is_empty() { row.key.iter().map(|(c, _)| c).collect() } else { row.values.iter().map(|(c, _)| c).collect() };
            let set = columns.iter().map(|c| format!("{0} = VALUES({0})", d.quote(&c.name))).collect::<Vec<_>>().join(", ");
            format!(" ON DUPLICATE KEY UPDATE {set}")
        }
    }
}

fn create_table(d: Dialect, table: &str, row: &Row) -> String {
    let mut columns = Vec::new();
    for (column, _) in &row.key {
        columns.push(format!("{} {} NOT NULL", d.quote(&column.name), d.key_column_type(&column.kind)));
    }
    for (column, _) in &row.values {
        let null = if column.optional { "NULL" } else { "NOT NULL" };
        columns.push(format!("{} {} {null}", d.quote(&column.name), d.column_type(&column.kind)));
    }
    if !row.key.is_empty() {
        let keys = row.key.iter().map(|(c, _)| d.quote(&c.name)).collect::<Vec<_>>().join(", ");
        columns.push(format!("PRIMARY KEY ({keys})"));
    }
    format!("CREATE TABLE IF NOT EXISTS {} ({})", d.quote(table), columns.join(", "))
}

#[cfg(test)]
fn sample_row() -> Row {
    let id = ColumnSpec { name: "id".into(), kind: ColumnKind::Int64, optional: false };
    let name = ColumnSpec { name: "name".into(), kind: ColumnKind::Text, optional: true };
    Row { table: "t".into(), op: Op::Write(InsertMode::Upsert), key: vec![(id, SqlValue::Int(1))], values: vec![(name, SqlValue::Null)] }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_sdk::data::Schema;

    #[test]
    fn statements_follow_the_dialect() {
        let row = sample_row();
        assert_eq!(upsert_clause(Dialect::Postgres, &row), r#" ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name""#);
        assert_eq!(upsert_clause(Dialect::MySql, &row), " ON DUPLICATE KEY UPDATE `name` = VALUES(`name`)");
        assert_eq!(
            create_table(Dialect::MySql, "t", &row),
            "CREATE TABLE IF NOT EXISTS `t` (`id` BIGINT NOT NULL, `name` TEXT NULL, PRIMARY KEY (`id`))"
        );
    }

    #[test]
    fn an_upsert_run_keeps_the_last_row_of_each_key() {
        let mut rows = vec![sample_row(), sample_row(), sample_row()];
        rows[1].key[0].1 = SqlValue::Int(2);
        rows[2].values[0].1 = SqlValue::Text("last".into());
        let kept = last_per_key(&rows);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[1].values[0].1, SqlValue::Text("last".into()));
    }

    #[test]
    fn records_become_rows_by_pk_mode() {
        let schema = Schema::structure().field("id", Schema::int64()).field("name", Schema::string().optional());
        let value = Struct::from_values(schema, vec![Value::Int64(7), Value::from("seven")]).unwrap();
        let record = SinkRecord::new("orders", 1, 9, Value::Struct(value)).with_key(7i64);
        let config = WriteRules {
            table_name_format: "${topic}".into(),
            insert_mode: InsertMode::Upsert,
            pk_mode: PkMode::RecordKey,
            pk_fields: vec!["id".into()],
            batch_size: 3_000,
            ..WriteRules::default()
        };
        let batch = RowBatch::of(&config, std::slice::from_ref(&record)).unwrap();
        let row = &batch.rows[0];
        assert_eq!((row.key.len(), row.values.len()), (1, 1), "the key column is not written twice");
        let tombstone = SinkRecord::new("orders", 1, 10, Value::Null).with_key(7i64);
        let err = RowBatch::of(&config, &[tombstone]).err().unwrap();
        assert!(err.to_string().contains("delete.enabled"), "{err}");
    }
}
