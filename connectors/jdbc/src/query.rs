//! How `jdbc-source` finds new rows of one table or query: the SQL of each mode, and the
//! offset it resumes from.
//!
//! Offsets keep Kafka's keys (`incrementing`, `timestamp` in ms, `timestamp_nanos`) plus the
//! exact `timestamp_micros`, so a resumed task neither skips nor repeats a row whose
//! timestamp has sub-millisecond digits.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_sdk::data::{Schema, Struct};
use connect_sdk::prelude::*;

use crate::db::{Connection, Dialect, ResultSet, SqlColumn, SqlValue};

/// How new rows are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Mode {
    /// Every poll copies the whole table.
    #[serde(rename = "bulk")]
    Bulk,
    /// Rows whose incrementing column is above the last one seen.
    #[serde(rename = "incrementing")]
    Incrementing,
    /// Rows whose timestamp is after the last one seen.
    #[serde(rename = "timestamp")]
    Timestamp,
    /// Rows after the last (timestamp, incrementing) pair seen.
    #[serde(rename = "timestamp+incrementing")]
    TimestampIncrementing,
}

impl Mode {
    /// Whether the mode reads the incrementing column.
    pub fn uses_incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }

    /// Whether the mode reads the timestamp column(s).
    pub fn uses_timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Bulk => "bulk",
            Mode::Incrementing => "incrementing",
            Mode::Timestamp => "timestamp",
            Mode::TimestampIncrementing => "timestamp+incrementing",
        })
    }
}

/// Where a table's copy stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Position {
    incrementing: Option<i64>,
    timestamp_micros: Option<i64>,
}

impl Position {
    fn read(offset: Option<SourceOffset>) -> Position {
        let Some(offset) = offset else { return Position::default() };
        let micros = offset.get_i64("timestamp_micros").or_else(|| {
            let ms = offset.get_i64("timestamp")?;
            Some(ms * 1000 + offset.get_i64("timestamp_nanos").map_or(0, |n| (n / 1000) % 1000))
        });
        Position { incrementing: offset.get_i64("incrementing"), timestamp_micros: micros }
    }

    fn offset(&self) -> SourceOffset {
        let mut offset = SourceOffset::new();
        if let Some(incrementing) = self.incrementing {
            offset.insert("incrementing", incrementing);
        }
        if let Some(micros) = self.timestamp_micros {
            offset.insert("timestamp", micros.div_euclid(1000));
            offset.insert("timestamp_nanos", micros.rem_euclid(1_000_000) * 1000);
            offset.insert("timestamp_micros", micros);
        }
        offset
    }
}

/// One table (or the query) of a task.
pub struct TableQuery {
    /// The table, or `None` for the query.
    table: Option<String>,
    /// `FROM` what: the quoted table or the query as a derived table.
    from: String,
    topic: String,
    partition: SourcePartition,
    mode: Mode,
    dialect: Dialect,
    incrementing: Option<String>,
    timestamps: Vec<String>,
    delay: Duration,
    batch: usize,
    interval: Duration,
    position: Position,
    /// The rows of a bulk copy not yet returned.
    pending: Vec<SourceRecord>,
    /// The value schema of the last result, reused while the columns stay the same.
    schema: Option<(Vec<SqlColumn>, Arc<Schema>)>,
    /// When to poll it next.
    pub next_poll: Instant,
}

/// What of a `jdbc-source` config shapes its queries.
#[derive(Clone, Debug)]
pub struct QuerySettings {
    /// `topic.prefix`: a table's topic is the prefix and the table's name; a query's, the prefix.
    pub topic_prefix: String,
    /// `mode`.
    pub mode: Mode,
    /// `incrementing.column.name`.
    pub incrementing_column_name: Option<String>,
    /// `timestamp.column.name`: the first non-null of these columns.
    pub timestamp_column_name: Vec<String>,
    /// `timestamp.delay.interval.ms`.
    pub timestamp_delay: Duration,
    /// `batch.max.rows`.
    pub batch_max_rows: usize,
    /// `poll.interval.ms`.
    pub poll_interval: Duration,
}

impl TableQuery {
    /// Copies `table` into `topic.prefix` + `table`.
    pub fn for_table(config: &QuerySettings, dialect: Dialect, table: &str, ctx: &SourceContext) -> TableQuery {
        let partition = SourcePartition::new().with("table", table);
        let mut query = TableQuery::new(config, dialect, partition, ctx);
        query.table = Some(table.to_owned());
        query.from = dialect.quote(table);
        query.topic = format!("{}{table}", config.topic_prefix);
        query
    }

    /// Copies the rows of `sql` into `topic.prefix`.
    pub fn for_query(config: &QuerySettings, dialect: Dialect, sql: &str, ctx: &SourceContext) -> TableQuery {
        let partition = SourcePartition::new().with("query", "query");
        let mut query = TableQuery::new(config, dialect, partition, ctx);
        query.from = format!("({sql}) AS connect_query");
        query.topic = config.topic_prefix.clone();
        query
    }

