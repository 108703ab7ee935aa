//! Topic routing and filtering: RegexRouter, Filter.

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::error::Result;
use crate::record::Record;
use crate::transform::Transform;

/// Rewrites the topic with a regular expression that must match the whole topic and a
/// replacement with `$1`-style groups. Kafka's `RegexRouter`.
#[derive(Clone, Debug, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "RegexRouter")]
pub struct RegexRouter {
    /// Regular expression matched against the whole topic.
    #[serde(deserialize_with = "full_match")]
    #[schemars(with = "String")]
    pub regex: Regex,
    /// Replacement; `$1` refers to the first group.
    pub replacement: String,
}

/// Compiles a regular expression anchored at both ends, as Java's `Matcher.matches`.
pub(crate) fn full_match<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Regex, D::Error> {
    let pattern = String::deserialize(deserializer)?;
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| serde::de::Error::custom(format!("invalid regular expression: {e}")))
}

/// Java's `$1` → the regex crate's `${1}` (so `$1a` means group 1 then `a`, as in Java).
fn java_replacement(replacement: &str) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push_str(&format!("${{{digits}}}"));
            }
            '$' => out.push_str("$$"),
            other => out.push(other),
        }
    }
    out
}

impl Transform for RegexRouter {
    fn apply(&self, mut record: Record) -> Result<Option<Record>> {
        if self.regex.is_match(&record.topic) {
            record.topic = self.regex.replace(&record.topic, java_replacement(&self.replacement).as_str()).into_owned();
        }
        Ok(Some(record))
    }
}

/// Drops every record it applies to; pair it with a predicate. Kafka's `Filter`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, crate::Transform)]
#[transform(name = "Filter")]
pub struct Filter {}

impl Transform for Filter {
    fn apply(&self, _record: Record) -> Result<Option<Record>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use crate::record::Record;
    use crate::transform::testing::{apply, build};
    use serde_json::json;

    #[test]
    fn regex_router_rewrites_whole_matches_only() {
        let config = json!({"type": "org.apache.kafka.connect.transforms.RegexRouter", "regex": "(.*)-raw", "replacement": "$1a-clean"});
        assert_eq!(apply(&config, Record::new("orders-raw", 1i32)).unwrap().topic, "ordersa-clean");
        assert_eq!(apply(&config, Record::new("orders-raw-x", 1i32)).unwrap().topic, "orders-raw-x");
    }

    #[test]
    fn regex_router_reports_a_bad_regex_on_its_key() {
        let errors = build(&json!({"type": "RegexRouter", "regex": "(", "replacement": "x"})).err().unwrap();
        assert_eq!(errors.iter().next().unwrap().key, "transforms.t.regex");
    }

    #[test]
    fn filter_drops_records_its_predicate_selects() {
        use crate::config::CommonConfig;
        use crate::host::registry::Registry;
        let config = json!({
            "name": "n", "connector.class": "c",
            "transforms": "dropTombstones", "transforms.dropTombstones.type": "Filter",
            "transforms.dropTombstones.predicate": "isTombstone",
            "predicates": "isTombstone", "predicates.isTombstone.type": "RecordIsTombstone",
        });
        let chain =
            crate::host::assembly::transform_chain(Registry::global(), &CommonConfig::parse(config.as_object().unwrap()).unwrap().plugins)
                .unwrap();
        assert!(chain.apply(Record::new("t", crate::data::Value::Null)).unwrap().is_none());
        assert!(chain.apply(Record::new("t", "kept")).unwrap().is_some());

        let mut negated = config.clone();
        negated["transforms.dropTombstones.negate"] = json!("true");
        let chain =
            crate::host::assembly::transform_chain(Registry::global(), &CommonConfig::parse(negated.as_object().unwrap()).unwrap().plugins)
                .unwrap();
        assert!(chain.apply(Record::new("t", crate::data::Value::Null)).unwrap().is_some());
        assert!(chain.apply(Record::new("t", "dropped")).unwrap().is_none());
    }
}
