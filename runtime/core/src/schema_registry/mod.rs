//! The schema registry every worker serves: Confluent's Schema Registry semantics (subjects,
//! versions, ids, soft and permanent deletes, compatibility levels) over the worker's own
//! state, so a deployment needs no registry service of its own.
//!
//! - [`schema`]: schema types, stored texts and their digests, parsing.
//! - [`compat`]: compatibility levels and Avro's and JSON Schema's evolution rules.
//! - `store`: the records in a state log (ids derived from log positions, see there).
//! - [`error`]: Confluent's error codes.
//!
//! The REST API over it is `crate::rest::registry`.

pub mod compat;
pub mod error;
pub mod schema;
mod store;

use std::collections::BTreeSet;
use std::sync::Arc;

use connect_sdk::context::BoxFuture;
use tokio::sync::OnceCell;

use serde::{Deserialize, Serialize};

pub use compat::CompatibilityLevel;
pub use error::RegistryError;
pub use schema::{ParsedSchema, SchemaReference, SchemaType, StoredSchema};
pub(crate) use store::first_write_wins;

use crate::state::log::{LogError, StateLog};
use store::{Store, Version};

/// A schema sent to register, look up or test, as Confluent's clients send it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaSubmission {
    /// The schema's text.
    pub schema: String,
    /// `AVRO` (when absent) or `JSON`.
    #[serde(default)]
    pub schema_type: Option<String>,
    /// The schemas it references.
    #[serde(default)]
    pub references: Vec<SchemaReference>,
}

/// A version of a subject, as served.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectVersion {
    /// The subject.
    pub subject: String,
    /// The version number.
    pub version: i32,
    /// The schema's id.
    pub id: i32,
    /// Omitted for Avro, as Confluent's registry does.
    #[serde(skip_serializing_if = "is_avro")]
    pub schema_type: SchemaType,
    /// The schema's text.
    pub schema: String,
    /// The schemas it references.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

fn is_avro(kind: &SchemaType) -> bool {
    *kind == SchemaType::Avro
}

/// Which version of a subject a call means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSelector {
    /// The latest (`latest` or `-1`).
    Latest,
    /// A version number.
    Number(i32),
}

impl std::str::FromStr for VersionSelector {
    type Err = RegistryError;

    /// `latest`, `-1` or a positive number; anything else is a 42202.
    fn from_str(text: &str) -> Result<VersionSelector, RegistryError> {
        match text {
            "latest" | "-1" => Ok(VersionSelector::Latest),
            _ => match text.parse::<i32>() {
                Ok(n) if n > 0 => Ok(VersionSelector::Number(n)),
                _ => Err(RegistryError::InvalidVersion(text.to_owned())),
            },
        }
    }
}

/// How often a registration that lost the race for a version number tries the next one.
const REGISTER_ATTEMPTS: u32 = 16;
/// How deep references may nest.
const MAX_REFERENCE_DEPTH: usize = 32;

/// Opens a registry's log (a topic log's reader is a RocketMQ consumer, some 50 MB of client
/// buffers: a cluster worker opens it when the registry is first used).
pub(crate) type OpenLog = Arc<dyn Fn() -> BoxFuture<'static, Result<StateLog, LogError>> + Send + Sync>;

/// The registry of one worker; cheap to clone. Workers of a cluster share its records.
#[derive(Clone)]
pub struct SchemaRegistry {
    store: Arc<OnceCell<Store>>,
    /// How the log is opened when it was not at start.
    open: Option<OpenLog>,
    /// One registration at a time on this worker (other workers are ordered by the log).
    registering: Arc<tokio::sync::Mutex<()>>,
}

/// A submission ready to store: its digest, stored form and parsed form.
struct Prepared {
    digest: String,
    stored: StoredSchema,
    parsed: ParsedSchema,
}

impl SchemaRegistry {
    /// A registry over `log`, whose merge rule must be [`first_write_wins`].
    pub(crate) fn new(log: StateLog) -> SchemaRegistry {
        SchemaRegistry { store: Arc::new(OnceCell::new_with(Some(Store::new(log)))), open: None, registering: Arc::default() }
    }

    /// A registry whose log `open` opens at its first use ([`ready`](Self::ready)).
    pub(crate) fn opened_on_first_use(open: OpenLog) -> SchemaRegistry {
        SchemaRegistry { store: Arc::default(), open: Some(open), registering: Arc::default() }
    }

    /// Opens the registry's log if it is not open yet (replaying it); every call of a REST
    /// handler starts here.
    pub async fn ready(&self) -> Result<&SchemaRegistry, RegistryError> {
        if self.store.get().is_none()
            && let Some(open) = &self.open
        {
            self.store.get_or_try_init(|| async { open().await.map(Store::new) }).await?;
        }
        Ok(self)
    }

