//! PostgreSQL through `tokio-postgres`: values decoded from and encoded to the binary wire
//! format by column type, so every statement is prepared once and bound with typed values.

use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use connect_sdk::Error;
use connect_sdk::data::logical::Decimal;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Statement};

use super::{ColumnKind, ConnectionSettings, ResultSet, SqlColumn, SqlValue, driver_error};

/// Days and µs between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
const EPOCH_DAYS: i32 = 10_957;
const EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A client, its connection task, and the statements it prepared.
pub struct PgConnection {
    client: Client,
    statements: HashMap<String, Statement>,
    _connection: connect_sdk::tokio::task::JoinHandle<()>,
}

fn pg_error(doing: &str, error: tokio_postgres::Error) -> Error {
    let lost = error.is_closed() || error.source().is_some_and(|s| s.is::<std::io::Error>());
    driver_error(doing, error, lost)
}

impl PgConnection {
    pub async fn connect(settings: &ConnectionSettings) -> Result<PgConnection, Error> {
        let url = settings.url.strip_prefix("jdbc:").unwrap_or(&settings.url);
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| Error::with_source(format!("connection.url {url:?} is not a PostgreSQL URL"), e))?;
        if let Some(user) = &settings.user {
            config.user(user);
        }
        if let Some(password) = &settings.password {
            config.password(password);
        }
        let (client, connection) = config.connect(NoTls).await.map_err(|e| pg_error(&format!("cannot connect to {url}"), e))?;
        let task = connect_sdk::tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(PgConnection { client, statements: HashMap::new(), _connection: task })
    }

    async fn prepared(&mut self, sql: &str) -> Result<Statement, Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await.map_err(|e| pg_error(&format!("cannot prepare `{sql}`"), e))?;
        if self.statements.len() >= 256 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub async fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<ResultSet, Error> {
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let mut statement = self.prepared(sql).await?;
        let rows = match self.client.query(&statement, &params).await {
            // The table changed under a prepared `SELECT *` (a column added or retyped):
            // prepared again, it returns the new columns.
            Err(e) if stale_plan(&e) => {
                self.statements.remove(sql);
                statement = self.prepared(sql).await?;
                self.client.query(&statement, &params).await
            }
            answer => answer,
        }
        .map_err(|e| pg_error(&format!("`{sql}` failed"), e))?;
        let columns: Vec<SqlColumn> = statement
            .columns()
            .iter()
            .map(|c| SqlColumn { name: c.name().to_owned(), kind: kind_of(c.type_(), c.type_modifier()) })
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(columns.len());
            for (i, column) in columns.iter().enumerate() {
                let cell: Cell = row.try_get(i).map_err(|e| pg_error(&format!("cannot read column {}", column.name), e))?;
                values.push(cell.0);
            }
            out.push(values);
        }
        Ok(ResultSet { columns, rows: out })
    }

    pub async fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, Error> {
        let statement = self.prepared(sql).await?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client.execute(&statement, &params).await.map_err(|e| pg_error(&format!("`{sql}` failed"), e))
    }

    pub async fn batch(&mut self, sql: &str) -> Result<(), Error> {
        // DDL may change what prepared statements return.
        self.statements.clear();
        self.client.batch_execute(sql).await.map_err(|e| pg_error(&format!("`{sql}` failed"), e))
    }
}

/// PostgreSQL refuses a prepared statement whose result columns changed since it was prepared
/// ("cached plan must not change result type").
fn stale_plan(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED)
}

