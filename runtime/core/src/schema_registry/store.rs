//! The registry's records in a [`StateLog`]: the data directory's `schemas.json` standalone,
//! the `<cluster>-schemas` topic in a cluster, so every worker reads the same records in the
//! same order and answers alike.
//!
//! - `schema/<digest>`: a schema (type, text, references). Its **id is the position of the
//!   record that first wrote it, plus one**: every reader of the log sees that record at the
//!   same position, so ids agree across workers without a leader handing them out, and a
//!   schema written twice keeps its first position (the merge rule keeps the first write).
//! - `subject/<subject>/<version>`: a version of a subject: which schema, and whether it is
//!   soft-deleted. A new version is written *if absent*: of two workers registering the same
//!   version number at once, the log's order picks one, and the other reads back a different
//!   schema under its number and tries the next.
//! - `config` and `config/<subject>`: compatibility levels.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::compat::CompatibilityLevel;
use super::error::RegistryError;
use super::schema::StoredSchema;
use crate::state::log::{Change, Entry, StateLog};

/// A value marked so is applied only when its key is absent.
const IF_ABSENT: &str = "if_absent";

/// The registry log's merge rule: deletes and plain writes apply; a write marked
/// [`IF_ABSENT`] applies only over nothing, so the first of competing writes wins everywhere.
pub(crate) fn first_write_wins(current: Option<&Entry>, _offset: u64, value: Option<&Json>) -> bool {
    current.is_none() || !value.is_some_and(|v| v.get(IF_ABSENT) == Some(&Json::Bool(true)))
}

/// One version of a subject, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    /// Digest of the schema ([`StoredSchema::fingerprint`]).
    pub(crate) schema: String,
    /// Soft-deleted: kept, but not served unless asked for.
    #[serde(default)]
    pub(crate) deleted: bool,
}

/// A version of a subject, with its number.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Version {
    pub(crate) number: i32,
    pub(crate) record: VersionRecord,
}

/// The registry's typed view of its log.
#[derive(Clone)]
pub(crate) struct Store {
    log: StateLog,
}

impl Store {
    pub(crate) fn new(log: StateLog) -> Store {
        Store { log }
    }

    /// The log (for the worker's snapshot and close duties).
    pub(crate) fn log(&self) -> &StateLog {
        &self.log
    }

    /// A schema by digest, with its id.
    pub(crate) fn schema(&self, digest: &str) -> Option<(i32, StoredSchema)> {
        let entry = self.log.get(&format!("schema/{digest}"))?;
        Some((id_of(&entry), serde_json::from_value(entry.value).ok()?))
    }

    /// A schema by id, with its digest.
    pub(crate) fn schema_by_id(&self, id: i32) -> Option<(String, StoredSchema)> {
        self.log.with_prefix("schema/").into_iter().find(|(_, entry)| id_of(entry) == id).and_then(|(key, entry)| {
            let digest = key.trim_start_matches("schema/").to_owned();
            Some((digest, serde_json::from_value(entry.value).ok()?))
        })
    }

    /// Every subject with at least one version (soft-deleted ones too), sorted.
    pub(crate) fn subjects(&self) -> Vec<String> {
        let mut subjects: Vec<String> = self
            .log
            .with_prefix("subject/")
            .into_iter()
            .filter_map(|(key, _)| split_version_key(&key).map(|(s, _)| s.to_owned()))
            .collect();
        subjects.sort();
        subjects.dedup();
        subjects
    }

    /// The versions of `subject`, soft-deleted ones too, oldest first.
    pub(crate) fn versions(&self, subject: &str) -> Vec<Version> {
        let mut versions: Vec<Version> = self
            .log
            .with_prefix(&format!("subject/{subject}/"))
            .into_iter()
            .filter_map(|(key, entry)| {
                let (of, number) = split_version_key(&key)?;
                let record = serde_json::from_value(entry.value).ok()?;
                (of == subject).then_some(Version { number, record })
            })
            .collect();
        versions.sort_by_key(|v| v.number);
        versions
    }

