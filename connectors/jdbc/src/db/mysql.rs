//! MySQL and MariaDB through `mysql_async`, with prepared statements (the binary protocol)
//! and the session in UTC, so `TIMESTAMP` columns read and compare as UTC.

use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use connect_sdk::Error;
use connect_sdk::data::logical::Decimal;
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::Queryable;
use mysql_async::{Column, Conn, Opts, OptsBuilder, Params, Row, Value as MyValue};

use super::{ColumnKind, ConnectionSettings, ResultSet, SqlColumn, SqlValue, driver_error};

/// The character set number MySQL gives binary strings.
const BINARY_CHARSET: u16 = 63;

/// An open connection.
pub struct MySqlConnection {
    conn: Conn,
}

fn my_error(doing: &str, error: mysql_async::Error) -> Error {
    let lost = matches!(error, mysql_async::Error::Io(_) | mysql_async::Error::Driver(_));
    driver_error(doing, error, lost)
}

impl MySqlConnection {
    pub async fn connect(settings: &ConnectionSettings) -> Result<MySqlConnection, Error> {
        let opts = options(settings)?;
        let conn = Conn::new(opts).await.map_err(|e| my_error(&format!("cannot connect to {}", settings.url), e))?;
        Ok(MySqlConnection { conn })
    }

    pub async fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<ResultSet, Error> {
        let failed = |e| my_error(&format!("`{sql}` failed"), e);
        let mut result = self.conn.exec_iter(sql, params_of(params)?).await.map_err(failed)?;
        let columns: Vec<SqlColumn> = result
            .columns()
            .map(|columns| columns.iter().map(|c| SqlColumn { name: c.name_str().into_owned(), kind: kind_of(c) }).collect())
            .unwrap_or_default();
        let rows: Vec<Row> = result.collect().await.map_err(failed)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let values = row.unwrap();
            let cells = values.into_iter().zip(&columns).map(|(v, c)| cell(v, &c.kind)).collect::<Result<Vec<_>, _>>()?;
            out.push(cells);
        }
        Ok(ResultSet { columns, rows: out })
    }

    pub async fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, Error> {
        self.conn.exec_drop(sql, params_of(params)?).await.map_err(|e| my_error(&format!("`{sql}` failed"), e))?;
        Ok(self.conn.affected_rows())
    }

    pub async fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.conn.query_drop(sql).await.map_err(|e| my_error(&format!("`{sql}` failed"), e))
    }
}

/// The driver options of `settings`: the URL (`mysql://` or `mariadb://`), the user and
/// password, the session in UTC.
pub fn options(settings: &ConnectionSettings) -> Result<OptsBuilder, Error> {
    let url = settings.url.strip_prefix("jdbc:").unwrap_or(&settings.url);
    let url = url.strip_prefix("mariadb://").map_or_else(|| url.to_owned(), |rest| format!("mysql://{rest}"));
    let opts = Opts::from_url(&url).map_err(|e| Error::with_source(format!("connection.url {url:?} is not a MySQL URL"), e))?;
    let mut builder = OptsBuilder::from_opts(opts).init(vec!["SET time_zone = '+00:00'"]).stmt_cache_size(256);
    if let Some(user) = &settings.user {
        builder = builder.user(Some(user));
    }
    if let Some(password) = &settings.password {
        builder = builder.pass(Some(password));
    }
    Ok(builder)
}

fn params_of(params: &[SqlValue]) -> Result<Params, Error> {
    Ok(if params.is_empty() { Params::Empty } else { Params::Positional(params.iter().map(param).collect::<Result<_, _>>()?) })
}

/// The column kind of a result column.
fn kind_of(column: &Column) -> ColumnKind {
    let unsigned = column.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = column.character_set() == BINARY_CHARSET;
    match column.column_type() {
        ColumnType::MYSQL_TYPE_TINY if column.column_length() == 1 => ColumnKind::Boolean,
        ColumnType::MYSQL_TYPE_TINY if unsigned => ColumnKind::Int16,
        ColumnType::MYSQL_TYPE_TINY => ColumnKind::Int8,
        ColumnType::MYSQL_TYPE_SHORT if unsigned => ColumnKind::Int32,
        ColumnType::MYSQL_TYPE_SHORT => ColumnKind::Int16,
        ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_YEAR => ColumnKind::Int32,
        ColumnType::MYSQL_TYPE_LONG if unsigned => ColumnKind::Int64,
        ColumnType::MYSQL_TYPE_LONG => ColumnKind::Int32,
        ColumnType::MYSQL_TYPE_LONGLONG if unsigned => ColumnKind::Decimal(0),
        ColumnType::MYSQL_TYPE_LONGLONG => ColumnKind::Int64,
        ColumnType::MYSQL_TYPE_FLOAT => ColumnKind::Float32,
        ColumnType::MYSQL_TYPE_DOUBLE => ColumnKind::Float64,
        ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => ColumnKind::Decimal(i32::from(column.decimals())),
        ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => ColumnKind::Date,
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => ColumnKind::Time,
        ColumnType::MYSQL_TYPE_DATETIME
        | ColumnType::MYSQL_TYPE_DATETIME2
        | ColumnType::MYSQL_TYPE_TIMESTAMP
        | ColumnType::MYSQL_TYPE_TIMESTAMP2 => ColumnKind::Timestamp,
        ColumnType::MYSQL_TYPE_BIT if column.column_length() == 1 => ColumnKind::Boolean,
        ColumnType::MYSQL_TYPE_BIT | ColumnType::MYSQL_TYPE_GEOMETRY => ColumnKind::Bytes,
        ColumnType::MYSQL_TYPE_JSON | ColumnType::MYSQL_TYPE_ENUM | ColumnType::MYSQL_TYPE_SET => ColumnKind::Text,
        _ if binary => ColumnKind::Bytes,
        _ => ColumnKind::Text,
    }
}

