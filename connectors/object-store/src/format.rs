//! The file formats: JSON lines (a record value per line, as a schemaless JSON converter
//! writes it) and Parquet (one column per field of the record schema, Snappy-compressed).
//! Records are kept as JSON lines while a file fills, so its size is known as it grows;
//! Parquet files are decoded from those lines into Arrow batches when written.

use std::io::Cursor;
use std::sync::Arc;

use arrow_json::ReaderBuilder;
use arrow_schema::{DataType, Field, Fields, Schema as ArrowSchema, TimeUnit};
use connect_sdk::converter::json_document;
use connect_sdk::data::logical::{self, Decimal, MICRO_TIME, MICRO_TIMESTAMP};
use connect_sdk::data::{DataError, Schema, SchemaType, Value};
use connect_sdk::prelude::*;
use connect_sdk::serde_json::{self, Value as Json};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// How files are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON document per line (`.jsonl`).
    #[default]
    Json,
    /// Apache Parquet (`.parquet`), columns from the record schema; records need a schema.
    Parquet,
}

impl Format {
    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "jsonl",
            Format::Parquet => "parquet",
        }
    }

    /// One record value as a line of the file being filled.
    pub fn line(self, value: &Value, schema: Option<&Schema>) -> Result<Vec<u8>, DataError> {
        let json = match self {
            Format::Json => json_document(value, schema)?,
            Format::Parquet => {
                let schema = schema.ok_or_else(|| {
                    DataError::new("format=parquet needs records with a schema (a converter with schemas, or a source that sets one)")
                })?;
                if schema.kind != SchemaType::Struct {
                    return Err(DataError::new(format!("format=parquet needs struct records, not {}", schema.kind)));
                }
                arrow_json_value(value, schema)?
            }
        };
        let mut line = serde_json::to_vec(&json).map_err(|e| DataError::new(e.to_string()))?;
        line.push(b'\n');
        Ok(line)
    }

    /// The file of `lines` (records of `schema`, for Parquet).
    pub fn file(self, lines: Vec<u8>, schema: Option<&Schema>) -> Result<Vec<u8>, DataError> {
        match self {
            Format::Json => Ok(lines),
            Format::Parquet => parquet_file(&lines, schema.ok_or_else(|| DataError::new("a Parquet file needs a schema"))?),
        }
    }
}

fn arrow_error(e: impl std::fmt::Display) -> DataError {
    DataError::new(format!("cannot write Parquet: {e}"))
}

fn parquet_file(lines: &[u8], schema: &Schema) -> Result<Vec<u8>, DataError> {
    let arrow = Arc::new(ArrowSchema::new(struct_fields(schema)?));
    let reader = ReaderBuilder::new(arrow.clone()).with_batch_size(8192).build(Cursor::new(lines)).map_err(arrow_error)?;
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(Vec::new(), arrow, Some(properties)).map_err(arrow_error)?;
    for batch in reader {
        writer.write(&batch.map_err(arrow_error)?).map_err(arrow_error)?;
    }
    writer.into_inner().map_err(arrow_error)
}

fn struct_fields(schema: &Schema) -> Result<Fields, DataError> {
    schema.fields.iter().map(|f| arrow_field(&f.name, &f.schema)).collect::<Result<Vec<_>, _>>().map(Fields::from)
}

fn arrow_field(name: &str, schema: &Schema) -> Result<Field, DataError> {
    Ok(Field::new(name, arrow_type(schema)?, schema.optional))
}

/// The Arrow type of a Connect schema (logical types by their names).
fn arrow_type(schema: &Schema) -> Result<DataType, DataError> {
    let utc = || Some(Arc::from("+00:00"));
    match schema.name.as_deref() {
        Some(logical::DECIMAL) => return Ok(DataType::Decimal128(38, logical::decimal_scale(schema)? as i8)),
        Some(logical::DATE) => return Ok(DataType::Date32),
        Some(logical::TIME) => return Ok(DataType::Time32(TimeUnit::Millisecond)),
        Some(logical::TIMESTAMP) => return Ok(DataType::Timestamp(TimeUnit::Millisecond, utc())),
        Some(MICRO_TIMESTAMP) => return Ok(DataType::Timestamp(TimeUnit::Microsecond, utc())),
        Some(MICRO_TIME) => return Ok(DataType::Time64(TimeUnit::Microsecond)),
        _ => {}
    }
    Ok(match schema.kind {
        SchemaType::Int8 => DataType::Int8,
        SchemaType::Int16 => DataType::Int16,
        SchemaType::Int32 => DataType::Int32,
        SchemaType::Int64 => DataType::Int64,
        SchemaType::Float32 => DataType::Float32,
        SchemaType::Float64 => DataType::Float64,
        SchemaType::Boolean => DataType::Boolean,
        SchemaType::String => DataType::Utf8,
        SchemaType::Bytes => DataType::Binary,
        SchemaType::Array => {
            let items = schema.value_schema().ok_or_else(|| DataError::new("an array schema without its item schema"))?;
            DataType::List(Arc::new(arrow_field("item", items)?))
        }
        SchemaType::Map => {
            let values = schema.value_schema().ok_or_else(|| DataError::new("a map schema without its value schema"))?;
            let entries = Fields::from(vec![Field::new("key", DataType::Utf8, false), arrow_field("value", values)?]);
            DataType::Map(Arc::new(Field::new("entries", DataType::Struct(entries), false)), false)
        }
        SchemaType::Struct => DataType::Struct(struct_fields(schema)?),
    })
}

