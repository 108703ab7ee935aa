//! `jdbc-source`: rows of tables (or of a query) into topics, as Kafka's JDBC source does.

use std::time::{Duration, Instant};

use connect_sdk::config::ConfigErrors;
use connect_sdk::config::groups::{Credentials, Reconnect};
use connect_sdk::prelude::*;

use crate::db::{Connection, ConnectionSettings, Dialect};
use crate::query::{Mode, QuerySettings, TableQuery};

/// Copies rows of PostgreSQL or MySQL/MariaDB tables into topics named `topic.prefix` +
/// table (Kafka's JDBC source connector, same keys). `mode` says how new rows are found:
/// `bulk` copies whole tables every `poll.interval.ms`; `incrementing` follows a strictly
/// increasing column; `timestamp` a last-modified column; `timestamp+incrementing` both, which
/// also catches updates without missing or repeating rows. The tables found (all of the
/// database's, or `table.whitelist`, minus `table.blacklist`) are spread over `tasks.max`
/// tasks and looked up again every `table.poll.interval.ms`; a new table gets its tasks then.
/// With `query`, one task reads that query's rows into the topic `topic.prefix`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "jdbc-source", aliases = ["io.confluent.connect.jdbc.JdbcSourceConnector", "JdbcSourceConnector"],
            task = JdbcSourceTask, plan = JdbcSource::plan, validate = JdbcSource::check)]
pub struct JdbcSource {
    /// `postgres://host:5432/db` or `mysql://host:3306/db` (a `jdbc:` prefix is accepted).
    pub connection_url: String,
    /// `connection.user` and `connection.password`.
    #[serde(flatten)]
    pub credentials: Credentials,
    /// `connection.attempts` and `connection.backoff.ms`.
    #[serde(flatten)]
    pub reconnect: Reconnect<3, 10_000>,
    /// How new rows are found: `bulk`, `incrementing`, `timestamp` or `timestamp+incrementing`.
    pub mode: Mode,
    /// The strictly increasing column of `incrementing` modes.
    #[serde(default)]
    pub incrementing_column_name: Option<String>,
    /// The last-modified column(s) of `timestamp` modes; several are tried in order (`COALESCE`).
    #[serde(default)]
    pub timestamp_column_name: Vec<String>,
    /// Milliseconds a row must be old before it is read, so transactions still open when it
    /// was stamped have committed.
    #[serde(default)]
    #[schemars(range(max = 604_800_000))]
    pub timestamp_delay_interval_ms: u64,
    /// Tables to copy (default: all of the database's).
    #[serde(default)]
    pub table_whitelist: Vec<String>,
    /// Tables not to copy.
    #[serde(default)]
    pub table_blacklist: Vec<String>,
    /// Table types to copy: `TABLE`, `VIEW`.
    #[serde(default = "default_table_types")]
    pub table_types: Vec<String>,
    /// A query to copy instead of tables (its rows are filtered by the mode's columns).
    #[serde(default)]
    pub query: Option<String>,
    /// Prefix of the topic names: the topic is the prefix plus the table name (or the prefix alone with `query`).
    #[config(topic_part)]
    pub topic_prefix: String,
    /// Milliseconds between two polls of a table that had no new rows.
    #[serde(default = "default_poll_interval_ms")]
    #[schemars(range(max = 604_800_000))]
    pub poll_interval_ms: u64,
    /// Rows per poll of a table at most.
    #[serde(default = "default_batch_max_rows")]
    #[schemars(range(min = 1, max = 100_000))]
    pub batch_max_rows: usize,
    /// Milliseconds between two lookups of the tables.
    #[serde(default = "default_table_poll_interval_ms")]
    #[schemars(range(max = 604_800_000))]
    pub table_poll_interval_ms: u64,
    /// The tables one task copies (set when the connector plans its tasks;
    /// users do not set it).
    #[serde(default)]
    #[config(task_only)]
    pub tables: Vec<String>,
}

fn default_table_types() -> Vec<String> {
    vec!["TABLE".to_owned()]
}
fn default_poll_interval_ms() -> u64 {
    5_000
}
fn default_batch_max_rows() -> usize {
    100
}
fn default_table_poll_interval_ms() -> u64 {
    60_000
}

impl JdbcSource {
    /// What of this config shapes the task's queries.
    fn query_settings(&self) -> QuerySettings {
        QuerySettings {
            topic_prefix: self.topic_prefix.clone(),
            mode: self.mode,
            incrementing_column_name: self.incrementing_column_name.clone(),
            timestamp_column_name: self.timestamp_column_name.clone(),
            timestamp_delay: std::time::Duration::from_millis(self.timestamp_delay_interval_ms),
            batch_max_rows: self.batch_max_rows,
            poll_interval: std::time::Duration::from_millis(self.poll_interval_ms),
        }
    }

