//! The ordinary (non-replication) session: the catalog (columns, primary keys, publication
//! tables, slots), the publication's creation, and the snapshot read in the slot's exported
//! snapshot.

use std::error::Error as StdError;

use connect_sdk::config::ConfigError;
use connect_sdk::{Error, Result};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::tables::{Column, TableSchema};
use crate::types::{PgKind, SESSION_OPTIONS};

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Host name or IP address (or a socket directory, starting with `/`).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// User.
    pub user: String,
    /// Password (empty for trust or peer authentication).
    pub password: String,
}

impl Endpoint {
    /// The endpoint of `postgres://user:password@host:port/db`, with the credentials given
    /// separately taking precedence.
    pub fn parse(url: &str, user: Option<&str>, password: Option<&str>) -> Result<Endpoint, ConfigError> {
        let refused = |problem: String| ConfigError::new("connection.url", problem);
        let url = url.strip_prefix("jdbc:").unwrap_or(url);
        let config: tokio_postgres::Config = url.parse().map_err(|e| refused(format!("{url:?} is not a PostgreSQL URL: {e}")))?;
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
            None => return Err(refused(format!("{url:?} names no host"))),
        };
        let database = config.get_dbname().ok_or_else(|| refused(format!("{url:?} names no database")))?.to_owned();
        let user = user.or(config.get_user()).unwrap_or("postgres").to_owned();
        let password = password.map(str::to_owned).or_else(|| config.get_password().map(|p| String::from_utf8_lossy(p).into_owned()));
        Ok(Endpoint {
            host,
            port: config.get_ports().first().copied().unwrap_or(5432),
            database,
            user,
            password: password.unwrap_or_default(),
        })
    }

    fn config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config.host(&self.host).port(self.port).dbname(&self.database).user(&self.user).options(SESSION_OPTIONS);
        if !self.password.is_empty() {
            config.password(&self.password);
        }
        config
    }
}

/// A failure of the database: retriable when the connection was lost.
pub fn pg_error(doing: &str, error: tokio_postgres::Error) -> Error {
    let lost = error.is_closed() || error.source().is_some_and(|s| s.is::<std::io::Error>());
    let message = format!("{doing}: {}", error.as_db_error().map_or_else(|| error.to_string(), |db| db.message().to_owned()));
    if lost { Error::Retriable { message, source: Some(Box::new(error)) } } else { Error::with_source(message, error) }
}

/// `"name"` with inner quotes doubled.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with inner quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A session on the captured database.
pub struct Database {
    client: Client,
    _connection: connect_sdk::tokio::task::JoinHandle<()>,
}

