//! Avro's schema resolution, as Apache Avro's checker decides it: a reader reads what a writer
//! wrote when every field it has is written or has a default, types promote (int → long →
//! float → double, string ↔ bytes), names match, and every enum symbol and union branch the
//! writer may use is known to the reader.

use apache_avro::Schema;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};

/// Why a partial match fails when no branch pair says more.
const PARTIAL: &str = "the reader lacks enum symbols or union branches the writer may use";

/// What keeps `reader` from reading data written with `writer`.
pub(super) fn can_read(writer: &Schema, reader: &Schema) -> Vec<String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(Compatibility::Full) => Vec::new(),
        // Partial: resolution fails for some data; the checker does not say where, so look.
        Ok(Compatibility::Partial) => {
            let found = explain(writer, reader);
            if found.is_empty() { vec![PARTIAL.to_owned()] } else { found }
        }
        Err(error) => vec![connect_sdk::error_chain(&error)],
    }
}

/// The parts of a partial match that do not resolve: fields of records matched by name, and
/// the non-null branches of optional types (unions with null), each checked alone.
fn explain(writer: &Schema, reader: &Schema) -> Vec<String> {
    let branches = |s: &Schema| -> Vec<Schema> {
        match s {
            Schema::Union(u) => u.variants().iter().filter(|b| !matches!(b, Schema::Null)).cloned().collect(),
            other => vec![other.clone()],
        }
    };
    match (writer, reader) {
        (Schema::Record(w), Schema::Record(r)) => r
            .fields
            .iter()
            .filter_map(|rf| w.fields.iter().find(|wf| wf.name == rf.name).map(|wf| (wf, rf)))
            .flat_map(|(wf, rf)| can_read(&wf.schema, &rf.schema).into_iter().map(move |p| format!("field '{}': {p}", rf.name)))
            .collect(),
        (Schema::Union(_), _) | (_, Schema::Union(_)) => {
            let (ws, rs) = (branches(writer), branches(reader));
            ws.iter()
                .flat_map(|wb| {
                    rs.iter().flat_map(move |rb| {
                        if matches!((wb, rb), (Schema::Union(_), _) | (_, Schema::Union(_))) { Vec::new() } else { can_read(wb, rb) }
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Schema {
        Schema::parse_str(text).unwrap()
    }

    #[test]
    fn promotions_read_and_narrowings_do_not() {
        assert!(can_read(&parse(r#""int""#), &parse(r#""long""#)).is_empty());
        assert!(can_read(&parse(r#""string""#), &parse(r#""bytes""#)).is_empty());
        assert!(!can_read(&parse(r#""long""#), &parse(r#""int""#)).is_empty());
    }

    #[test]
    fn enums_and_unions_must_cover_what_the_writer_uses() {
        let abc = parse(r#"{"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}"#);
        let ab = parse(r#"{"type": "enum", "name": "E", "symbols": ["A", "B"]}"#);
        assert!(can_read(&ab, &abc).is_empty());
        assert!(!can_read(&abc, &ab).is_empty());
        let optional = parse(r#"["null", "string"]"#);
        assert!(can_read(&parse(r#""string""#), &optional).is_empty());
        assert!(!can_read(&optional, &parse(r#""string""#)).is_empty());
    }

    #[test]
    fn a_field_that_becomes_optional_and_changes_type_is_named() {
        let w = parse(r#"{"type": "record", "name": "R", "fields": [{"name": "qty", "type": "int"}]}"#);
        let r = parse(r#"{"type": "record", "name": "R", "fields": [{"name": "qty", "type": ["null", "string"], "default": null}]}"#);
        let problems = can_read(&w, &r);
        assert!(problems.iter().any(|p| p.contains("qty")), "{problems:?}");
    }

    #[test]
    fn a_change_inside_an_optional_record_says_what_changed() {
        let w = parse(r#"["null", {"type": "record", "name": "R", "fields": [{"name": "qty", "type": "int"}]}]"#);
        let r = parse(r#"["null", {"type": "record", "name": "R", "fields": [{"name": "qty", "type": "string"}]}]"#);
        let problems = can_read(&w, &r);
        assert!(problems[0].contains("'qty'"), "{problems:?}");
    }

    #[test]
    fn a_field_type_change_names_the_field() {
        let w = parse(r#"{"type": "record", "name": "R", "fields": [{"name": "when", "type": "string"}]}"#);
        let r = parse(r#"{"type": "record", "name": "R", "fields": [{"name": "when", "type": "int"}]}"#);
        let problems = can_read(&w, &r);
        assert!(problems[0].contains("'when'"), "{problems:?}");
    }
}