    pub(crate) fn settings(&self) -> ConnectionSettings {
        ConnectionSettings::new(&self.connection_url, &self.credentials, &self.reconnect)
    }

    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if Dialect::of_url(&self.connection_url).is_none() {
            errors.push("connection.url", "use postgres://host:port/db or mysql://host:port/db");
        }
        if self.mode.uses_incrementing() && self.incrementing_column_name.as_deref().is_none_or(str::is_empty) {
            errors.push("incrementing.column.name", format!("mode {} needs the incrementing column", self.mode));
        }
        if self.mode.uses_timestamp() && self.timestamp_column_name.is_empty() {
            errors.push("timestamp.column.name", format!("mode {} needs the timestamp column", self.mode));
        }
        if self.query.is_some() && !self.table_whitelist.is_empty() {
            errors.push("query", "set either query or table.whitelist, not both");
        }
        if !self.table_whitelist.is_empty() && !self.table_blacklist.is_empty() {
            errors.push("table.blacklist", "set either table.whitelist or table.blacklist, not both");
        }
        if self.batch_max_rows == 0 {
            errors.push("batch.max.rows", "must be at least 1");
        }
        if let Some(bad) = self.table_types.iter().find(|t| !matches!(t.to_ascii_uppercase().as_str(), "TABLE" | "VIEW")) {
            errors.push("table.types", format!("{bad:?} is not TABLE or VIEW"));
        }
        errors.into_result(())
    }

    /// One task for a query; otherwise the tables found, spread round-robin over the tasks,
    /// looked up again every `table.poll.interval.ms`.
    async fn plan(&self, max_tasks: usize) -> Result<TaskPlan<Self>> {
        if self.query.is_some() {
            return Ok(TaskPlan::new(vec![self.clone()]));
        }
        let mut connection = self.settings().connect().await?;
        let tables = self.tables_to_copy(&mut connection).await?;
        let count = max_tasks.max(1).min(tables.len());
        let tasks =
            (0..count).map(|t| JdbcSource { tables: tables.iter().skip(t).step_by(count).cloned().collect(), ..self.clone() }).collect();
        Ok(TaskPlan::new(tasks).replan_after(Duration::from_millis(self.table_poll_interval_ms.max(1_000))))
    }

    async fn tables_to_copy(&self, connection: &mut Connection) -> Result<Vec<String>> {
        let views = self.table_types.iter().any(|t| t.eq_ignore_ascii_case("VIEW"));
        let mut tables = connection.tables(views).await?;
        if !views || !self.table_types.iter().any(|t| t.eq_ignore_ascii_case("TABLE")) {
            // `tables(true)` lists both: keep only what was asked for.
            let base = connection.tables(false).await?;
            tables.retain(|t| base.contains(t) != views);
        }
        let listed = |list: &[String], table: &str| list.iter().any(|l| l.eq_ignore_ascii_case(table));
        if !self.table_whitelist.is_empty() {
            tables.retain(|t| listed(&self.table_whitelist, t));
        }
        tables.retain(|t| !listed(&self.table_blacklist, t));
        Ok(tables)
    }
}

/// Copies its tables (or the query), taking turns: a table with rows left is read again at
/// once, one that is caught up after `poll.interval.ms`.
pub struct JdbcSourceTask {
    config: JdbcSource,
    connection: Option<Connection>,
    queries: Vec<TableQuery>,
    /// Consecutive failures of the connection.
    failures: u32,
}

impl SourceTask for JdbcSourceTask {
    type Config = JdbcSource;

    async fn open(config: JdbcSource, ctx: SourceContext) -> Result<Self> {
        let connection = config.settings().connect().await?;
        let dialect = connection.dialect();
        let queries = match &config.query {
            Some(query) => vec![TableQuery::for_query(&config.query_settings(), dialect, query, &ctx)],
            None => {
                let settings = config.query_settings();
                config.tables.iter().map(|table| TableQuery::for_table(&settings, dialect, table, &ctx)).collect()
            }
        };
        Ok(JdbcSourceTask { config, connection: Some(connection), queries, failures: 0 })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let Some(next) = self.queries.iter_mut().min_by_key(|q| q.next_poll) else {
            connect_sdk::tokio::time::sleep(Duration::from_millis(500)).await;
            return Ok(Vec::new());
        };
        let wait = next.next_poll.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            // Bounded, so the runtime sees a stop request soon.
            connect_sdk::tokio::time::sleep(wait.min(Duration::from_millis(500))).await;
            return Ok(Vec::new());
        }
        let connection = match self.connection.as_mut() {
            Some(connection) => connection,
            None => self.connection.insert(self.config.settings().connect().await?),
        };
        match next.poll(connection).await {
            Ok(records) => {
                self.failures = 0;
                Ok(records)
            }
            Err(error) if error.is_retriable() && self.failures + 1 < self.config.reconnect.connection_attempts => {
                self.failures += 1;
                connect_sdk::tracing::warn!(error = %error.trace(), "jdbc-source lost its connection; reconnecting");
                self.connection = None;
                connect_sdk::tokio::time::sleep(self.config.reconnect.backoff()).await;
                Ok(Vec::new())
            }
            Err(error) => Err(error),
        }
    }
}