impl Database {
    /// Connects (values come back in the pinned text forms, see [`SESSION_OPTIONS`]).
    pub async fn connect(endpoint: &Endpoint) -> Result<Database> {
        let (client, connection) = endpoint.config().connect(NoTls).await.map_err(|e| {
            pg_error(&format!("cannot connect to PostgreSQL at {}:{}/{}", endpoint.host, endpoint.port, endpoint.database), e)
        })?;
        let task = connect_sdk::tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Database { client, _connection: task })
    }

    /// Runs statements without results.
    pub async fn execute(&self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).await.map_err(|e| pg_error(&format!("`{sql}` failed"), e))
    }

    /// Rows of a simple query, each value in its text form.
    pub async fn rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let messages = self.client.simple_query(sql).await.map_err(|e| pg_error(&format!("`{sql}` failed"), e))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect()),
                _ => None,
            })
            .collect())
    }

    /// Fails unless the server writes logical WAL.
    pub async fn check_logical_wal(&self) -> Result<()> {
        let level = self.rows("SHOW wal_level").await?.into_iter().next().and_then(|r| r.into_iter().next().flatten()).unwrap_or_default();
        if level != "logical" {
            return Err(Error::other(format!(
                "PostgreSQL runs with wal_level={level}: logical replication needs wal_level=logical (ALTER SYSTEM SET wal_level = logical, then restart it)"
            )));
        }
        Ok(())
    }

    /// Whether the replication slot exists.
    pub async fn slot_exists(&self, slot: &str) -> Result<bool> {
        Ok(!self.rows(&format!("SELECT 1 FROM pg_replication_slots WHERE slot_name = {}", literal(slot))).await?.is_empty())
    }

    /// Drops the replication slot (waiting a moment for a session that still holds it to end).
    pub async fn drop_slot(&self, slot: &str) -> Result<()> {
        let sql = format!("SELECT pg_drop_replication_slot({})", literal(slot));
        let mut attempts = 0;
        loop {
            match self.client.simple_query(&sql).await {
                Ok(_) => return Ok(()),
                Err(e) if e.as_db_error().is_some_and(|db| db.code().code() == "55006") && attempts < 60 => {
                    attempts += 1;
                    connect_sdk::tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Err(e) => return Err(pg_error(&format!("cannot drop the replication slot {slot}"), e)),
            }
        }
    }

    /// Creates the publication when missing: for all tables, or for `tables` (`schema.table`).
    pub async fn ensure_publication(&self, publication: &str, tables: Option<&[String]>) -> Result<()> {
        if !self.rows(&format!("SELECT 1 FROM pg_publication WHERE pubname = {}", literal(publication))).await?.is_empty() {
            return Ok(());
        }
        let what = match tables {
            None => "FOR ALL TABLES".to_owned(),
            Some([]) => String::new(),
            Some(tables) => {
                let names: Vec<String> = tables
                    .iter()
                    .map(|t| t.split_once('.').map_or_else(|| quote(t), |(s, t)| format!("{}.{}", quote(s), quote(t))))
                    .collect();
                format!("FOR TABLE {}", names.join(", "))
            }
        };
        self.execute(&format!("CREATE PUBLICATION {} {what}", quote(publication))).await.map_err(|e| {
            Error::other(format!("cannot create publication {publication} (create it yourself, or grant the user CREATE on the database and ownership of the tables): {e}"))
        })
    }

    /// The ordinary tables, `schema.table`, outside the system schemas.
    pub async fn user_tables(&self) -> Result<Vec<(String, String)>> {
        let sql = "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                   WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
                   ORDER BY 1, 2";
        Ok(self.rows(sql).await?.into_iter().filter_map(|r| Some((r[0].clone()?, r[1].clone()?))).collect())
    }

    /// The tables a publication publishes.
    pub async fn publication_tables(&self, publication: &str) -> Result<Vec<(String, String)>> {
        let sql = format!("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = {} ORDER BY 1, 2", literal(publication));
        Ok(self.rows(&sql).await?.into_iter().filter_map(|r| Some((r[0].clone()?, r[1].clone()?))).collect())
    }

    /// The primary key's columns of the table with this OID (empty without one).
    pub async fn primary_key(&self, relation: u32) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = {relation} AND i.indisprimary"
        );
        Ok(self.rows(&sql).await?.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect())
    }

    /// The published columns of `schema.table` as `pgoutput` describes them (no dropped or
    /// generated columns), with the primary key; `None` when the table does not exist.
    pub async fn table(&self, prefix: &str, namespace: &str, table: &str) -> Result<Option<TableSchema>> {
        let name = literal(&format!("{}.{}", quote(namespace), quote(table)));
        let sql = format!(
            "SELECT a.attname, a.atttypid, a.atttypmod, coalesce(a.attnum = ANY(i.indkey), false) \
             FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
             WHERE a.attrelid = to_regclass({name}) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum"
        );
        let rows = self.rows(&sql).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let columns = rows
            .into_iter()
            .map(|r| {
                let number = |i: usize| r[i].as_deref().and_then(|v| v.parse::<i64>().ok()).unwrap_or(-1);
                Column {
                    name: r[0].clone().unwrap_or_default(),
                    kind: PgKind::of(number(1) as u32, number(2) as i32),
                    key: r[3].as_deref() == Some("t"),
                }
            })
            .collect();
        Ok(Some(TableSchema::new(prefix, namespace, table, columns)))
    }

    /// Starts the snapshot's transaction in the slot's exported snapshot.
    pub async fn begin_snapshot(&self, snapshot: &str) -> Result<()> {
        self.execute(&format!("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}", literal(snapshot))).await
    }

    /// The rows of a table: counted (in the transaction this session is in) when PostgreSQL
    /// estimates fewer than [`connect_cdc::COUNT_ROWS_BELOW`] or has no estimate yet (never
    /// analyzed), else the estimate.
    pub async fn row_count(&self, table: &TableSchema) -> Result<u64> {
        let from = format!("{}.{}", quote(&table.namespace), quote(&table.table));
        let number = |rows: Vec<Vec<Option<String>>>| -> Option<f64> { rows.into_iter().next()?.into_iter().next()??.parse().ok() };
        let estimate = number(self.rows(&format!("SELECT reltuples FROM pg_class WHERE oid = to_regclass({})", literal(&from))).await?);
        if let Some(estimate) = estimate.filter(|e| *e >= connect_cdc::COUNT_ROWS_BELOW as f64) {
            return Ok(estimate as u64);
        }
        Ok(number(self.rows(&format!("SELECT count(*) FROM {from}")).await?).unwrap_or_default() as u64)
    }

    /// Bytes of WAL written after `lsn` (`None` where the server cannot tell, as on a standby).
    pub async fn wal_bytes_after(&self, lsn: &str) -> Option<u64> {
        let sql = format!("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), {})::bigint", literal(lsn));
        let rows = self.rows(&sql).await.ok()?;
        let bytes: i64 = rows.into_iter().next()?.into_iter().next()??.parse().ok()?;
        Some(bytes.max(0) as u64)
    }

    /// Opens the cursor `name` over every row of a table.
    pub async fn declare(&self, name: &str, table: &TableSchema) -> Result<()> {
        let columns: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
        let from = format!("{}.{}", quote(&table.namespace), quote(&table.table));
        self.execute(&format!("DECLARE {name} NO SCROLL CURSOR FOR SELECT {} FROM {from}", columns.join(", "))).await
    }

    /// The next `count` rows of cursor `name` (fewer at its end).
    pub async fn fetch(&self, name: &str, count: usize) -> Result<Vec<Vec<Option<String>>>> {
        self.rows(&format!("FETCH {count} FROM {name}")).await
    }
}
