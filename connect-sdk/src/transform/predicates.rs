//! The predicates Kafka Connect ships: TopicNameMatches, HasHeaderKey, RecordIsTombstone.

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;

use super::Predicate;
use crate::record::Record;

/// True when the topic matches `pattern` entirely. Kafka's `TopicNameMatches`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Predicate)]
#[predicate(name = "TopicNameMatches")]
pub struct TopicNameMatches {
    /// Regular expression matched against the whole topic.
    #[serde(deserialize_with = "super::builtin::full_match")]
    #[schemars(with = "String")]
    pub pattern: Regex,
}

impl Predicate for TopicNameMatches {
    fn test(&self, record: &Record) -> bool {
        self.pattern.is_match(&record.topic)
    }
}

/// True when the record has a header called `name`. Kafka's `HasHeaderKey`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Predicate)]
#[predicate(name = "HasHeaderKey")]
pub struct HasHeaderKey {
    /// Header name.
    pub name: String,
}

impl Predicate for HasHeaderKey {
    fn test(&self, record: &Record) -> bool {
        record.headers.last(&self.name).is_some()
    }
}

/// True when the record's value is null. Kafka's `RecordIsTombstone`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, crate::Predicate)]
#[predicate(name = "RecordIsTombstone")]
pub struct RecordIsTombstone {}

impl Predicate for RecordIsTombstone {
    fn test(&self, record: &Record) -> bool {
        record.value.is_null()
    }
}

#[cfg(test)]
mod tests {
    use crate::record::Record;
    use crate::transform::testing::apply_chain;
    use serde_json::json;

    fn renamed_when(predicate: serde_json::Value, record: Record) -> bool {
        let mut config = json!({
            "transforms": "mark", "transforms.mark.type": "InsertHeader", "transforms.mark.header": "hit",
            "transforms.mark.value.literal": "1", "transforms.mark.predicate": "p", "predicates": "p",
        });
        for (k, v) in predicate.as_object().unwrap() {
            config[format!("predicates.p.{k}")] = v.clone();
        }
        apply_chain(&config, record).unwrap().unwrap().headers.last("hit").is_some()
    }

    #[test]
    fn topic_name_matches_the_whole_topic() {
        let p = json!({"type": "TopicNameMatches", "pattern": "orders-.*"});
        assert!(renamed_when(p.clone(), Record::new("orders-eu", 1i32)));
        assert!(!renamed_when(p, Record::new("xorders-eu", 1i32)));
    }

    #[test]
    fn has_header_key_and_tombstones() {
        let with_header = Record::new("t", 1i32);
        let mut with_header2 = with_header.clone();
        with_header2.headers.add("trace", "x");
        assert!(renamed_when(json!({"type": "HasHeaderKey", "name": "trace"}), with_header2));
        assert!(!renamed_when(json!({"type": "HasHeaderKey", "name": "trace"}), with_header));
        assert!(renamed_when(json!({"type": "RecordIsTombstone"}), Record::new("t", crate::data::Value::Null)));
    }
}
