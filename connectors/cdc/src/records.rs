//! One change as its record(s): the topic of its table, keyed by the primary key, shaped by
//! the envelope.

use connect_sdk::data::{Schema, Struct};
use connect_sdk::prelude::*;
use connect_sdk::record::now_millis;

use crate::options::{ChangeOptions, Envelope, TopicNaming};
use crate::schemas::ChangeSchemas;

/// What a change did: Debezium's `op`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `r`: a row read by the snapshot.
    Read,
    /// `c`: an insert.
    Create,
    /// `u`: an update.
    Update,
    /// `d`: a delete.
    Delete,
    /// `t`: a truncate of the table.
    Truncate,
}

impl Op {
    /// Debezium's letter.
    pub fn letter(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
        }
    }
}

/// One change of one row (or one truncate) of a captured table.
#[derive(Debug)]
pub struct Change {
    /// What happened.
    pub op: Op,
    /// The row before (updates and deletes, when the database sends it).
    pub before: Option<Struct>,
    /// The row after (snapshot reads, inserts and updates).
    pub after: Option<Struct>,
    /// The envelope's `source` block: where in the database's log the change is.
    pub source: Struct,
    /// The records' offset.
    pub offset: SourceOffset,
    /// When the database made the change: the records' timestamp.
    pub ts_ms: i64,
}

/// Makes the records of changes: the topic `<topic.prefix><delimiter><namespace><delimiter><table>`
/// (the namespace is a MySQL database or a PostgreSQL schema), the key from the row's primary
/// key, the value Debezium's envelope or the plain row.
#[derive(Clone, Debug)]
pub struct ChangeRecords {
    partition: SourcePartition,
    naming: TopicNaming,
    envelope: Envelope,
    tombstones_on_delete: bool,
}

impl ChangeRecords {
    /// Records of the source partition `partition`, to topics named so.
    pub fn new(partition: SourcePartition, naming: &TopicNaming, options: &ChangeOptions) -> ChangeRecords {
        ChangeRecords { partition, naming: naming.clone(), envelope: options.envelope, tombstones_on_delete: options.tombstones_on_delete }
    }

    /// The source partition of every change record.
    pub fn partition(&self) -> &SourcePartition {
        &self.partition
    }

    /// The record(s) of one change of `namespace.table`: none for a truncate in the row
    /// envelope, two for a delete followed by its tombstone.
    pub fn records(&self, namespace: &str, table: &str, schemas: &ChangeSchemas, change: Change) -> Result<Vec<SourceRecord>> {
        let Change { op, before, after, source, offset, ts_ms } = change;
        if op == Op::Truncate && self.envelope == Envelope::Row {
            return Ok(Vec::new());
        }
        let topic = self.naming.table_topic(namespace, table);
        let key = match after.as_ref().or(before.as_ref()) {
            Some(row) => schemas.key_of(row)?.zip(schemas.key.as_deref()),
            None => None,
        };
        let keyed = |mut record: SourceRecord| {
            if let Some((key, key_schema)) = &key {
                record = record.with_key(Value::Struct(key.clone())).with_key_schema(Schema::clone(key_schema));
            }
            record.with_timestamp(ts_ms)
        };
        let mut records = Vec::with_capacity(2);
        match self.envelope {
            Envelope::Debezium => {
                let values = vec![
                    before.map_or(Value::Null, Value::Struct),
                    after.map_or(Value::Null, Value::Struct),
                    Value::Struct(source),
                    Value::from(op.letter()),
                    Value::Int64(now_millis()),
                ];
                let envelope = Struct::from_values(schemas.envelope.clone(), values)?;
                let record = SourceRecord::new(self.partition.clone(), offset.clone(), &topic, Value::Struct(envelope))
                    .with_value_schema(Schema::clone(&schemas.envelope));
                records.push(keyed(record));
                if op == Op::Delete && self.tombstones_on_delete && key.is_some() {
                    records.push(keyed(SourceRecord::new(self.partition.clone(), offset, &topic, Value::Null)));
                }
            }
            Envelope::Row => {
                let record = match after {
                    Some(after) => SourceRecord::new(self.partition.clone(), offset, &topic, Value::Struct(after))
                        .with_value_schema(Schema::clone(&schemas.row)),
                    None => SourceRecord::new(self.partition.clone(), offset, &topic, Value::Null),
                };
                records.push(keyed(record.with_header("__op", op.letter())));
            }
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> ChangeSchemas {
        let columns = [("id".to_owned(), Schema::int64().optional(), true), ("name".to_owned(), Schema::string().optional(), false)];
        ChangeSchemas::new("shop.public.users", columns, Schema::structure().named("Source").field("db", Schema::string()))
    }

    fn change(schemas: &ChangeSchemas, op: Op, envelope: Envelope, tombstones_on_delete: bool) -> Vec<SourceRecord> {
        let options = ChangeOptions { envelope, tombstones_on_delete, ..ChangeOptions::default() };
        let naming = TopicNaming { topic_prefix: "shop".into(), topic_delimiter: "-".into() };
        let records = ChangeRecords::new(SourcePartition::new().with("server", "shop"), &naming, &options);
        let row = schemas.row(vec![Value::Int64(7), Value::from("ann")]).unwrap();
        let source_schema = schemas.envelope.field_named("source").unwrap().schema.clone();
        let source = Struct::from_values(std::sync::Arc::new(source_schema), vec![Value::from("shop")]).unwrap();
        let (before, after) = match op {
            Op::Delete => (Some(row), None),
            Op::Truncate => (None, None),
            _ => (None, Some(row)),
        };
        let change = Change { op, before, after, source, offset: SourceOffset::new().with("pos", 1), ts_ms: 42 };
        records.records("public", "users", schemas, change).unwrap()
    }

    #[test]
    fn a_change_is_keyed_by_its_primary_key_and_shaped_by_the_envelope() {
        let schemas = users();
        let [insert] = &change(&schemas, Op::Create, Envelope::Debezium, true)[..] else { panic!("one record") };
        assert_eq!(insert.topic, "shop-public-users");
        assert_eq!(insert.timestamp, Some(42));
        let Value::Struct(key) = &insert.key else { panic!("{:?}", insert.key) };
        assert_eq!(key.get("id"), Some(&Value::Int64(7)));
        let Value::Struct(envelope) = &insert.value else { panic!("{:?}", insert.value) };
        assert_eq!(envelope.get("op"), Some(&Value::from("c")));
        assert_eq!(envelope.get("before"), Some(&Value::Null));

        let delete = change(&schemas, Op::Delete, Envelope::Debezium, true);
        assert_eq!(delete.len(), 2, "a delete, then its tombstone");
        assert_eq!(delete[1].value, Value::Null);
        assert_eq!(delete[1].key, delete[0].key);
        assert_eq!(change(&schemas, Op::Delete, Envelope::Debezium, false).len(), 1);

        let [row] = &change(&schemas, Op::Update, Envelope::Row, true)[..] else { panic!("one record") };
        let Value::Struct(after) = &row.value else { panic!("{:?}", row.value) };
        assert_eq!(after.get("name"), Some(&Value::from("ann")));
        let [gone] = &change(&schemas, Op::Delete, Envelope::Row, true)[..] else { panic!("one record") };
        assert_eq!(gone.value, Value::Null, "a delete is a tombstone in the row envelope");
        assert!(change(&schemas, Op::Truncate, Envelope::Row, true).is_empty(), "truncates are not emitted as rows");
        assert_eq!(change(&schemas, Op::Truncate, Envelope::Debezium, true).len(), 1);
    }
}