/// The column kind of a PostgreSQL type (with its modifier: the scale of a `numeric(p, s)`).
fn kind_of(ty: &Type, modifier: i32) -> ColumnKind {
    match *ty {
        Type::BOOL => ColumnKind::Boolean,
        Type::INT2 => ColumnKind::Int16,
        Type::INT4 => ColumnKind::Int32,
        Type::INT8 | Type::OID => ColumnKind::Int64,
        Type::FLOAT4 => ColumnKind::Float32,
        Type::FLOAT8 => ColumnKind::Float64,
        // An unconstrained numeric has no scale a schema could name: its text is exact.
        Type::NUMERIC if modifier >= 4 => ColumnKind::Decimal((modifier - 4) & 0xffff),
        Type::BYTEA => ColumnKind::Bytes,
        Type::DATE => ColumnKind::Date,
        Type::TIME => ColumnKind::Time,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => ColumnKind::Timestamp,
        _ if is_textual(ty) => ColumnKind::Text,
        _ => ColumnKind::Bytes,
    }
}

/// Types read and written as text (with `Type::NUMERIC` unconstrained, UUIDs and JSON).
fn is_textual(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT
            | Type::VARCHAR
            | Type::BPCHAR
            | Type::NAME
            | Type::UNKNOWN
            | Type::JSON
            | Type::JSONB
            | Type::UUID
            | Type::NUMERIC
            | Type::XML
    ) || matches!(ty.kind(), Kind::Enum(_))
        || ty.name() == "citext"
}

/// A value decoded from any column.
struct Cell(SqlValue);

type BoxError = Box<dyn StdError + Sync + Send>;