    /// Writes `schema` (if new) and version `number` of `subject` naming it (if that number is
    /// free); returns whether the version now names this schema (`false`: another writer took
    /// the number first).
    pub(crate) async fn add_version(&self, subject: &str, number: i32, digest: &str, schema: &StoredSchema) -> Result<bool, RegistryError> {
        let mut schema_value = serde_json::to_value(schema).map_err(|e| RegistryError::InvalidSchema(e.to_string()))?;
        schema_value[IF_ABSENT] = Json::Bool(true);
        let version = json!({"schema": digest, "deleted": false, IF_ABSENT: true});
        let key = version_key(subject, number);
        self.log.append(vec![(format!("schema/{digest}"), Some(schema_value)), (key.clone(), Some(version))]).await?;
        Ok(self.log.get(&key).is_some_and(|entry| entry.value.get("schema").and_then(Json::as_str) == Some(digest)))
    }

    /// Marks versions soft-deleted.
    pub(crate) async fn soft_delete(&self, subject: &str, versions: &[Version]) -> Result<(), RegistryError> {
        let changes: Vec<Change> =
            versions.iter().map(|v| (version_key(subject, v.number), Some(json!({"schema": v.record.schema, "deleted": true})))).collect();
        self.log.append(changes).await?;
        Ok(())
    }

    /// Removes versions for good (their schemas stay, so ids keep resolving).
    pub(crate) async fn remove(&self, subject: &str, versions: &[i32], with_config: bool) -> Result<(), RegistryError> {
        let mut changes: Vec<Change> = versions.iter().map(|v| (version_key(subject, *v), None)).collect();
        if with_config {
            changes.push((format!("config/{subject}"), None));
        }
        self.log.append(changes).await?;
        Ok(())
    }

    /// The level set for `subject`, or globally when `None`.
    pub(crate) fn level(&self, subject: Option<&str>) -> Option<CompatibilityLevel> {
        let entry = self.log.get(&config_key(subject))?;
        serde_json::from_value(entry.value.get("compatibilityLevel")?.clone()).ok()
    }

    /// Sets (or with `None` removes) the level of `subject`, or the global one.
    pub(crate) async fn set_level(&self, subject: Option<&str>, level: Option<CompatibilityLevel>) -> Result<(), RegistryError> {
        let value = level.map(|level| json!({"compatibilityLevel": level}));
        self.log.append(vec![(config_key(subject), value)]).await?;
        Ok(())
    }
}

/// A schema's id: the position of the record that first wrote it, plus one.
fn id_of(entry: &Entry) -> i32 {
    i32::try_from(entry.offset + 1).unwrap_or(i32::MAX)
}

fn version_key(subject: &str, number: i32) -> String {
    format!("subject/{subject}/{number:010}")
}

/// `(subject, version)` of a version key; subjects may contain `/`, versions never do.
fn split_version_key(key: &str) -> Option<(&str, i32)> {
    let (subject, number) = key.strip_prefix("subject/")?.rsplit_once('/')?;
    Some((subject, number.parse().ok()?))
}

fn config_key(subject: Option<&str>) -> String {
    subject.map_or_else(|| "config".to_owned(), |s| format!("config/{s}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema_registry::schema::SchemaType;

    fn schema(text: &str) -> StoredSchema {
        StoredSchema { schema_type: SchemaType::Avro, schema: text.to_owned(), references: vec![] }
    }

    #[tokio::test]
    async fn the_first_writer_of_a_version_wins_and_a_schema_keeps_its_first_id() {
        let store = Store::new(StateLog::memory_with("schemas", first_write_wins));
        let (a, b) = (schema(r#""int""#), schema(r#""long""#));
        assert!(store.add_version("s", 1, &a.fingerprint(), &a).await.unwrap());
        let (id, _) = store.schema(&a.fingerprint()).unwrap();
        // Another writer raced for version 1 with another schema: the number was taken.
        assert!(!store.add_version("s", 1, &b.fingerprint(), &b).await.unwrap());
        assert!(store.add_version("s", 2, &b.fingerprint(), &b).await.unwrap());
        // The same schema under another subject: the same id.
        assert!(store.add_version("s/t", 1, &a.fingerprint(), &a).await.unwrap());
        assert_eq!(store.schema(&a.fingerprint()).unwrap().0, id);
        assert_eq!(store.schema_by_id(id).unwrap().1, a);
        assert_eq!(store.subjects(), vec!["s".to_owned(), "s/t".to_owned()]);
        // "s" does not see the versions of "s/t".
        assert_eq!(store.versions("s").iter().map(|v| v.number).collect::<Vec<_>>(), vec![1, 2]);
    }
}