/// A value as the JSON Arrow's reader decodes into the column [`arrow_type`] gives: decimals
/// as exact text, bytes as hex, map keys as text.
fn arrow_json_value(value: &Value, schema: &Schema) -> Result<Json, DataError> {
    if value.is_null() {
        return Ok(Json::Null);
    }
    if schema.name.as_deref() == Some(logical::DECIMAL) {
        return Ok(Json::String(Decimal::from_value(schema, value)?.to_string()));
    }
    Ok(match value {
        Value::Struct(row) => {
            let mut object = serde_json::Map::with_capacity(schema.fields.len());
            for field in &schema.fields {
                object.insert(field.name.clone(), arrow_json_value(row.get(&field.name).unwrap_or(&Value::Null), &field.schema)?);
            }
            Json::Object(object)
        }
        Value::Array(items) => {
            let item = schema.value_schema().ok_or_else(|| DataError::new("an array schema without its item schema"))?;
            Json::Array(items.iter().map(|v| arrow_json_value(v, item)).collect::<Result<_, _>>()?)
        }
        Value::Map(entries) => {
            let item = schema.value_schema().ok_or_else(|| DataError::new("a map schema without its value schema"))?;
            let mut object = serde_json::Map::with_capacity(entries.len());
            for (key, value) in entries {
                let key = match key {
                    Value::String(text) => text.clone(),
                    other => json_document(other, schema.key_schema())?.to_string(),
                };
                object.insert(key, arrow_json_value(value, item)?);
            }
            Json::Object(object)
        }
        Value::Bytes(bytes) => Json::String(bytes.iter().map(|b| format!("{b:02x}")).collect()),
        other => json_document(other, Some(schema))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Int64Type, TimestampMicrosecondType};
    use connect_sdk::data::Struct;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn parquet_files_hold_every_type_in_its_column() {
        let schema = Arc::new(
            Schema::structure()
                .field("id", Schema::int64())
                .field("price", logical::decimal_schema(2).optional())
                .field("at", Schema::int64().named(MICRO_TIMESTAMP).optional())
                .field("data", Schema::bytes().optional())
                .field("tags", Schema::array(Schema::string()).optional())
                .field("inner", Schema::structure().field("ok", Schema::boolean()).optional()),
        );
        let inner = Struct::from_values(Arc::new(schema.field_named("inner").unwrap().schema.clone()), vec![Value::Bool(true)]).unwrap();
        let row = |id: i64, price: Value| {
            Value::Struct(
                Struct::from_values(
                    schema.clone(),
                    vec![
                        Value::Int64(id),
                        price,
                        Value::Int64(1_714_564_800_123_456),
                        Value::Bytes(vec![0, 255]),
                        Value::Array(vec![Value::from("a")]),
                        Value::Struct(inner.clone()),
                    ],
                )
                .unwrap(),
            )
        };
        let mut lines = Format::Parquet.line(&row(1, Decimal::new(-1234, 2).to_value()), Some(&schema)).unwrap();
        lines.extend(Format::Parquet.line(&row(2, Value::Null), Some(&schema)).unwrap());
        let file = Format::Parquet.file(lines, Some(&schema)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap().build().unwrap();
        let batch = reader.into_iter().next().unwrap().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(1), 2);
        let prices = batch.column(1).as_primitive::<Decimal128Type>();
        assert_eq!((prices.value(0), prices.is_null(1)), (-1234, true));
        assert_eq!(batch.column(2).as_primitive::<TimestampMicrosecondType>().value(0), 1_714_564_800_123_456);
        assert_eq!(batch.column(3).as_binary::<i32>().value(0), &[0, 255]);
        assert_eq!(batch.column(4).as_list::<i32>().value(0).as_string::<i32>().value(0), "a");
        assert!(Format::Parquet.line(&Value::from("x"), None).unwrap_err().to_string().contains("schema"));
    }

    #[test]
    fn json_lines_are_what_a_schemaless_converter_writes() {
        let line = Format::Json.line(&Value::from("text"), None).unwrap();
        assert_eq!(line, b"\"text\"\n");
    }
}
