//! JSON Schema evolution: can every document the writer's schema accepts be read with the
//! reader's? The reader must accept at least what the writer may produce: the same or wider
//! types (`integer` → `number`), no new or tighter constraints (lengths, bounds, patterns,
//! enums, required properties), and for objects the *content model* decides what adding or
//! removing a property means, as in Confluent's registry:
//!
//! - a property the reader has and the writer lacks is fine when the writer's model is closed
//!   (`additionalProperties: false`: no writer document has it); under an open model a writer
//!   document may carry anything by that name, so it is incompatible;
//! - a property the writer has and the reader lacks is fine when the reader's model is open,
//!   and incompatible when it is closed.
//!
//! So a producer that evolves by adding optional fields uses closed models (the `json-schema`
//! converter writes them). `$ref`s are followed within a document (`#/...` pointers) and into
//! the documents a schema references by name.

use std::collections::BTreeSet;

use serde_json::Value as Json;

/// A schema document and the documents its `$ref`s may name.
#[derive(Clone, Copy)]
pub(super) struct Document<'a> {
    root: &'a Json,
    references: &'a [(String, Json)],
}

impl<'a> Document<'a> {
    pub(super) fn new(root: &'a Json, references: &'a [(String, Json)]) -> Document<'a> {
        Document { root, references }
    }

    /// The schema `reference` points at, if it can be found.
    fn resolve(&self, reference: &str) -> Option<&'a Json> {
        let (document, pointer) = match reference.split_once('#') {
            Some(("", pointer)) => (self.root, pointer),
            Some((name, pointer)) => (self.named(name)?, pointer),
            None => (self.named(reference)?, ""),
        };
        document.pointer(pointer)
    }

    fn named(&self, name: &str) -> Option<&'a Json> {
        self.references.iter().find(|(known, _)| known == name).map(|(_, doc)| doc)
    }
}

/// What keeps `reader` from reading every document `writer` accepts.
pub(super) fn can_read(writer: Document<'_>, reader: Document<'_>) -> Vec<String> {
    let mut check = Check { writer, reader, problems: Vec::new(), depth: 0 };
    check.schema("#", writer.root, reader.root);
    check.problems
}

/// The deepest `$ref` chain followed (recursive schemas end here, taken as compatible).
const MAX_DEPTH: usize = 64;

struct Check<'a> {
    writer: Document<'a>,
    reader: Document<'a>,
    problems: Vec<String>,
    depth: usize,
}

impl<'a> Check<'a> {
    fn problem(&mut self, path: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{path}: {what}"));
    }

    fn schema(&mut self, path: &str, w: &'a Json, r: &'a Json) {
        if self.depth > MAX_DEPTH {
            return;
        }
        self.depth += 1;
        self.resolved(path, w, r);
        self.depth -= 1;
    }

    fn resolved(&mut self, path: &str, w: &'a Json, r: &'a Json) {
        let follow = |doc: Document<'a>, schema: &'a Json| match schema.get("$ref").and_then(Json::as_str) {
            Some(reference) => doc.resolve(reference),
            None => Some(schema),
        };
        let (Some(w), Some(r)) = (follow(self.writer, w), follow(self.reader, r)) else {
            return self.problem(path, "a $ref could not be resolved");
        };
        if accepts_everything(r) || w == &Json::Bool(false) {
            return;
        }
        if r == &Json::Bool(false) {
            return self.problem(path, "the reader accepts nothing here");
        }
        if let Some(branches) = union(r) {
            // Each writer branch must be readable by some reader branch.
            for (i, wb) in union(w).unwrap_or_else(|| vec![w]).into_iter().enumerate() {
                let readable = branches.iter().any(|rb| {
                    let mut branch = Check { writer: self.writer, reader: self.reader, problems: Vec::new(), depth: self.depth };
                    branch.schema(path, wb, rb);
                    branch.problems.is_empty()
                });
                if !readable {
                    self.problem(path, format!("writer branch {i} matches no branch of the reader's anyOf/oneOf"));
                }
            }
            return;
        }
        if let Some(branches) = union(w) {
            for (i, wb) in branches.into_iter().enumerate() {
                self.schema(&format!("{path}/anyOf/{i}"), wb, r);
            }
            return;
        }
        if let Some(all) = r.get("allOf").and_then(Json::as_array) {
            for (i, rb) in all.iter().enumerate() {
                self.schema(&format!("{path}/allOf/{i}"), w, rb);
            }
        }
        self.types(path, w, r);
        self.values(path, w, r);
        self.bounds(path, w, r);
        self.object(path, w, r);
        self.array(path, w, r);
    }

    fn types(&mut self, path: &str, w: &Json, r: &Json) {
        let Some(read) = types(r) else { return };
        match types(w) {
            None => self.problem(path, format!("the reader restricts the type to {read:?}, the writer did not")),
            Some(written) => {
                let missing: Vec<&str> =
                    written.iter().filter(|t| !(read.contains(*t) || (**t == "integer" && read.contains("number")))).copied().collect();
                if !missing.is_empty() {
                    self.problem(path, format!("type {missing:?} written but not read (the reader takes {read:?})"));
                }
            }
        }
    }

