//! One connection to PostgreSQL or MySQL/MariaDB behind one interface: queries with bound
//! parameters return rows of [`SqlValue`]s described by [`SqlColumn`]s, whatever the driver.

mod mysql;
mod postgres;
mod types;

use connect_sdk::config::groups::{Credentials, Reconnect};
use std::time::Duration;

use connect_sdk::Error;

pub use types::{ColumnKind, DEBEZIUM_DATE, DEBEZIUM_TIMESTAMP, MICRO_TIME, MICRO_TIMESTAMP, SqlColumn, SqlValue};

/// Which SQL dialect a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl Dialect {
    /// The dialect of a `postgres://`, `postgresql://`, `mysql://` or `mariadb://` URL (a
    /// `jdbc:` prefix, as Kafka's JDBC connector takes it, is accepted).
    pub fn of_url(url: &str) -> Option<Dialect> {
        let url = url.strip_prefix("jdbc:").unwrap_or(url);
        let scheme = url.split_once("://")?.0;
        match scheme {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::MySql),
            _ => None,
        }
    }

    /// Quotes an identifier; a dotted name (`schema.table`) is quoted part by part.
    pub fn quote(self, name: &str) -> String {
        let (open, close) = match self {
            Dialect::Postgres => ('"', '"'),
            Dialect::MySql => ('`', '`'),
        };
        name.split('.')
            .map(|part| format!("{open}{}{close}", part.replace(close, &format!("{close}{close}"))))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The placeholder of the `n`-th parameter (from 1).
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::MySql => "?".to_owned(),
        }
    }

    /// The column type `auto.create` uses for a kind of value.
    pub fn column_type(self, kind: &ColumnKind) -> String {
        use ColumnKind::*;
        let postgres = self == Dialect::Postgres;
        match kind {
            Boolean => if postgres { "BOOLEAN" } else { "TINYINT(1)" }.to_owned(),
            Int8 | Int16 => "SMALLINT".to_owned(),
            Int32 => "INT".to_owned(),
            Int64 => "BIGINT".to_owned(),
            Float32 => "REAL".to_owned(),
            Float64 => if postgres { "DOUBLE PRECISION" } else { "DOUBLE" }.to_owned(),
            Decimal(scale) => format!("DECIMAL(38,{scale})"),
            // MySQL cannot index TEXT without a length: keys become VARCHAR (see `key_column_type`).
            Text => "TEXT".to_owned(),
            Bytes => if postgres { "BYTEA" } else { "LONGBLOB" }.to_owned(),
            Date => "DATE".to_owned(),
            Time | MicroTime => "TIME(6)".to_owned(),
            Timestamp | MicroTimestamp => if postgres { "TIMESTAMP(6)" } else { "DATETIME(6)" }.to_owned(),
        }
    }

    /// The column type of a primary-key column (MySQL keys need a bounded length).
    pub fn key_column_type(self, kind: &ColumnKind) -> String {
        match (self, kind) {
            (Dialect::MySql, ColumnKind::Text) => "VARCHAR(255)".to_owned(),
            (Dialect::MySql, ColumnKind::Bytes) => "VARBINARY(255)".to_owned(),
            _ => self.column_type(kind),
        }
    }
}

/// Rows a query returned.
#[derive(Debug, Default)]
pub struct ResultSet {
    /// The columns, in select order.
    pub columns: Vec<SqlColumn>,
    /// One value per column in each row.
    pub rows: Vec<Vec<SqlValue>>,
}

/// An open connection to PostgreSQL or MySQL/MariaDB.
pub struct Connection(Driver);

enum Driver {
    Postgres(Box<postgres::PgConnection>),
    MySql(mysql::MySqlConnection),
}

/// Where and how to connect: `connection.url`, `connection.user`, `connection.password`,
/// and how often to try.
#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    /// `postgres://host:port/db` or `mysql://host:port/db` (optionally with `jdbc:` in front).
    pub url: String,
    /// User, when not in the URL.
    pub user: Option<String>,
    /// Password, when not in the URL.
    pub password: Option<String>,
    /// Attempts before giving up (at least 1).
    pub attempts: u32,
    /// Wait between attempts.
    pub backoff: Duration,
}

impl ConnectionSettings {
    /// Settings from a connector's `connection.*` keys.
    pub fn new<const A: u32, const B: u64>(url: &str, credentials: &Credentials, reconnect: &Reconnect<A, B>) -> ConnectionSettings {
        ConnectionSettings {
            url: url.to_owned(),
            user: credentials.connection_user.clone(),
            password: credentials.connection_password.clone(),
            attempts: reconnect.connection_attempts,
            backoff: reconnect.backoff(),
        }
    }

    /// The dialect of the URL (checked by the connectors' validation).
    pub fn dialect(&self) -> Result<Dialect, Error> {
        Dialect::of_url(&self.url)
            .ok_or_else(|| Error::other(format!("unsupported connection.url {:?}: use postgres://... or mysql://...", self.url)))
    }

    /// The `mysql_async` options of a MySQL/MariaDB URL (for clients of the replication
    /// protocol, which need a driver connection of their own).
    pub fn mysql_options(&self) -> Result<mysql_async::OptsBuilder, Error> {
        mysql::options(self)
    }