    fn store(&self) -> Result<&Store, RegistryError> {
        self.store.get().ok_or(RegistryError::NotReady)
    }

    /// The log the registry keeps its records in, once open.
    pub(crate) fn log(&self) -> Option<&StateLog> {
        self.store.get().map(Store::log)
    }

    /// Subjects with a live version (`deleted`: soft-deleted ones too), starting with `prefix`.
    pub fn subjects(&self, deleted: bool, prefix: &str) -> Result<Vec<String>, RegistryError> {
        let store = self.store()?;
        Ok(store
            .subjects()
            .into_iter()
            .filter(|s| s.starts_with(prefix))
            .filter(|s| deleted || store.versions(s).iter().any(|v| !v.record.deleted))
            .collect())
    }

    /// The version numbers of `subject` (`deleted`: soft-deleted ones too).
    pub fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<i32>, RegistryError> {
        let versions = self.visible(subject, deleted)?;
        Ok(versions.iter().map(|v| v.number).collect())
    }

    /// One version of `subject` (`deleted`: soft-deleted ones may be asked for).
    pub fn version(&self, subject: &str, selector: VersionSelector, deleted: bool) -> Result<SubjectVersion, RegistryError> {
        let versions = self.visible(subject, deleted)?;
        let version = pick(subject, &versions, selector)?;
        self.served(subject, version)
    }

    /// Registers `submission` under `subject`: its id, the existing one when the subject
    /// already has this schema; a 409 when it breaks the subject's compatibility level.
    pub async fn register(&self, subject: &str, submission: &SchemaSubmission, normalize: bool) -> Result<i32, RegistryError> {
        let prepared = self.prepare(submission, normalize)?;
        let _registering = self.registering.lock().await;
        for _ in 0..REGISTER_ATTEMPTS {
            let versions = self.store()?.versions(subject);
            let live: Vec<&Version> = versions.iter().filter(|v| !v.record.deleted).collect();
            if live.iter().any(|v| v.record.schema == prepared.digest) {
                return self.id_of(&prepared.digest);
            }
            let level = self.effective_level(subject)?;
            let problems = self.problems(level, &prepared.parsed, level.checked_against(&live))?;
            if !problems.is_empty() {
                return Err(RegistryError::Incompatible { subject: subject.to_owned(), details: problems });
            }
            let next = versions.last().map_or(1, |v| v.number + 1);
            if self.store()?.add_version(subject, next, &prepared.digest, &prepared.stored).await? {
                return self.id_of(&prepared.digest);
            }
        }
        Err(RegistryError::Contended(REGISTER_ATTEMPTS, subject.to_owned()))
    }

    /// The version of `subject` holding `submission`'s schema (40401 without the subject,
    /// 40403 without the schema).
    pub fn lookup(
        &self,
        subject: &str,
        submission: &SchemaSubmission,
        normalize: bool,
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let prepared = self.prepare(submission, normalize)?;
        let versions = self.visible(subject, deleted)?;
        let version = versions
            .iter()
            .rev()
            .find(|v| v.record.schema == prepared.digest)
            .ok_or_else(|| RegistryError::SchemaNotFound("Schema not found".to_owned()))?;
        self.served(subject, version)
    }