    fn values(&mut self, path: &str, w: &Json, r: &Json) {
        let allowed = |s: &Json| s.get("enum").and_then(Json::as_array).cloned().or_else(|| s.get("const").map(|c| vec![c.clone()]));
        if let Some(read) = allowed(r) {
            match allowed(w) {
                Some(written) if written.iter().all(|v| read.contains(v)) => {}
                Some(written) => {
                    let missing: Vec<&Json> = written.iter().filter(|v| !read.contains(v)).collect();
                    self.problem(path, format!("values {missing:?} written but not in the reader's enum"));
                }
                None => self.problem(path, "the reader restricts values to an enum, the writer did not"),
            }
        }
        for keyword in ["pattern", "format", "multipleOf", "not"] {
            if let Some(read) = r.get(keyword)
                && w.get(keyword) != Some(read)
            {
                self.problem(path, format!("{keyword} added or changed"));
            }
        }
    }

    /// Upper bounds may only grow, lower bounds only shrink.
    fn bounds(&mut self, path: &str, w: &Json, r: &Json) {
        for keyword in ["maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum"] {
            if let Some(read) = r.get(keyword).and_then(Json::as_f64)
                && !w.get(keyword).and_then(Json::as_f64).is_some_and(|written| written <= read)
            {
                self.problem(path, format!("{keyword} added or decreased"));
            }
        }
        for keyword in ["minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum"] {
            if let Some(read) = r.get(keyword).and_then(Json::as_f64)
                && !w.get(keyword).and_then(Json::as_f64).is_some_and(|written| written >= read)
            {
                self.problem(path, format!("{keyword} added or increased"));
            }
        }
        if r.get("uniqueItems") == Some(&Json::Bool(true)) && w.get("uniqueItems") != Some(&Json::Bool(true)) {
            self.problem(path, "uniqueItems added");
        }
    }

    fn object(&mut self, path: &str, w: &'a Json, r: &'a Json) {
        let properties = |s: &'a Json| s.get("properties").and_then(Json::as_object);
        let (wp, rp) = (properties(w), properties(r));
        let (w_extra, r_extra) = (additional(w), additional(r));
        for (name, read) in rp.into_iter().flatten() {
            let at = format!("{path}/properties/{name}");
            match (wp.and_then(|wp| wp.get(name)), w_extra) {
                (Some(written), _) => self.schema(&at, written, read),
                (None, Additional::Closed) => {}
                (None, Additional::Schema(written)) => self.schema(&at, written, read),
                (None, Additional::Open) if accepts_everything(read) => {}
                (None, Additional::Open) => {
                    self.problem(&at, "property added to an open content model (the writer may have written anything under this name)")
                }
            }
        }
        for (name, written) in wp.into_iter().flatten().filter(|(name, _)| !rp.is_some_and(|rp| rp.contains_key(*name))) {
            let at = format!("{path}/properties/{name}");
            match r_extra {
                Additional::Open => {}
                Additional::Closed => self.problem(&at, "property removed from a closed content model"),
                Additional::Schema(read) => self.schema(&at, written, read),
            }
        }
        match (w_extra, r_extra) {
            (_, Additional::Open) | (Additional::Closed, _) => {}
            (Additional::Open, _) => self.problem(path, "additionalProperties restricted (the writer's content model was open)"),
            (Additional::Schema(written), Additional::Schema(read)) => self.schema(&format!("{path}/additionalProperties"), written, read),
            (Additional::Schema(_), Additional::Closed) => self.problem(path, "additionalProperties closed"),
        }
        let required = |s: &Json| -> BTreeSet<String> {
            s.get("required").and_then(Json::as_array).into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        };
        for name in required(r).difference(&required(w)) {
            self.problem(path, format!("property {name:?} is required by the reader but not by the writer"));
        }
    }

    fn array(&mut self, path: &str, w: &'a Json, r: &'a Json) {
        // Tuples (`prefixItems`, as maps with keys that are not strings are written): pairwise.
        if let (Some(written), Some(read)) = (w.get("prefixItems").and_then(Json::as_array), r.get("prefixItems").and_then(Json::as_array))
        {
            for (i, (written, read)) in written.iter().zip(read).enumerate() {
                self.schema(&format!("{path}/prefixItems/{i}"), written, read);
            }
        }
        match (w.get("items"), r.get("items")) {
            (_, None) => {}
            (Some(written), Some(read)) if written.is_object() || written.is_boolean() => {
                self.schema(&format!("{path}/items"), written, read);
            }
            (Some(Json::Array(written)), Some(Json::Array(read))) => {
                for (i, (written, read)) in written.iter().zip(read).enumerate() {
                    self.schema(&format!("{path}/items/{i}"), written, read);
                }
            }
            (_, Some(read)) if accepts_everything(read) => {}
            _ => self.problem(path, "array items restricted or changed shape"),
        }
    }
}