    /// Connects, trying `attempts` times `backoff` apart; the last failure is retriable.
    pub async fn connect(&self) -> Result<Connection, Error> {
        let mut attempt = 1;
        loop {
            let result = match self.dialect()? {
                Dialect::Postgres => postgres::PgConnection::connect(self).await.map(|c| Connection(Driver::Postgres(Box::new(c)))),
                Dialect::MySql => mysql::MySqlConnection::connect(self).await.map(|c| Connection(Driver::MySql(c))),
            };
            match result {
                Ok(connection) => return Ok(connection),
                Err(error) if attempt >= self.attempts.max(1) => return Err(error),
                Err(_) => {
                    attempt += 1;
                    connect_sdk::tokio::time::sleep(self.backoff).await;
                }
            }
        }
    }
}

impl Connection {
    /// Its dialect.
    pub fn dialect(&self) -> Dialect {
        match self.0 {
            Driver::Postgres(_) => Dialect::Postgres,
            Driver::MySql(_) => Dialect::MySql,
        }
    }

    /// Runs a query with parameters (`$1`.. or `?`, see [`Dialect::placeholder`]).
    pub async fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<ResultSet, Error> {
        match &mut self.0 {
            Driver::Postgres(c) => c.query(sql, params).await,
            Driver::MySql(c) => c.query(sql, params).await,
        }
    }

    /// Runs a statement with parameters; returns the rows it affected.
    pub async fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, Error> {
        match &mut self.0 {
            Driver::Postgres(c) => c.execute(sql, params).await,
            Driver::MySql(c) => c.execute(sql, params).await,
        }
    }

    /// Runs statements without parameters (DDL, `BEGIN`, `COMMIT`).
    pub async fn batch(&mut self, sql: &str) -> Result<(), Error> {
        match &mut self.0 {
            Driver::Postgres(c) => c.batch(sql).await,
            Driver::MySql(c) => c.batch(sql).await,
        }
    }

    /// Runs a `CREATE TABLE IF NOT EXISTS` statement. Two tasks creating one table at once can
    /// make PostgreSQL refuse the second (its `IF NOT EXISTS` is not safe against a concurrent
    /// create: a unique violation in its catalog); the statement is tried once more, and then
    /// finds the table.
    pub async fn create_if_missing(&mut self, sql: &str) -> Result<(), Error> {
        match self.batch(sql).await {
            Ok(()) => Ok(()),
            Err(_) => {
                connect_sdk::tokio::time::sleep(Duration::from_millis(200)).await;
                self.batch(sql).await
            }
        }
    }

    /// The tables (and views) of the connection's current schema / database.
    pub async fn tables(&mut self, include_views: bool) -> Result<Vec<String>, Error> {
        let types = if include_views { "('BASE TABLE', 'VIEW')" } else { "('BASE TABLE')" };
        let sql = match self.dialect() {
            Dialect::Postgres => format!(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type IN {types} ORDER BY 1"
            ),
            Dialect::MySql => format!(
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type IN {types} ORDER BY 1"
            ),
        };
        let result = self.query(&sql, &[]).await?;
        Ok(result.rows.into_iter().filter_map(|row| row.into_iter().next()).filter_map(SqlValue::into_text).collect())
    }

    /// The column names of `table` (`schema.table`, or a table of the current schema /
    /// database); empty when there is no such table.
    pub async fn columns(&mut self, table: &str) -> Result<Vec<String>, Error> {
        let (schema, name) = match table.rsplit_once('.') {
            Some((schema, name)) => (Some(schema), name),
            None => (None, table),
        };
        let sql = match (self.dialect(), schema) {
            (Dialect::Postgres, None) => {
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
            }
            (Dialect::Postgres, Some(_)) => {
                "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 AND table_schema = $2 ORDER BY ordinal_position"
            }
            (Dialect::MySql, None) => {
                "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"
            }
            (Dialect::MySql, Some(_)) => {
                "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_name = ? AND table_schema = ? ORDER BY ordinal_position"
            }
        };
        let mut params = vec![SqlValue::Text(name.to_owned())];
        params.extend(schema.map(|s| SqlValue::Text(s.to_owned())));
        let result = self.query(sql, &params).await?;
        Ok(result.rows.into_iter().filter_map(|row| row.into_iter().next()).filter_map(SqlValue::into_text).collect())
    }

    /// The database's current time (UTC, µs since the epoch): the upper bound of timestamp
    /// queries, so the worker's clock does not matter.
    pub async fn now_micros(&mut self) -> Result<i64, Error> {
        let sql = match self.dialect() {
            Dialect::Postgres => "SELECT (now() AT TIME ZONE 'UTC')",
            Dialect::MySql => "SELECT UTC_TIMESTAMP(6)",
        };
        match self.query(sql, &[]).await?.rows.pop().and_then(|row| row.into_iter().next()) {
            Some(SqlValue::Timestamp(micros)) => Ok(micros),
            other => Err(Error::other(format!("the database's current time came back as {other:?}"))),
        }
    }
}

/// The SQL value of a `mysql_async` value read from a column of `kind` (what queries return;
/// change data capture reads binlog values with it too).
pub fn mysql_value(value: mysql_async::Value, kind: &ColumnKind) -> Result<SqlValue, Error> {
    mysql::cell(value, kind)
}

/// A driver error as the SDK's error: lost connections are retriable.
fn driver_error(doing: &str, error: impl std::error::Error + Send + Sync + 'static, connection_lost: bool) -> Error {
    if connection_lost {
        Error::Retriable { message: format!("{doing}: {error}"), source: Some(Box::new(error)) }
    } else {
        Error::with_source(doing.to_owned(), error)
    }
}