    fn new(config: &QuerySettings, dialect: Dialect, partition: SourcePartition, ctx: &SourceContext) -> TableQuery {
        let position = Position::read(ctx.offset(&partition));
        TableQuery {
            table: None,
            from: String::new(),
            topic: String::new(),
            partition,
            mode: config.mode,
            dialect,
            incrementing: config.incrementing_column_name.clone().filter(|_| config.mode.uses_incrementing()),
            timestamps: if config.mode.uses_timestamp() { config.timestamp_column_name.clone() } else { Vec::new() },
            delay: config.timestamp_delay,
            batch: config.batch_max_rows.max(1),
            interval: config.poll_interval,
            position,
            pending: Vec::new(),
            schema: None,
            next_poll: Instant::now(),
        }
    }

    /// The timestamp expression: the column, or the first non-null of several.
    fn timestamp_expr(&self) -> String {
        match self.timestamps.as_slice() {
            [one] => self.dialect.quote(one),
            many => format!("COALESCE({})", many.iter().map(|c| self.dialect.quote(c)).collect::<Vec<_>>().join(", ")),
        }
    }

    /// The SQL of the next batch, and its parameters.
    fn next_batch(&self, upper_micros: Option<i64>) -> (String, Vec<SqlValue>) {
        let d = self.dialect;
        let mut params = Vec::new();
        let mut param = |value: SqlValue| {
            params.push(value);
            d.placeholder(params.len())
        };
        let inc = self.incrementing.as_deref().map(|c| d.quote(c));
        let ts = (!self.timestamps.is_empty()).then(|| self.timestamp_expr());
        let (condition, order) = match (self.mode, &inc, &ts) {
            (Mode::Incrementing, Some(inc), _) => {
                let condition = self.position.incrementing.map(|last| format!("{inc} > {}", param(SqlValue::Int(last))));
                (condition, inc.clone())
            }
            (Mode::Timestamp, _, Some(ts)) => {
                // Parameters in text order: MySQL's `?` are positional.
                let mut condition = match self.position.timestamp_micros {
                    Some(last) => format!("{ts} > {} AND ", param(SqlValue::Timestamp(last))),
                    None => String::new(),
                };
                condition.push_str(&format!("{ts} < {}", param(SqlValue::Timestamp(upper_micros.unwrap_or(i64::MAX)))));
                (Some(condition), ts.clone())
            }
            (Mode::TimestampIncrementing, Some(inc), Some(ts)) => {
                let mut condition = format!("{ts} < {}", param(SqlValue::Timestamp(upper_micros.unwrap_or(i64::MAX))));
                if let Some(last_ts) = self.position.timestamp_micros {
                    let last_inc = self.position.incrementing.unwrap_or(i64::MIN);
                    let (a, b, c) =
                        (param(SqlValue::Timestamp(last_ts)), param(SqlValue::Int(last_inc)), param(SqlValue::Timestamp(last_ts)));
                    condition = format!("{condition} AND (({ts} = {a} AND {inc} > {b}) OR {ts} > {c})");
                }
                (Some(condition), format!("{ts}, {inc}"))
            }
            _ => (None, String::new()),
        };
        let mut sql = format!("SELECT * FROM {}", self.from);
        if let Some(condition) = condition {
            sql.push_str(&format!(" WHERE {condition}"));
        }
        if self.mode != Mode::Bulk {
            sql.push_str(&format!(" ORDER BY {order} ASC LIMIT {}", self.batch));
        }
        (sql, params)
    }

    /// Reads the next rows and turns them into records.
    pub async fn poll(&mut self, connection: &mut Connection) -> Result<Vec<SourceRecord>> {
        if self.mode == Mode::Bulk {
            return self.poll_bulk(connection).await;
        }
        let upper = match self.mode.uses_timestamp() {
            true => Some(connection.now_micros().await? - self.delay.as_micros() as i64),
            false => None,
        };
        let (sql, params) = self.next_batch(upper);
        let mut result = connection.query(&sql, &params).await?;
        let full = result.rows.len() >= self.batch;
        if self.mode == Mode::Timestamp && full {
            self.complete_last_timestamp(connection, &mut result).await?;
        }
        let records = self.records(result)?;
        self.next_poll = if full { Instant::now() } else { Instant::now() + self.interval };
        Ok(records)
    }

