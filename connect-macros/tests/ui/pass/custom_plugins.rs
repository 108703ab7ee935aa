use connect_sdk::converter::Converter;
use connect_sdk::data::{DataError, Schema, SchemaAndValue};
use connect_sdk::prelude::*;
use connect_sdk::host::registry::Registry;
use connect_sdk::transform::{KeyValueTransform, Predicate, Target, Transform};

/// Upper-cases string keys or values.
#[derive(Deserialize, JsonSchema, connect_sdk::Transform)]
#[transform(name = "Upper", key_value)]
pub struct Upper {}

impl KeyValueTransform for Upper {
    fn apply_to(&self, target: Target, mut record: Record) -> Result<Option<Record>> {
        let value = match target {
            Target::Key => &mut record.key,
            Target::Value => &mut record.value,
        };
        if let Value::String(s) = value {
            *s = s.to_uppercase();
        }
        Ok(Some(record))
    }
}

/// Drops everything.
#[derive(Deserialize, JsonSchema, connect_sdk::Transform)]
pub struct DropAll {}

impl Transform for DropAll {
    fn apply(&self, _: Record) -> Result<Option<Record>> {
        Ok(None)
    }
}

/// True for long topics.
#[derive(Deserialize, JsonSchema, connect_sdk::Predicate)]
pub struct LongTopic {
    /// Minimum length.
    pub min: usize,
}

impl Predicate for LongTopic {
    fn test(&self, record: &Record) -> bool {
        record.topic.len() >= self.min
    }
}

/// Writes values reversed.
#[derive(Deserialize, JsonSchema, connect_sdk::Converter)]
#[converter(name = "reversed")]
pub struct Reversed {}

impl Converter for Reversed {
    fn encode(&self, _: &str, _: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>, DataError> {
        Ok(Some(value.to_string().chars().rev().collect::<String>().into_bytes()))
    }
    fn decode(&self, _: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, DataError> {
        let text: String = String::from_utf8_lossy(data.unwrap_or_default()).chars().rev().collect();
        Ok(SchemaAndValue::new(None, Value::from(text)))
    }
}

fn main() {
    let registry = Registry::global();
    for name in ["Upper$Key", "Upper$Value", "drop-all", "long-topic", "reversed"] {
        assert!(registry.get(name).is_ok(), "{name}");
    }
    let upper = registry.transform("Upper$Value", &Default::default(), "transforms.u.").unwrap();
    assert_eq!(upper.apply(Record::new("t", "abc")).unwrap().unwrap().value, Value::from("ABC"));
}