/// `true`, `{}` or a schema of annotations only.
fn accepts_everything(schema: &Json) -> bool {
    const ANNOTATIONS: [&str; 7] = ["title", "description", "default", "examples", "$id", "$schema", "$comment"];
    match schema {
        Json::Bool(b) => *b,
        Json::Object(map) => map.keys().all(|k| ANNOTATIONS.contains(&k.as_str())),
        _ => false,
    }
}

/// The branches of an `anyOf` or `oneOf`.
fn union(schema: &Json) -> Option<Vec<&Json>> {
    schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Json::as_array).map(|b| b.iter().collect())
}

/// The `type` keyword as a set, `None` when absent.
fn types(schema: &Json) -> Option<BTreeSet<&str>> {
    match schema.get("type")? {
        Json::String(t) => Some(BTreeSet::from([t.as_str()])),
        Json::Array(ts) => Some(ts.iter().filter_map(Json::as_str).collect()),
        _ => None,
    }
}

/// An object schema's content model beyond its named properties.
#[derive(Clone, Copy)]
enum Additional<'a> {
    Open,
    Closed,
    Schema(&'a Json),
}

fn additional(schema: &Json) -> Additional<'_> {
    match schema.get("additionalProperties") {
        None | Some(Json::Bool(true)) => Additional::Open,
        Some(Json::Bool(false)) => Additional::Closed,
        Some(extra) if accepts_everything(extra) => Additional::Open,
        Some(extra) => Additional::Schema(extra),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ok(w: Json, r: Json) -> bool {
        can_read(Document::new(&w, &[]), Document::new(&r, &[])).is_empty()
    }

    fn object(properties: Json, closed: bool, required: &[&str]) -> Json {
        json!({"type": "object", "properties": properties, "additionalProperties": !closed, "required": required})
    }

    #[test]
    fn types_may_widen_not_narrow() {
        assert!(ok(json!({"type": "integer"}), json!({"type": "number"})));
        assert!(!ok(json!({"type": "number"}), json!({"type": "integer"})));
        assert!(ok(json!({"type": "string"}), json!({"type": ["string", "null"]})));
        assert!(!ok(json!({}), json!({"type": "string"})));
        assert!(ok(json!({"type": "string"}), json!({})));
    }

    #[test]
    fn properties_follow_the_content_model() {
        let a = json!({"a": {"type": "string"}});
        let ab = json!({"a": {"type": "string"}, "b": {"type": "integer"}});
        // Added to a closed writer: fine; to an open one: the writer may have written any "b".
        assert!(ok(object(a.clone(), true, &[]), object(ab.clone(), true, &[])));
        assert!(!ok(object(a.clone(), false, &[]), object(ab.clone(), false, &[])));
        // Removed: fine when the reader is open, not when it is closed.
        assert!(ok(object(ab.clone(), true, &[]), object(a.clone(), false, &[])));
        assert!(!ok(object(ab.clone(), true, &[]), object(a.clone(), true, &[])));
        // A new required property cannot be read from old data.
        assert!(!ok(object(a.clone(), true, &[]), object(ab.clone(), true, &["b"])));
        // A changed property type is found under its path.
        let changed =
            can_read(Document::new(&object(a, true, &[]), &[]), Document::new(&object(json!({"a": {"type": "integer"}}), true, &[]), &[]));
        assert!(changed[0].starts_with("#/properties/a:"), "{changed:?}");
    }

    #[test]
    fn constraints_may_loosen_not_tighten() {
        assert!(ok(json!({"type": "string", "maxLength": 5}), json!({"type": "string", "maxLength": 10})));
        assert!(!ok(json!({"type": "string", "maxLength": 10}), json!({"type": "string", "maxLength": 5})));
        assert!(!ok(json!({"type": "string"}), json!({"type": "string", "maxLength": 5})));
        assert!(ok(json!({"enum": ["a"]}), json!({"enum": ["a", "b"]})));
        assert!(!ok(json!({"enum": ["a", "b"]}), json!({"enum": ["a"]})));
        assert!(!ok(json!({"type": "string"}), json!({"type": "string", "pattern": "^x"})));
        assert!(ok(json!({"type": "array", "items": {"type": "integer"}}), json!({"type": "array", "items": {"type": "number"}})));
        assert!(!ok(json!({"type": "array", "items": {"type": "number"}}), json!({"type": "array", "items": {"type": "integer"}})));
    }

    #[test]
    fn unions_and_references() {
        let optional = json!({"oneOf": [{"type": "null"}, {"type": "string"}]});
        assert!(ok(json!({"type": "string"}), optional.clone()));
        assert!(!ok(optional, json!({"type": "string"})));
        let w = json!({"$ref": "#/definitions/a", "definitions": {"a": {"type": "integer"}}});
        let r = json!({"$ref": "other.json"});
        let references = vec![("other.json".to_owned(), json!({"type": "number"}))];
        assert!(can_read(Document::new(&w, &[]), Document::new(&r, &references)).is_empty());
        let unresolved = can_read(Document::new(&w, &[]), Document::new(&r, &[]));
        assert!(unresolved[0].contains("could not be resolved"), "{unresolved:?}");
    }
}