fn be<const N: usize>(raw: &[u8]) -> Result<[u8; N], BoxError> {
    raw.try_into().map_err(|_| format!("expected {N} bytes, got {}", raw.len()).into())
}

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, BoxError> {
        let text = || -> Result<String, BoxError> { Ok(std::str::from_utf8(raw)?.to_owned()) };
        Ok(Cell(match *ty {
            Type::BOOL => SqlValue::Bool(raw.first().is_some_and(|b| *b != 0)),
            Type::INT2 => SqlValue::Int(i64::from(i16::from_be_bytes(be(raw)?))),
            Type::INT4 => SqlValue::Int(i64::from(i32::from_be_bytes(be(raw)?))),
            Type::OID => SqlValue::Int(i64::from(u32::from_be_bytes(be(raw)?))),
            Type::INT8 => SqlValue::Int(i64::from_be_bytes(be(raw)?)),
            Type::FLOAT4 => SqlValue::Float(f64::from(f32::from_be_bytes(be(raw)?))),
            Type::FLOAT8 => SqlValue::Float(f64::from_be_bytes(be(raw)?)),
            Type::NUMERIC => SqlValue::Decimal(decode_numeric(raw)?),
            Type::BYTEA => SqlValue::Bytes(raw.to_vec()),
            Type::DATE => SqlValue::Date(i32::from_be_bytes(be(raw)?).saturating_add(EPOCH_DAYS)),
            Type::TIME => SqlValue::Time(i64::from_be_bytes(be(raw)?)),
            Type::TIMESTAMP | Type::TIMESTAMPTZ => SqlValue::Timestamp(i64::from_be_bytes(be(raw)?).saturating_add(EPOCH_MICROS)),
            Type::UUID => SqlValue::Text(uuid_text(&be::<16>(raw)?)),
            Type::JSONB => SqlValue::Text(std::str::from_utf8(raw.get(1..).unwrap_or_default())?.to_owned()),
            _ if is_textual(ty) => SqlValue::Text(text()?),
            _ => SqlValue::Bytes(raw.to_vec()),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Cell, BoxError> {
        Ok(Cell(SqlValue::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn parse_uuid(text: &str) -> Result<[u8; 16], BoxError> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return Err(format!("{text:?} is not a UUID").into());
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(out)
}

/// Decodes PostgreSQL's binary numeric: base-10000 digits, a weight, a sign and a scale.
fn decode_numeric(raw: &[u8]) -> Result<Decimal, BoxError> {
    let word = |i: usize| -> Result<u16, BoxError> { Ok(u16::from_be_bytes(be(raw.get(2 * i..2 * i + 2).unwrap_or_default())?)) };
    let (ndigits, weight, sign, dscale) = (word(0)? as usize, word(1)? as i16, word(2)?, word(3)? as i32);
    if sign == 0xC000 {
        return Err("NaN cannot be read as a decimal".into());
    }
    let overflow = || -> BoxError { "a numeric value has more than 38 digits".into() };
    let mut unscaled: i128 = 0;
    for i in 0..ndigits {
        let digit = i128::from(word(4 + i)?);
        unscaled = unscaled.checked_mul(10_000).and_then(|u| u.checked_add(digit)).ok_or_else(overflow)?;
    }
    // `unscaled` holds the value times 10^(4 × (ndigits - 1 - weight)).
    let fraction_digits = 4 * (ndigits as i32 - 1 - i32::from(weight));
    let shift = dscale - fraction_digits;
    if shift >= 0 {
        unscaled = unscaled.checked_mul(10i128.checked_pow(shift as u32).ok_or_else(overflow)?).ok_or_else(overflow)?;
    } else {
        unscaled /= 10i128.checked_pow((-shift) as u32).ok_or_else(overflow)?;
    }
    Ok(Decimal::new(if sign == 0x4000 { -unscaled } else { unscaled }, dscale))
}

/// Encodes a decimal as PostgreSQL's binary numeric.
fn encode_numeric(d: Decimal, out: &mut BytesMut) {
    let d = if d.scale < 0 { Decimal::new(d.unscaled * 10i128.pow((-d.scale) as u32), 0) } else { d };
    let scale = d.scale as usize;
    let digits = format!("{:0>width$}", d.unscaled.unsigned_abs(), width = scale + 1);
    let (int_part, frac_part) = digits.split_at(digits.len() - scale);
    let int_padded = format!("{}{int_part}", "0".repeat((4 - int_part.len() % 4) % 4));
    let frac_padded = format!("{frac_part}{}", "0".repeat((4 - frac_part.len() % 4) % 4));
    let group =
        |s: &str| -> Vec<i16> { s.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or("0").parse().unwrap_or(0)).collect() };
    let mut groups = group(&int_padded);
    let mut weight = groups.len() as i16 - 1;
    groups.extend(group(&frac_padded));
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i16(groups.len() as i16);
    out.put_i16(weight);
    out.put_u16(if d.unscaled < 0 { 0x4000 } else { 0 });
    out.put_u16(d.scale as u16);
    groups.into_iter().for_each(|g| out.put_i16(g));
}

impl ToSql for SqlValue {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let mismatch = || -> BoxError { format!("{self:?} cannot be written to a {ty} column").into() };
        let int = |range: std::ops::RangeInclusive<i64>| -> Result<i64, BoxError> {
            let i = match self {
                SqlValue::Int(i) => *i,
                SqlValue::Bool(b) => i64::from(*b),
                SqlValue::Decimal(d) if d.scale == 0 => i64::try_from(d.unscaled)?,
                SqlValue::Text(t) => t.trim().parse()?,
                _ => return Err(mismatch()),
            };
            if range.contains(&i) { Ok(i) } else { Err(format!("{i} is out of range for a {ty} column").into()) }
        };
        let float = || -> Result<f64, BoxError> {
            match self {
                SqlValue::Float(f) => Ok(*f),
                SqlValue::Int(i) => Ok(*i as f64),
                SqlValue::Decimal(d) => Ok(d.to_f64()),
                SqlValue::Text(t) => Ok(t.trim().parse()?),
                _ => Err(mismatch()),
            }
        };
        match (*ty).clone() {
            _ if *self == SqlValue::Null => return Ok(IsNull::Yes),
            Type::BOOL => out.put_u8(match self {
                SqlValue::Bool(b) => u8::from(*b),
                SqlValue::Int(i) => u8::from(*i != 0),
                SqlValue::Text(t) => u8::from(matches!(t.as_str(), "true" | "t" | "1")),
                _ => return Err(mismatch()),
            }),
            Type::INT2 => out.put_i16(int(i64::from(i16::MIN)..=i64::from(i16::MAX))? as i16),
            Type::INT4 => out.put_i32(int(i64::from(i32::MIN)..=i64::from(i32::MAX))? as i32),
            Type::INT8 => out.put_i64(int(i64::MIN..=i64::MAX)?),
            Type::FLOAT4 => out.put_f32(float()? as f32),
            Type::FLOAT8 => out.put_f64(float()?),
            Type::NUMERIC => encode_numeric(
                match self {
                    SqlValue::Decimal(d) => *d,
                    SqlValue::Int(i) => Decimal::new(i128::from(*i), 0),
                    SqlValue::Float(f) => parse_decimal(&f.to_string())?,
                    SqlValue::Text(t) => parse_decimal(t.trim())?,
                    _ => return Err(mismatch()),
                },
                out,
            ),
            Type::BYTEA => match self {
                SqlValue::Bytes(b) => out.put_slice(b),
                SqlValue::Text(t) => out.put_slice(t.as_bytes()),
                _ => return Err(mismatch()),
            },
            Type::DATE => out.put_i32(match self {
                SqlValue::Date(days) => days - EPOCH_DAYS,
                SqlValue::Timestamp(micros) => (micros.div_euclid(86_400_000_000) as i32) - EPOCH_DAYS,
                _ => return Err(mismatch()),
            }),
            Type::TIME => match self {
                SqlValue::Time(micros) => out.put_i64(*micros),
                _ => return Err(mismatch()),
            },
            Type::TIMESTAMP | Type::TIMESTAMPTZ => out.put_i64(match self {
                SqlValue::Timestamp(micros) => micros - EPOCH_MICROS,
                SqlValue::Date(days) => i64::from(*days) * 86_400_000_000 - EPOCH_MICROS,
                _ => return Err(mismatch()),
            }),
            Type::UUID => match self {
                SqlValue::Text(t) => out.put_slice(&parse_uuid(t)?),
                _ => return Err(mismatch()),
            },
            Type::JSONB => {
                out.put_u8(1);
                out.put_slice(as_text(self).ok_or_else(mismatch)?.as_bytes());
            }
            _ if is_textual(ty) => out.put_slice(as_text(self).ok_or_else(mismatch)?.as_bytes()),
            _ => return Err(mismatch()),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The text of a value written to a text column.
fn as_text(value: &SqlValue) -> Option<String> {
    Some(match value {
        SqlValue::Text(t) => t.clone(),
        SqlValue::Int(i) => i.to_string(),
        SqlValue::Float(f) => f.to_string(),
        SqlValue::Decimal(d) => d.to_string(),
        SqlValue::Bool(b) => b.to_string(),
        SqlValue::Bytes(b) => String::from_utf8(b.clone()).ok()?,
        _ => return None,
    })
}

fn parse_decimal(text: &str) -> Result<Decimal, BoxError> {
    let scale = text.split_once('.').map_or(0, |(_, frac)| frac.len()) as i32;
    Ok(Decimal::parse(text, scale)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_round_trip_through_the_wire_format() {
        for (unscaled, scale) in
            [(0i128, 0), (1, 0), (-1, 2), (123_456_789, 4), (10_000, 0), (5, 6), (-99_990_000, 3), (i64::MAX as i128, 2)]
        {
            let d = Decimal::new(unscaled, scale);
            let mut buf = BytesMut::new();
            encode_numeric(d, &mut buf);
            assert_eq!(decode_numeric(&buf).unwrap(), d, "{d}");
        }
    }

    #[test]
    fn uuids_print_and_parse() {
        let text = "123e4567-e89b-12d3-a456-426614174000";
        assert_eq!(uuid_text(&parse_uuid(text).unwrap()), text);
    }
}
