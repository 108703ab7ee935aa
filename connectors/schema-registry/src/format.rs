//! What the `avro` and `json-schema` converters share: Confluent's wire format (magic byte 0,
//! the schema id in 4 big-endian bytes, then the encoded value), the registry calls and their
//! caches. A [`Format`] says how one schema language writes and reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use connect_sdk::data::{DataError, Schema, SchemaAndValue, Value};

use crate::client::RegistryClient;
use crate::settings::RegistrySettings;

/// The first byte of every message in Confluent's wire format.
const MAGIC: u8 = 0;
/// Writer schemas kept per converter (the oldest goes first beyond it).
const MAX_WRITERS: usize = 1_000;

/// One schema language.
pub trait Format: Send + Sync + 'static {
    /// The registry's name of the language (`schemaType`).
    const TYPE: &'static str;
    /// A schema parsed for writing.
    type Writer: Send + Sync;
    /// A schema parsed for reading, with the Connect schema of what it reads.
    type Reader: Send + Sync;
    /// The language's schema text of a Connect schema.
    fn schema_text(schema: &Schema) -> Result<String, DataError>;
    /// Parses a schema text for writing; with `validate`, what it writes is checked against
    /// the schema (for a language whose encoding does not check it by itself).
    fn writer(text: &str, validate: bool) -> Result<Self::Writer, DataError>;
    /// Encodes a value of `schema` with `writer`.
    fn encode(writer: &Self::Writer, schema: &Schema, value: &Value) -> Result<Vec<u8>, DataError>;
    /// Parses a writer's schema text for reading; with `validate`, what it reads is checked
    /// against the schema.
    fn reader(text: &str, validate: bool) -> Result<Self::Reader, DataError>;
    /// Decodes a payload written with the reader's schema.
    fn decode(reader: &Self::Reader, payload: &[u8]) -> Result<SchemaAndValue, DataError>;
}

/// How a converter uses its registry: its keys, whether it converts keys, whether it checks
/// documents against their schemas.
#[derive(Clone, Copy)]
pub struct Role<'a> {
    /// The registry keys.
    pub settings: &'a RegistrySettings,
    /// Keys (`true`) or values.
    pub is_key: bool,
    /// Check what is written and read against the schema.
    pub validate: bool,
}

struct Written<F: Format> {
    /// The topic written to (with the schema, it decides the subject: no subject is built per record).
    topic: String,
    schema: Schema,
    id: i32,
    writer: Arc<F::Writer>,
}

/// A converter's registry state: its client (made at first use) and caches.
pub struct Registered<F: Format> {
    client: OnceLock<RegistryClient>,
    writers: Mutex<Vec<Arc<Written<F>>>>,
    readers: Mutex<HashMap<i32, Arc<F::Reader>>>,
}

impl<F: Format> Default for Registered<F> {
    fn default() -> Registered<F> {
        Registered { client: OnceLock::new(), writers: Mutex::default(), readers: Mutex::default() }
    }
}

impl<F: Format> std::fmt::Debug for Registered<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered").field("client", &self.client.get()).finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<F: Format> Registered<F> {
    fn client(&self, settings: &RegistrySettings) -> Result<&RegistryClient, DataError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = settings.client()?;
        Ok(self.client.get_or_init(|| client))
    }

    /// A value of `schema` in Confluent's wire format, its schema registered (or looked up)
    /// under the subject the settings name; `None` for a null value.
    pub fn encode(&self, role: Role<'_>, topic: &str, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>, DataError> {
        if value.is_null() {
            return Ok(None);
        }
        let schema = schema
            .ok_or_else(|| DataError::new(format!("the {} converter needs a schema: the record has none", F::TYPE.to_lowercase())))?;
        let written = self.written(role, topic, schema)?;
        let payload = F::encode(&written.writer, schema, value)?;
        let mut framed = Vec::with_capacity(payload.len() + 5);
        framed.push(MAGIC);
        framed.extend_from_slice(&written.id.to_be_bytes());
        framed.extend_from_slice(&payload);
        Ok(Some(framed))
    }

    fn written(&self, role: Role<'_>, topic: &str, schema: &Schema) -> Result<Arc<Written<F>>, DataError> {
        let Role { settings, is_key, validate } = role;
        if let Some(found) = lock(&self.writers).iter().rev().find(|w| w.topic == topic && w.schema == *schema) {
            return Ok(found.clone());
        }
        let subject = settings.subject(is_key, topic, Some(schema))?;
        let client = self.client(settings)?;
        let (id, text) = if settings.use_latest_version {
            let latest = client.latest(&subject)?;
            (latest.id, latest.schema)
        } else {
            let text = F::schema_text(schema)?;
            (client.id_of(&subject, F::TYPE, &text, settings.auto_register_schemas)?, text)
        };
        let written =
            Arc::new(Written { topic: topic.to_owned(), schema: schema.clone(), id, writer: Arc::new(F::writer(&text, validate)?) });
        let mut writers = lock(&self.writers);
        if writers.len() >= MAX_WRITERS {
            writers.remove(0);
        }
        writers.push(written.clone());
        Ok(written)
    }

    /// The schema and value of a message in Confluent's wire format.
    pub fn decode(&self, role: Role<'_>, data: Option<&[u8]>) -> Result<SchemaAndValue, DataError> {
        let Role { settings, validate, .. } = role;
        let Some(data) = data else { return Ok(SchemaAndValue::new(None, Value::Null)) };
        let (header, payload) = data.split_at_checked(5).ok_or_else(|| not_framed(data))?;
        if header[0] != MAGIC {
            return Err(not_framed(data));
        }
        let id = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let cached = lock(&self.readers).get(&id).cloned();
        let reader = match cached {
            Some(reader) => reader,
            None => {
                let registered = self.client(settings)?.schema(id)?;
                if registered.schema_type != F::TYPE {
                    return Err(DataError::new(format!("schema {id} is {}, not {}", registered.schema_type, F::TYPE)));
                }
                let reader = Arc::new(F::reader(&registered.schema, validate)?);
                lock(&self.readers).insert(id, reader.clone());
                reader
            }
        };
        F::decode(&reader, payload).map_err(|e| DataError::new(format!("a message of schema {id}: {e}")))
    }
}

fn not_framed(data: &[u8]) -> DataError {
    DataError::new(format!(
        "not in Confluent's wire format (a 0 byte and a 4-byte schema id first); it starts with {:02x?}",
        &data[..data.len().min(8)]
    ))
}