/// Days since 1970-01-01 of a calendar date.
fn days_of(year: u16, month: u8, day: u8) -> Option<i32> {
    let date = NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day))?;
    Some((date - DateTime::UNIX_EPOCH.date_naive()).num_days() as i32)
}

/// Decodes a value of a column of `kind`.
pub fn cell(value: MyValue, kind: &ColumnKind) -> Result<SqlValue, Error> {
    let bad = |v: &MyValue| Error::other(format!("a {kind:?} column returned {v:?}"));
    Ok(match value {
        MyValue::NULL => SqlValue::Null,
        MyValue::Int(i) => SqlValue::Int(i),
        MyValue::UInt(u) => i64::try_from(u).map_or(SqlValue::Decimal(Decimal::new(i128::from(u), 0)), SqlValue::Int),
        MyValue::Float(f) => SqlValue::Float(f64::from(f)),
        MyValue::Double(f) => SqlValue::Float(f),
        MyValue::Bytes(bytes) => match kind {
            ColumnKind::Bytes => SqlValue::Bytes(bytes),
            ColumnKind::Boolean => SqlValue::Bool(bytes.iter().any(|b| *b != 0 && *b != b'0')),
            ColumnKind::Decimal(scale) => {
                let text = String::from_utf8_lossy(&bytes);
                SqlValue::Decimal(Decimal::parse(text.trim(), *scale).map_err(|e| Error::other(format!("{text}: {e}")))?)
            }
            _ => SqlValue::Text(String::from_utf8(bytes).map_err(|e| Error::with_source("a text column is not UTF-8", e))?),
        },
        ref date @ MyValue::Date(year, month, day, hour, minute, second, micros) => {
            let days = days_of(year, month, day).ok_or_else(|| bad(date))?;
            match kind {
                ColumnKind::Date => SqlValue::Date(days),
                _ => SqlValue::Timestamp(
                    i64::from(days) * 86_400_000_000
                        + (i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * 1_000_000
                        + i64::from(micros),
                ),
            }
        }
        MyValue::Time(negative, days, hours, minutes, seconds, micros) => {
            let total = ((i64::from(days) * 24 + i64::from(hours)) * 3600 + i64::from(minutes) * 60 + i64::from(seconds)) * 1_000_000
                + i64::from(micros);
            SqlValue::Time(if negative { -total } else { total })
        }
    })
}

/// The driver value of a parameter.
fn param(value: &SqlValue) -> Result<MyValue, Error> {
    Ok(match value {
        SqlValue::Null => MyValue::NULL,
        SqlValue::Bool(b) => MyValue::Int(i64::from(*b)),
        SqlValue::Int(i) => MyValue::Int(*i),
        SqlValue::Float(f) => MyValue::Double(*f),
        SqlValue::Decimal(d) => MyValue::Bytes(d.to_string().into_bytes()),
        SqlValue::Text(t) => MyValue::Bytes(t.clone().into_bytes()),
        SqlValue::Bytes(b) => MyValue::Bytes(b.clone()),
        SqlValue::Date(days) => {
            let date = DateTime::UNIX_EPOCH.date_naive() + chrono::Duration::days(i64::from(*days));
            MyValue::Date(date.year() as u16, date.month() as u8, date.day() as u8, 0, 0, 0, 0)
        }
        SqlValue::Time(micros) => {
            let (negative, total) = (*micros < 0, micros.unsigned_abs());
            let seconds = total / 1_000_000;
            let hours = seconds / 3600;
            MyValue::Time(
                negative,
                (hours / 24) as u32,
                (hours % 24) as u8,
                ((seconds / 60) % 60) as u8,
                (seconds % 60) as u8,
                (total % 1_000_000) as u32,
            )
        }
        SqlValue::Timestamp(micros) => match DateTime::from_timestamp_micros(*micros) {
            Some(at) => MyValue::Date(
                at.year() as u16,
                at.month() as u8,
                at.day() as u8,
                at.hour() as u8,
                at.minute() as u8,
                at.second() as u8,
                at.timestamp_subsec_micros(),
            ),
            None => return Err(Error::other(format!("timestamp {micros} µs is out of range"))),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_times_round_trip_through_driver_values() {
        for micros in [0i64, 1_700_000_000_123_456, -86_400_000_000, 951_782_400_000_001] {
            let value = param(&SqlValue::Timestamp(micros)).unwrap();
            assert_eq!(cell(value, &ColumnKind::Timestamp).unwrap(), SqlValue::Timestamp(micros));
        }
        for micros in [0i64, 3_600_000_001, -90_000_000_000] {
            assert_eq!(cell(param(&SqlValue::Time(micros)).unwrap(), &ColumnKind::Time).unwrap(), SqlValue::Time(micros));
        }
        assert_eq!(cell(param(&SqlValue::Date(19_000)).unwrap(), &ColumnKind::Date).unwrap(), SqlValue::Date(19_000));
    }
}
