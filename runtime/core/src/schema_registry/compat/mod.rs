//! Compatibility levels and the check of a new schema against a subject's earlier ones.
//!
//! Whether data written with one schema can be read with another is a question of the schema
//! language: Avro's resolution rules ([`avro`], Apache Avro's checker) and JSON Schema's
//! content models ([`json`]). A level says which pairs are asked: `BACKWARD` asks whether
//! the new schema reads data written with the latest one (consumers upgrade first),
//! `FORWARD` whether the latest reads data written with the new one (producers upgrade
//! first), `FULL` both, and the `_TRANSITIVE` levels ask it of every earlier version.

mod avro;
mod json;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::RegistryError;
use super::schema::ParsedSchema;

/// Which earlier schemas a new one must be compatible with, and in which direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    /// Anything goes.
    None,
    /// The new schema reads data written with the latest (the default).
    #[default]
    Backward,
    /// The new schema reads data written with every earlier version.
    BackwardTransitive,
    /// The latest schema reads data written with the new one.
    Forward,
    /// Every earlier version reads data written with the new one.
    ForwardTransitive,
    /// Backward and forward against the latest.
    Full,
    /// Backward and forward against every earlier version.
    FullTransitive,
}

impl CompatibilityLevel {
    const ALL: [(CompatibilityLevel, &'static str); 7] = [
        (CompatibilityLevel::None, "NONE"),
        (CompatibilityLevel::Backward, "BACKWARD"),
        (CompatibilityLevel::BackwardTransitive, "BACKWARD_TRANSITIVE"),
        (CompatibilityLevel::Forward, "FORWARD"),
        (CompatibilityLevel::ForwardTransitive, "FORWARD_TRANSITIVE"),
        (CompatibilityLevel::Full, "FULL"),
        (CompatibilityLevel::FullTransitive, "FULL_TRANSITIVE"),
    ];

    fn backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    fn transitive(self) -> bool {
        matches!(self, CompatibilityLevel::BackwardTransitive | CompatibilityLevel::ForwardTransitive | CompatibilityLevel::FullTransitive)
    }

    /// What a new schema is checked against, of a subject's live versions (oldest first).
    pub(crate) fn checked_against<T>(self, versions: &[T]) -> &[T] {
        match self {
            CompatibilityLevel::None => &[],
            level if level.transitive() => versions,
            _ => &versions[versions.len().saturating_sub(1)..],
        }
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = CompatibilityLevel::ALL.iter().find(|(level, _)| level == self).map_or("NONE", |(_, name)| name);
        f.write_str(name)
    }
}

impl FromStr for CompatibilityLevel {
    type Err = RegistryError;

    /// Reads a level in any case (`backward`, `FULL_TRANSITIVE`); anything else is a 42203.
    fn from_str(name: &str) -> Result<CompatibilityLevel, RegistryError> {
        CompatibilityLevel::ALL
            .iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(name))
            .map(|(level, _)| *level)
            .ok_or(RegistryError::InvalidCompatibilityLevel)
    }
}

/// What keeps `new` from being compatible with `earlier` under `level` (empty: compatible).
/// `earlier` are the versions the level names ([`CompatibilityLevel::checked_against`]).
pub(crate) fn problems(level: CompatibilityLevel, new: &ParsedSchema, earlier: &[&ParsedSchema]) -> Vec<String> {
    let mut problems = Vec::new();
    for old in earlier {
        if level.backward() {
            problems.extend(
                can_read(old, new).into_iter().map(|p| format!("the new schema cannot read data written with an earlier one: {p}")),
            );
        }
        if level.forward() {
            problems.extend(
                can_read(new, old).into_iter().map(|p| format!("an earlier schema cannot read data written with the new one: {p}")),
            );
        }
    }
    problems
}

