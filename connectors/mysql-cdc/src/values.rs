//! Binlog row values as [`SqlValue`]s: the binlog writes unsigned integers as signed, enums as
//! indexes, sets as bit masks, `TIMESTAMP` as epoch seconds and decimals and years as text,
//! so each value is read with what `information_schema` says of its column.

use connect_jdbc::db::{ColumnKind, SqlValue, mysql_value};
use connect_sdk::data::logical::Decimal;
use connect_sdk::prelude::*;
use mysql_async::Value as MyValue;
use mysql_async::binlog::value::BinlogValue;

use crate::schema::CdcColumn;

/// The value of `column` in a binlog row image.
pub fn from_binlog(column: &CdcColumn, value: BinlogValue<'static>) -> Result<SqlValue> {
    let value = match value {
        BinlogValue::Value(value) => value,
        json @ BinlogValue::Jsonb(_) => {
            MyValue::try_from(json).map_err(|e| Error::with_source(format!("column {}: bad JSON", column.name), e))?
        }
        BinlogValue::JsonDiff(_) => {
            return Err(Error::other(format!(
                "column {}: partial JSON updates are not supported; set binlog_row_value_options=''",
                column.name
            )));
        }
    };
    let bad = |what: &str| Error::other(format!("column {} ({:?}): unexpected binlog value {what}", column.name, column.kind));
    Ok(match value {
        MyValue::Int(i) if !column.labels.is_empty() && column.is_enum => SqlValue::Text(enum_label(column, i)),
        MyValue::Int(i) if column.unsigned_bits > 0 && i < 0 => {
            let unsigned = i128::from(i) + (1i128 << column.unsigned_bits);
            match i64::try_from(unsigned) {
                Ok(fits) => SqlValue::Int(fits),
                Err(_) => SqlValue::Decimal(Decimal::new(unsigned, 0)),
            }
        }
        // A pre-5.6 TIMESTAMP: seconds since the epoch.
        MyValue::Int(seconds) if matches!(column.kind, ColumnKind::Timestamp | ColumnKind::MicroTimestamp) => {
            SqlValue::Timestamp(seconds * 1_000_000)
        }
        // TIMESTAMP(n): `seconds[.micros]` since the epoch.
        MyValue::Bytes(bytes) if matches!(column.kind, ColumnKind::Timestamp | ColumnKind::MicroTimestamp) => {
            let text = String::from_utf8_lossy(&bytes);
            let (seconds, fraction) = text.split_once('.').unwrap_or((&text, ""));
            let seconds: i64 = seconds.parse().map_err(|_| bad(&text))?;
            let micros: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<6}")[..6].parse().map_err(|_| bad(&text))? };
            SqlValue::Timestamp(seconds * 1_000_000 + micros)
        }
        // YEAR, as text.
        MyValue::Bytes(bytes) if matches!(column.kind, ColumnKind::Int16 | ColumnKind::Int32 | ColumnKind::Int64) => {
            let text = String::from_utf8_lossy(&bytes);
            SqlValue::Int(text.trim().parse().map_err(|_| bad(&text))?)
        }
        MyValue::Bytes(bytes) if column.kind == ColumnKind::Text && !column.labels.is_empty() => SqlValue::Text(set_labels(column, &bytes)),
        // MySQL's zero date has no calendar day: it reads as null, as Debezium reads it.
        MyValue::Date(0, 0, 0, ..) => SqlValue::Null,
        other => mysql_value(other, &column.kind)?,
    })
}

fn enum_label(column: &CdcColumn, index: i64) -> String {
    usize::try_from(index).ok().and_then(|i| i.checked_sub(1)).and_then(|i| column.labels.get(i)).cloned().unwrap_or_default()
}

fn set_labels(column: &CdcColumn, mask: &[u8]) -> String {
    let mut bits = [0u8; 8];
    for (i, byte) in mask.iter().take(8).enumerate() {
        bits[i] = *byte;
    }
    let mask = u64::from_le_bytes(bits);
    column.labels.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, l)| l.as_str()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(kind: ColumnKind, unsigned_bits: u32, labels: &[&str], is_enum: bool) -> CdcColumn {
        CdcColumn { name: "c".into(), kind, unsigned_bits, labels: labels.iter().map(|s| s.to_string()).collect(), is_enum, key: false }
    }

    #[test]
    fn binlog_encodings_are_read_by_column() {
        let v = |c: &CdcColumn, value: MyValue| from_binlog(c, BinlogValue::Value(value)).unwrap();
        assert_eq!(v(&column(ColumnKind::Int64, 32, &[], false), MyValue::Int(-1)), SqlValue::Int(4_294_967_295));
        assert_eq!(
            v(&column(ColumnKind::Decimal(0), 64, &[], false), MyValue::Int(-1)),
            SqlValue::Decimal(Decimal::new(u64::MAX.into(), 0))
        );
        assert_eq!(v(&column(ColumnKind::Text, 0, &["new", "done"], true), MyValue::Int(2)), SqlValue::Text("done".into()));
        assert_eq!(v(&column(ColumnKind::Text, 0, &["a", "b", "c"], false), MyValue::Bytes(vec![0b101])), SqlValue::Text("a,c".into()));
        assert_eq!(
            v(&column(ColumnKind::Timestamp, 0, &[], false), MyValue::Bytes(b"1700000000.5".to_vec())),
            SqlValue::Timestamp(1_700_000_000_500_000)
        );
        assert_eq!(
            v(&column(ColumnKind::Decimal(2), 0, &[], false), MyValue::Bytes(b"-1.50".to_vec())),
            SqlValue::Decimal(Decimal::new(-150, 2))
        );
        assert_eq!(v(&column(ColumnKind::Int32, 0, &[], false), MyValue::Bytes(b"2024".to_vec())), SqlValue::Int(2024));
        assert_eq!(v(&column(ColumnKind::Date, 0, &[], false), MyValue::Date(0, 0, 0, 0, 0, 0, 0)), SqlValue::Null);
    }
}
