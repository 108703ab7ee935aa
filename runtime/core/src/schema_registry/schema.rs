//! What a registered schema is: its type, its text as stored, the schemas it references, and
//! its parsed form for compatibility checks.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::error::RegistryError;

/// The schema languages the registry accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    /// Apache Avro (the default when a request names no type).
    Avro,
    /// JSON Schema.
    Json,
}

impl SchemaType {
    /// The types, as `GET /schemas/types` lists them.
    pub const ALL: [SchemaType; 2] = [SchemaType::Json, SchemaType::Avro];

    /// Reads a request's `schemaType` (`None`: Avro, as Confluent's registry assumes).
    pub fn parse(name: Option<&str>) -> Result<SchemaType, RegistryError> {
        match name.map(str::to_ascii_uppercase).as_deref() {
            None | Some("AVRO") => Ok(SchemaType::Avro),
            Some("JSON") => Ok(SchemaType::Json),
            Some(other) => Err(RegistryError::InvalidSchema(format!("schemaType {other} is not supported: use AVRO or JSON"))),
        }
    }

    /// Its name in requests and answers.
    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
        }
    }
}

/// A schema another one uses (an Avro named type or a JSON Schema `$ref` target), as a
/// version of a subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaReference {
    /// The name the referencing schema uses (an Avro full name, a JSON Schema URL).
    pub name: String,
    /// The subject holding the referenced schema.
    pub subject: String,
    /// Its version in that subject.
    pub version: i32,
}

/// A schema as stored: the unit that gets one id, whichever subjects register it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSchema {
    /// Its language.
    pub schema_type: SchemaType,
    /// Its text: the submitted JSON without insignificant whitespace.
    pub schema: String,
    /// The schemas it references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

impl StoredSchema {
    /// The key the schema is stored under: a digest of its type, text and references, so the
    /// same schema registered twice (under any subjects) is one record and one id.
    pub(crate) fn fingerprint(&self) -> String {
        let mut digest = Sha256::new();
        digest.update(self.schema_type.name());
        digest.update([0]);
        digest.update(&self.schema);
        for reference in &self.references {
            digest.update([0]);
            digest.update(format!("{}\u{1}{}\u{1}{}", reference.name, reference.subject, reference.version));
        }
        digest.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A schema parsed for compatibility checks.
#[derive(Clone, Debug)]
pub enum ParsedSchema {
    /// An Avro schema with its referenced named types resolved.
    Avro(apache_avro::Schema),
    /// A JSON Schema document, with the documents it references (by their names).
    Json {
        /// The document.
        root: Json,
        /// Referenced documents by the name they are referenced with.
        references: Vec<(String, Json)>,
    },
}

impl ParsedSchema {
    /// Parses `text` as a schema of `kind`, resolving its `references` (their texts, in order);
    /// a schema that does not parse is a 42201.
    pub fn parse(kind: SchemaType, text: &str, references: &[(String, String)]) -> Result<ParsedSchema, RegistryError> {
        let invalid = |e: &dyn std::fmt::Display| RegistryError::InvalidSchema(format!("Invalid schema {text}: {e}"));
        match kind {
            SchemaType::Avro => {
                let schema = if references.is_empty() {
                    apache_avro::Schema::parse_str(text)
                } else {
                    apache_avro::Schema::parse_str_with_list(text, references.iter().map(|(_, text)| text.as_str()))
                        .map(|(schema, _)| schema)
                };
                schema.map(ParsedSchema::Avro).map_err(|e| invalid(&e))
            }
            SchemaType::Json => {
                let root: Json = serde_json::from_str(text).map_err(|e| invalid(&e))?;
                if !(root.is_object() || root.is_boolean()) {
                    return Err(invalid(&"a JSON Schema is an object or a boolean"));
                }
                let references = references
                    .iter()
                    .map(|(name, text)| serde_json::from_str(text).map(|doc| (name.clone(), doc)).map_err(|e| invalid(&e)))
                    .collect::<Result<_, _>>()?;
                Ok(ParsedSchema::Json { root, references })
            }
        }
    }

    /// The schema's language.
    pub fn kind(&self) -> SchemaType {
        match self {
            ParsedSchema::Avro(_) => SchemaType::Avro,
            ParsedSchema::Json { .. } => SchemaType::Json,
        }
    }
}

/// The text a schema is stored with: JSON without insignificant whitespace (the registry
/// compares schemas by it); with `normalize`, an Avro schema in its parsed form (defaults and
/// attributes kept, spelling variants gone).
pub(crate) fn stored_text(parsed: &ParsedSchema, submitted: &str, normalize: bool) -> Result<String, RegistryError> {
    let compact = |json: &Json| serde_json::to_string(json).map_err(|e| RegistryError::InvalidSchema(e.to_string()));
    match parsed {
        ParsedSchema::Avro(schema) if normalize => {
            serde_json::to_string(schema).map_err(|e| RegistryError::InvalidSchema(format!("Invalid schema {submitted}: {e}")))
        }
        ParsedSchema::Avro(_) => {
            let json: Json = serde_json::from_str(submitted).map_err(|e| RegistryError::InvalidSchema(e.to_string()))?;
            compact(&json)
        }
        ParsedSchema::Json { root, .. } => compact(root),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_does_not_change_what_is_stored() {
        let a = r#"{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}"#;
        let b = "{\"type\":\"record\",\n \"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}";
        let texts: Vec<String> = [a, b]
            .iter()
            .map(|text| stored_text(&ParsedSchema::parse(SchemaType::Avro, text, &[]).unwrap(), text, false).unwrap())
            .collect();
        assert_eq!(texts[0], texts[1]);
        let stored = |schema: &str| StoredSchema { schema_type: SchemaType::Avro, schema: schema.to_owned(), references: vec![] };
        assert_eq!(stored(&texts[0]).fingerprint(), stored(&texts[1]).fingerprint());
        let json = StoredSchema { schema_type: SchemaType::Json, ..stored(&texts[0]) };
        assert_ne!(json.fingerprint(), stored(&texts[0]).fingerprint());
    }

    #[test]
    fn invalid_schemas_and_unknown_types_are_42201() {
        for (kind, text) in [(SchemaType::Avro, r#"{"type": "record"}"#), (SchemaType::Json, "[1]"), (SchemaType::Json, "{")] {
            let error = ParsedSchema::parse(kind, text, &[]).unwrap_err();
            assert_eq!(error.code(), 42201, "{error}");
        }
        assert_eq!(SchemaType::parse(Some("PROTOBUF")).unwrap_err().code(), 42201);
        assert_eq!(SchemaType::parse(None).unwrap(), SchemaType::Avro);
        assert_eq!(SchemaType::parse(Some("json")).unwrap(), SchemaType::Json);
    }

    #[test]
    fn avro_references_resolve_named_types() {
        let address = r#"{"type": "record", "name": "Address", "namespace": "x", "fields": [{"name": "city", "type": "string"}]}"#;
        let person = r#"{"type": "record", "name": "Person", "namespace": "x", "fields": [{"name": "home", "type": "x.Address"}]}"#;
        assert!(ParsedSchema::parse(SchemaType::Avro, person, &[]).is_err());
        let parsed = ParsedSchema::parse(SchemaType::Avro, person, &[("x.Address".into(), address.into())]).unwrap();
        assert_eq!(parsed.kind(), SchemaType::Avro);
    }
}