    /// Deletes every version of `subject`: soft-deletes the live ones, or with `permanent`
    /// removes soft-deleted ones for good (and the subject's level). Returns the versions.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<i32>, RegistryError> {
        let versions = self.store()?.versions(subject);
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        let live: Vec<Version> = versions.iter().filter(|v| !v.record.deleted).cloned().collect();
        let numbers: Vec<i32> = versions.iter().map(|v| v.number).collect();
        if permanent {
            if !live.is_empty() {
                return Err(RegistryError::SubjectNotSoftDeleted(subject.to_owned()));
            }
            self.store()?.remove(subject, &numbers, true).await?;
            return Ok(numbers);
        }
        if live.is_empty() {
            return Err(RegistryError::SubjectSoftDeleted(subject.to_owned()));
        }
        self.store()?.soft_delete(subject, &live).await?;
        Ok(live.iter().map(|v| v.number).collect())
    }

    /// Deletes one version: soft, or with `permanent` for good (soft-deleted first).
    pub async fn delete_version(&self, subject: &str, selector: VersionSelector, permanent: bool) -> Result<i32, RegistryError> {
        let versions = self.store()?.versions(subject);
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        // `latest` of a soft delete is the latest live version; a number may name a deleted one.
        let any = permanent || matches!(selector, VersionSelector::Number(_));
        let candidates: Vec<Version> = versions.into_iter().filter(|v| any || !v.record.deleted).collect();
        let version = pick(subject, &candidates, selector)?.clone();
        match (permanent, version.record.deleted) {
            (false, true) => Err(RegistryError::VersionSoftDeleted(subject.to_owned(), version.number)),
            (false, false) => self.store()?.soft_delete(subject, std::slice::from_ref(&version)).await.map(|()| version.number),
            (true, false) => Err(RegistryError::VersionNotSoftDeleted(subject.to_owned(), version.number)),
            (true, true) => self.store()?.remove(subject, &[version.number], false).await.map(|()| version.number),
        }
    }

    /// The schema with `id` (40403 when there is none).
    pub fn schema(&self, id: i32) -> Result<StoredSchema, RegistryError> {
        self.store()?.schema_by_id(id).map(|(_, schema)| schema).ok_or_else(|| schema_not_found(id))
    }

    /// The subject versions holding the schema with `id`.
    pub fn schema_versions(&self, id: i32, deleted: bool) -> Result<Vec<(String, i32)>, RegistryError> {
        let (digest, _) = self.store()?.schema_by_id(id).ok_or_else(|| schema_not_found(id))?;
        let mut found = Vec::new();
        for subject in self.store()?.subjects() {
            for version in self.store()?.versions(&subject) {
                if version.record.schema == digest && (deleted || !version.record.deleted) {
                    found.push((subject.clone(), version.number));
                }
            }
        }
        Ok(found)
    }

    /// The ids of schemas, under live versions, that reference version `version` of `subject`.
    pub fn referenced_by(&self, subject: &str, version: i32) -> Result<Vec<i32>, RegistryError> {
        let store = self.store()?;
        let mut ids: Vec<i32> = store
            .subjects()
            .iter()
            .flat_map(|s| store.versions(s))
            .filter(|v| !v.record.deleted)
            .filter_map(|v| store.schema(&v.record.schema))
            .filter(|(_, schema)| schema.references.iter().any(|r| r.subject == subject && r.version == version))
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The level of `subject` (`None`: the global one). A subject without its own level is a
    /// 40408 unless `default_to_global`.
    pub fn level(&self, subject: Option<&str>, default_to_global: bool) -> Result<CompatibilityLevel, RegistryError> {
        match subject {
            None => Ok(self.store()?.level(None).unwrap_or_default()),
            Some(s) => match self.store()?.level(Some(s)) {
                Some(level) => Ok(level),
                None if default_to_global => Ok(self.store()?.level(None).unwrap_or_default()),
                None => Err(RegistryError::SubjectLevelNotConfigured(s.to_owned())),
            },
        }
    }

    /// Sets the level of `subject` (`None`: the global one).
    pub async fn set_level(&self, subject: Option<&str>, level: CompatibilityLevel) -> Result<(), RegistryError> {
        self.store()?.set_level(subject, Some(level)).await
    }

    /// Removes the level of `subject` (`None`: the global one, back to `BACKWARD`); returns
    /// the level it had.
    pub async fn delete_level(&self, subject: Option<&str>) -> Result<CompatibilityLevel, RegistryError> {
        let previous = self.level(subject, false)?;
        self.store()?.set_level(subject, None).await?;
        Ok(previous)
    }

    /// What keeps `submission` from being registered under `subject`: against one version
    /// (`Some`), or against those the subject's level names (`None`). Empty: compatible.
    pub fn test_compatibility(
        &self,
        subject: &str,
        selector: Option<VersionSelector>,
        submission: &SchemaSubmission,
        normalize: bool,
    ) -> Result<Vec<String>, RegistryError> {
        let prepared = self.prepare(submission, normalize)?;
        let level = self.effective_level(subject)?;
        let versions = self.store()?.versions(subject);
        let live: Vec<&Version> = versions.iter().filter(|v| !v.record.deleted).collect();
        match selector {
            None => self.problems(level, &prepared.parsed, level.checked_against(&live)),
            Some(selector) => {
                if live.is_empty() {
                    return Err(RegistryError::SubjectNotFound(subject.to_owned()));
                }
                let owned: Vec<Version> = live.into_iter().cloned().collect();
                let version = pick(subject, &owned, selector)?;
                self.problems(level, &prepared.parsed, &[version])
            }
        }
    }

    fn effective_level(&self, subject: &str) -> Result<CompatibilityLevel, RegistryError> {
        let store = self.store()?;
        Ok(store.level(Some(subject)).or_else(|| store.level(None)).unwrap_or_default())
    }

    fn problems<V: std::borrow::Borrow<Version>>(
        &self,
        level: CompatibilityLevel,
        new: &ParsedSchema,
        earlier: &[V],
    ) -> Result<Vec<String>, RegistryError> {
        let parsed = earlier.iter().map(|v| self.parse_stored(&v.borrow().record.schema)).collect::<Result<Vec<_>, _>>()?;
        Ok(compat::problems(level, new, &parsed.iter().collect::<Vec<_>>()))
    }

    /// Versions of `subject` a read may see; 40401 when none.
    fn visible(&self, subject: &str, deleted: bool) -> Result<Vec<Version>, RegistryError> {
        let versions: Vec<Version> = self.store()?.versions(subject).into_iter().filter(|v| deleted || !v.record.deleted).collect();
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        Ok(versions)
    }

    fn served(&self, subject: &str, version: &Version) -> Result<SubjectVersion, RegistryError> {
        let (id, schema) = self
            .store()?
            .schema(&version.record.schema)
            .ok_or_else(|| RegistryError::SchemaNotFound(format!("Schema of {subject} version {} not found", version.number)))?;
        Ok(SubjectVersion {
            subject: subject.to_owned(),
            version: version.number,
            id,
            schema_type: schema.schema_type,
            schema: schema.schema,
            references: schema.references,
        })
    }

    fn id_of(&self, digest: &str) -> Result<i32, RegistryError> {
        self.store()?.schema(digest).map(|(id, _)| id).ok_or_else(|| RegistryError::SchemaNotFound(format!("Schema {digest} not found")))
    }

    fn prepare(&self, submission: &SchemaSubmission, normalize: bool) -> Result<Prepared, RegistryError> {
        let kind = SchemaType::parse(submission.schema_type.as_deref())?;
        let referenced = self.referenced(&submission.references, 0)?;
        let parsed = ParsedSchema::parse(kind, &submission.schema, &referenced)?;
        let text = schema::stored_text(&parsed, &submission.schema, normalize)?;
        let stored = StoredSchema { schema_type: kind, schema: text, references: submission.references.clone() };
        Ok(Prepared { digest: stored.fingerprint(), stored, parsed })
    }

    /// The texts of `references` and of what they reference in turn, dependencies first.
    fn referenced(&self, references: &[SchemaReference], depth: usize) -> Result<Vec<(String, String)>, RegistryError> {
        if depth > MAX_REFERENCE_DEPTH {
            return Err(RegistryError::InvalidSchema(format!("references nest deeper than {MAX_REFERENCE_DEPTH}")));
        }
        let mut texts = Vec::new();
        let mut seen = BTreeSet::new();
        for reference in references {
            let version =
                self.store()?.versions(&reference.subject).into_iter().find(|v| v.number == reference.version).ok_or_else(|| {
                    RegistryError::InvalidSchema(format!(
                        "Invalid schema: reference {} to version {} of subject '{}' not found",
                        reference.name, reference.version, reference.subject
                    ))
                })?;
            let (_, schema) = self.store()?.schema(&version.record.schema).ok_or_else(|| schema_not_found(0))?;
            for (name, text) in self.referenced(&schema.references, depth + 1)? {
                if seen.insert(name.clone()) {
                    texts.push((name, text));
                }
            }
            if seen.insert(reference.name.clone()) {
                texts.push((reference.name.clone(), schema.schema));
            }
        }
        Ok(texts)
    }

    fn parse_stored(&self, digest: &str) -> Result<ParsedSchema, RegistryError> {
        let (_, stored) =
            self.store()?.schema(digest).ok_or_else(|| RegistryError::SchemaNotFound(format!("Schema {digest} not found")))?;
        let referenced = self.referenced(&stored.references, 0)?;
        ParsedSchema::parse(stored.schema_type, &stored.schema, &referenced)
    }
}

fn schema_not_found(id: i32) -> RegistryError {
    RegistryError::SchemaNotFound(format!("Schema {id} not found"))
}

/// The version `selector` names among `versions` (oldest first).
fn pick<'v>(subject: &str, versions: &'v [Version], selector: VersionSelector) -> Result<&'v Version, RegistryError> {
    let found = match selector {
        VersionSelector::Latest => versions.last(),
        VersionSelector::Number(n) => versions.iter().find(|v| v.number == n),
    };
    let name = match selector {
        VersionSelector::Latest => "latest".to_owned(),
        VersionSelector::Number(n) => n.to_string(),
    };
    found.ok_or_else(|| RegistryError::VersionNotFound(subject.to_owned(), name))
}

#[cfg(test)]
mod tests;