/// What keeps `reader` from reading every datum written with `writer`.
fn can_read(writer: &ParsedSchema, reader: &ParsedSchema) -> Vec<String> {
    match (writer, reader) {
        (ParsedSchema::Avro(writer), ParsedSchema::Avro(reader)) => avro::can_read(writer, reader),
        (ParsedSchema::Json { root: w, references: wr }, ParsedSchema::Json { root: r, references: rr }) => {
            json::can_read(json::Document::new(w, wr), json::Document::new(r, rr))
        }
        (writer, reader) => vec![format!("the schema type changed from {} to {}", writer.kind().name(), reader.kind().name())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema_registry::schema::SchemaType;

    fn avro(text: &str) -> ParsedSchema {
        ParsedSchema::parse(SchemaType::Avro, text, &[]).unwrap()
    }

    fn record(fields: &str) -> ParsedSchema {
        avro(&format!(r#"{{"type": "record", "name": "R", "fields": [{fields}]}}"#))
    }

    #[test]
    fn levels_read_in_any_case_and_print_as_confluent_spells_them() {
        for (level, name) in CompatibilityLevel::ALL {
            assert_eq!(name.to_lowercase().parse::<CompatibilityLevel>().unwrap(), level);
            assert_eq!(level.to_string(), name);
        }
        assert_eq!("SIDEWAYS".parse::<CompatibilityLevel>().unwrap_err().code(), 42203);
        assert_eq!(CompatibilityLevel::default(), CompatibilityLevel::Backward);
    }

    /// v1 {a}, v2 {a, b with a default}, v3 {a, c without default}: each level accepts and
    /// refuses the evolutions its definition says.
    #[test]
    fn each_level_accepts_and_refuses_what_it_should() {
        let v1 = record(r#"{"name": "a", "type": "int"}"#);
        let v2 = record(r#"{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": ""}"#);
        let required_added = record(r#"{"name": "a", "type": "int"}, {"name": "c", "type": "string"}"#);
        let removed = record(r#"{"name": "b", "type": "string", "default": ""}"#);
        let ok = |level: CompatibilityLevel, new: &ParsedSchema, earlier: &[&ParsedSchema]| problems(level, new, earlier).is_empty();
        use CompatibilityLevel::*;

        // A field with a default added: readable both ways.
        for level in [None, Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive] {
            assert!(ok(level, &v2, &[&v1]), "{level}");
        }
        // A field without a default added: new readers fail on old data (not backward), old
        // readers ignore the field (forward).
        assert!(!ok(Backward, &required_added, &[&v1]));
        assert!(ok(Forward, &required_added, &[&v1]));
        assert!(!ok(Full, &required_added, &[&v1]));
        assert!(ok(None, &required_added, &[&v1]));
        // A field without a default removed: backward (new readers ignore it), not forward.
        let without_a = record(r#"{"name": "b", "type": "string", "default": ""}"#);
        assert!(ok(Backward, &without_a, &[&v2]));
        assert!(!ok(Forward, &without_a, &[&v2]));
        // Transitive levels look past the latest version: removed (no `a`) reads v2 data but v1
        // data lacks b... which has a default, so it is v1 → removed forward that fails.
        assert!(ok(Forward, &v2, &[&v1]));
        assert!(!ok(ForwardTransitive, &removed, &[&v1, &v2]));
        assert!(!ok(FullTransitive, &removed, &[&v1, &v2]));
        let level_sees = |level: CompatibilityLevel| level.checked_against(&[1, 2, 3]).to_vec();
        assert_eq!(level_sees(Backward), vec![3]);
        assert_eq!(level_sees(FullTransitive), vec![1, 2, 3]);
        assert!(level_sees(None).is_empty());
    }

    #[test]
    fn a_changed_schema_type_is_incompatible() {
        let json = ParsedSchema::parse(SchemaType::Json, r#"{"type": "object"}"#, &[]).unwrap();
        let problems = problems(CompatibilityLevel::Backward, &json, &[&avro(r#""string""#)]);
        assert!(problems[0].contains("schema type changed from AVRO to JSON"), "{problems:?}");
    }
}
