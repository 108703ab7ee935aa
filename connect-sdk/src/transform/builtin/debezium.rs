//! Debezium's `ExtractNewRecordState` ("unwrap"): a change event's envelope (`before`, `after`,
//! `source`, `op`, `ts_ms`) becomes the row it describes, so sinks that write rows (jdbc-sink,
//! file-sink) take change data capture streams as they are.

use serde::Deserialize;

use crate::data::{Schema, SchemaType, Value};
use crate::error::Result;
use crate::record::Record;
use crate::transform::Transform;
use crate::transform::fields::{build_struct, data, named_fields, string_map, struct_like};

/// What becomes of a delete event (`op` = `d`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteHandling {
    /// The event is dropped.
    Drop,
    /// The event becomes a tombstone: the key with a null value.
    #[default]
    Tombstone,
    /// The event becomes its `before` row with `__deleted` = `"true"` (other rows get `"false"`).
    Rewrite,
}

/// Replaces a Debezium change event by its new row state. Deletes follow
/// `delete.tombstone.handling.mode`; tombstones that follow deletes are dropped unless
/// `drop.tombstones` is false; `add.fields` copies envelope fields (`op`, `ts_ms`, or
/// `source.<field>`) into the row as `__<name>` (`add.fields.prefix`), `add.headers` into
/// headers. Records that are not change events pass unchanged. Debezium's
/// `io.debezium.transforms.ExtractNewRecordState`.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema, crate::Transform)]
#[transform(name = "ExtractNewRecordState", aliases = ["io.debezium.transforms.ExtractNewRecordState", "unwrap"])]
pub struct ExtractNewRecordState {
    /// `drop`, `tombstone` (default) or `rewrite`.
    #[serde(default)]
    pub delete_tombstone_handling_mode: DeleteHandling,
    /// Drop the tombstones (null values) that follow deletes.
    #[serde(default = "yes")]
    pub drop_tombstones: bool,
    /// Envelope fields added to the row: `op`, `ts_ms`, `source.<field>` (e.g. `source.table`).
    #[serde(default)]
    pub add_fields: Vec<String>,
    /// Envelope fields added as headers, as `add.fields` names them.
    #[serde(default)]
    pub add_headers: Vec<String>,
    /// Prefix of the added fields' and headers' names.
    #[serde(default = "prefix")]
    pub add_fields_prefix: String,
}

fn yes() -> bool {
    true
}

fn prefix() -> String {
    "__".to_owned()
}

impl ExtractNewRecordState {
    /// The envelope field `path` names (`op`, `source.table`), and the name it is added as.
    fn envelope_field(&self, envelope: &Value, schema: Option<&Schema>, path: &str) -> (String, Value, Option<Schema>) {
        let mut value = envelope.clone();
        let mut field_schema = schema.cloned();
        for step in path.split('.') {
            field_schema = field_schema.and_then(|s| s.field_named(step).map(|f| f.schema.clone()));
            value = value.field(step).cloned().unwrap_or(Value::Null);
        }
        let name = format!("{}{}", self.add_fields_prefix, path.replace('.', "_"));
        (name, value, field_schema.map(Schema::optional))
    }
}