    /// In `timestamp` mode a batch may end inside a group of rows sharing a timestamp, and
    /// the offset could then skip the rest of the group: drop the last group, or read all of
    /// it when it is the whole batch.
    async fn complete_last_timestamp(&self, connection: &mut Connection, result: &mut ResultSet) -> Result<()> {
        let index = self.timestamp_indexes(&result.columns)?;
        let ts_of = |row: &Vec<SqlValue>| index.iter().find_map(|&i| row[i].as_micros());
        let Some(last) = result.rows.last().and_then(ts_of) else { return Ok(()) };
        if result.rows.first().and_then(ts_of) == Some(last) {
            let d = self.dialect;
            let sql = format!("SELECT * FROM {} WHERE {} = {}", self.from, self.timestamp_expr(), d.placeholder(1));
            *result = connection.query(&sql, &[SqlValue::Timestamp(last)]).await?;
        } else {
            result.rows.retain(|row| ts_of(row) != Some(last));
        }
        Ok(())
    }

    async fn poll_bulk(&mut self, connection: &mut Connection) -> Result<Vec<SourceRecord>> {
        if self.pending.is_empty() {
            let (sql, params) = self.next_batch(None);
            let result = connection.query(&sql, &params).await?;
            self.pending = self.records(result)?;
            self.pending.reverse();
        }
        let take = self.pending.len().min(self.batch);
        let records: Vec<SourceRecord> = self.pending.split_off(self.pending.len() - take).into_iter().rev().collect();
        if self.pending.is_empty() {
            self.next_poll = Instant::now() + self.interval;
        }
        Ok(records)
    }

    fn column_index(columns: &[SqlColumn], name: &str) -> Option<usize> {
        columns.iter().position(|c| c.name == name).or_else(|| columns.iter().position(|c| c.name.eq_ignore_ascii_case(name)))
    }

    fn timestamp_indexes(&self, columns: &[SqlColumn]) -> Result<Vec<usize>> {
        self.timestamps.iter().map(|name| Self::column_index(columns, name).ok_or_else(|| self.missing_column(name))).collect()
    }

    fn missing_column(&self, name: &str) -> Error {
        Error::other(format!("{} has no column {name:?} (timestamp.column.name / incrementing.column.name)", self.describe()))
    }

    fn describe(&self) -> String {
        self.table.as_deref().map_or_else(|| "the query".to_owned(), |t| format!("table {t}"))
    }

    fn value_schema(&mut self, columns: &[SqlColumn]) -> Arc<Schema> {
        if let Some((known, schema)) = &self.schema
            && known == columns
        {
            return schema.clone();
        }
        let mut schema = Schema::structure();
        if let Some(table) = &self.table {
            schema = schema.named(table.clone());
        }
        for column in columns {
            schema = schema.field(column.name.clone(), column.kind.schema());
        }
        let schema = Arc::new(schema);
        self.schema = Some((columns.to_vec(), schema.clone()));
        schema
    }

    /// Records of a result, each carrying the position after it.
    fn records(&mut self, result: ResultSet) -> Result<Vec<SourceRecord>> {
        let schema = self.value_schema(&result.columns);
        let inc_index = match &self.incrementing {
            Some(name) => Some(Self::column_index(&result.columns, name).ok_or_else(|| self.missing_column(name))?),
            None => None,
        };
        let ts_indexes = if self.timestamps.is_empty() { Vec::new() } else { self.timestamp_indexes(&result.columns)? };
        let mut records = Vec::with_capacity(result.rows.len());
        for row in result.rows {
            if let Some(i) = inc_index {
                let value = row[i].as_i64().ok_or_else(|| Error::other(format!("the incrementing column holds {:?}", row[i])))?;
                self.position.incrementing = Some(value);
            }
            let timestamp = ts_indexes.iter().find_map(|&i| row[i].as_micros());
            if timestamp.is_some() {
                self.position.timestamp_micros = timestamp;
            }
            let values = row.into_iter().zip(&result.columns).map(|(v, c)| c.kind.value(v)).collect::<Result<Vec<_>, _>>()?;
            let value = Struct::from_values(schema.clone(), values)?;
            let offset = if self.mode == Mode::Bulk { SourceOffset::new() } else { self.position.offset() };
            let mut record = SourceRecord::new(self.partition.clone(), offset, &self.topic, Value::Struct(value))
                .with_value_schema(Schema::clone(&schema));
            if let Some(micros) = timestamp {
                record = record.with_timestamp(micros.div_euclid(1000));
            }
            records.push(record);
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_through_kafka_style_offsets() {
        let position = Position { incrementing: Some(42), timestamp_micros: Some(1_700_000_000_123_456) };
        let offset = position.offset();
        assert_eq!(offset.get_i64("timestamp"), Some(1_700_000_000_123));
        assert_eq!(offset.get_i64("timestamp_nanos"), Some(123_456_000));
        assert_eq!(Position::read(Some(offset)), position);
        // Kafka's own offsets (no micros) resume at the same instant.
        let kafka = SourceOffset::new().with("timestamp", 1_700_000_000_123i64).with("timestamp_nanos", 123_456_000);
        assert_eq!(Position::read(Some(kafka)).timestamp_micros, Some(1_700_000_000_123_456));
    }
}