impl Transform for ExtractNewRecordState {
    fn apply(&self, mut record: Record) -> Result<Option<Record>> {
        if record.value.is_null() {
            return Ok((!self.drop_tombstones).then_some(record));
        }
        let Some(op) = record.value.field("op").and_then(|op| op.as_str().map(str::to_owned)) else { return Ok(Some(record)) };
        if !matches!(record.value, Value::Struct(_) | Value::Map(_)) || record.value.field("after").is_none() {
            return Ok(Some(record));
        }
        let envelope = std::mem::take(&mut record.value);
        let envelope_schema = record.value_schema.take();
        let row_field = if op == "d" { "before" } else { "after" };
        // The envelope's row fields are optional (a create has no `before`); a row that is there is not.
        let row_schema =
            envelope_schema.as_ref().and_then(|s| s.field_named(row_field)).map(|f| Schema { optional: false, ..f.schema.clone() });
        for name in &self.add_headers {
            let (header, value, _) = self.envelope_field(&envelope, envelope_schema.as_ref(), name);
            record.headers.add(header, value);
        }
        if op == "d" {
            match self.delete_tombstone_handling_mode {
                DeleteHandling::Drop => return Ok(None),
                DeleteHandling::Tombstone => return Ok(Some(record)),
                DeleteHandling::Rewrite => {}
            }
        }
        let row = envelope.field(row_field).cloned().unwrap_or(Value::Null);
        let mut added: Vec<(String, Value, Option<Schema>)> =
            self.add_fields.iter().map(|path| self.envelope_field(&envelope, envelope_schema.as_ref(), path)).collect();
        if self.delete_tombstone_handling_mode == DeleteHandling::Rewrite {
            let deleted = Value::String((op == "d").to_string());
            added.push((format!("{}deleted", self.add_fields_prefix), deleted, Some(Schema::of(SchemaType::String).optional())));
        }
        if added.is_empty() || row.is_null() {
            record.value = row;
            record.value_schema = row_schema;
            return Ok(Some(record));
        }
        let mut fields = named_fields(&row, "ExtractNewRecordState")?;
        match row_schema {
            None => {
                fields.extend(added.into_iter().map(|(name, value, _)| (name, value)));
                record.value = string_map(fields);
            }
            Some(row_schema) => {
                let mut schemas: Vec<(String, Schema)> = row_schema.fields.iter().map(|f| (f.name.clone(), f.schema.clone())).collect();
                for (name, value, schema) in added {
                    let schema = schema.ok_or_else(|| data(format!("ExtractNewRecordState: the envelope has no field for {name}")))?;
                    schemas.push((name.clone(), schema));
                    fields.push((name, value));
                }
                let schema = struct_like(&row_schema, schemas);
                record.value = build_struct(schema.clone(), fields)?;
                record.value_schema = Some(schema);
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Struct;

    fn row_schema() -> Schema {
        Schema::of(SchemaType::Struct).field("id", Schema::of(SchemaType::Int32)).field("name", Schema::of(SchemaType::String).optional())
    }

    fn event(op: &str, before: Option<(i32, &str)>, after: Option<(i32, &str)>) -> Record {
        let row = row_schema();
        let source = Schema::of(SchemaType::Struct).field("table", Schema::of(SchemaType::String));
        let envelope = Schema::of(SchemaType::Struct)
            .field("before", row.clone().optional())
            .field("after", row.clone().optional())
            .field("source", source.clone())
            .field("op", Schema::of(SchemaType::String))
            .field("ts_ms", Schema::of(SchemaType::Int64).optional());
        let make = |r: Option<(i32, &str)>| {
            r.map_or(Value::Null, |(id, name)| Value::Struct(Struct::new(row.clone()).with("id", id).unwrap().with("name", name).unwrap()))
        };
        let value = Struct::new(envelope.clone())
            .with("before", make(before))
            .unwrap()
            .with("after", make(after))
            .unwrap()
            .with("source", Value::Struct(Struct::new(source).with("table", "orders").unwrap()))
            .unwrap()
            .with("op", op)
            .unwrap()
            .with("ts_ms", 1_700_000_000_000_i64)
            .unwrap();
        let mut record = Record::new("db.orders", Value::Struct(value));
        record.value_schema = Some(envelope);
        record
    }

    fn unwrap(config: serde_json::Value) -> ExtractNewRecordState {
        serde_json::from_value(config).unwrap()
    }

    #[test]
    fn creates_and_updates_become_their_row_with_its_schema() {
        let transform = unwrap(serde_json::json!({}));
        for op in ["c", "u", "r"] {
            let out = transform.apply(event(op, Some((1, "old")), Some((1, "new")))).unwrap().unwrap();
            assert_eq!(out.value.field("name"), Some(&Value::from("new")), "{op}");
            assert_eq!(out.value_schema, Some(row_schema()));
        }
        let plain = Record::new("t", Value::from("not an event"));
        assert_eq!(transform.apply(plain.clone()).unwrap(), Some(plain), "other records pass");
    }

    #[test]
    fn deletes_follow_the_mode_and_tombstones_are_dropped_by_default() {
        let delete = || event("d", Some((7, "gone")), None);
        let tombstone = unwrap(serde_json::json!({})).apply(delete()).unwrap().unwrap();
        assert!(tombstone.value.is_null() && tombstone.value_schema.is_none());
        assert_eq!(unwrap(serde_json::json!({"delete_tombstone_handling_mode": "drop"})).apply(delete()).unwrap(), None);
        let rewritten = unwrap(serde_json::json!({"delete_tombstone_handling_mode": "rewrite"})).apply(delete()).unwrap().unwrap();
        assert_eq!(rewritten.value.field("id"), Some(&Value::Int32(7)));
        assert_eq!(rewritten.value.field("__deleted"), Some(&Value::from("true")));
        let null = Record::new("t", Value::Null);
        assert_eq!(unwrap(serde_json::json!({})).apply(null.clone()).unwrap(), None);
        assert_eq!(unwrap(serde_json::json!({"drop_tombstones": false})).apply(null.clone()).unwrap(), Some(null));
    }

    #[test]
    fn envelope_fields_are_added_to_the_row_and_the_headers() {
        let transform = unwrap(serde_json::json!({"add_fields": ["op", "source.table"], "add_headers": ["op"]}));
        let out = transform.apply(event("u", None, Some((2, "b")))).unwrap().unwrap();
        assert_eq!(out.value.field("__op"), Some(&Value::from("u")));
        assert_eq!(out.value.field("__source_table"), Some(&Value::from("orders")));
        let schema = out.value_schema.unwrap();
        assert!(schema.field_named("__op").is_some() && schema.field_named("id").is_some());
        assert_eq!(out.headers.last("__op").map(|h| h.value.clone()), Some(Value::from("u")));
    }
}
