//! [`RegistryClient`]: the calls a converter makes to a Confluent-compatible schema registry,
//! with their answers cached so a record costs no round trip once its schema is known.
//!
//! Converters are called synchronously from a task's loop, which runs on an async runtime; a
//! registry call must not block that runtime's machinery, so calls run on a thread of the
//! client's own (with a current-thread runtime and `reqwest`), and the converter waits for the
//! answer. Only cache misses wait: once per schema and subject.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use base64::Engine;
use connect_sdk::data::DataError;
use connect_sdk::error_chain;
use serde_json::{Value as Json, json};

/// How a call is tried: this many attempts, backing off from [`FIRST_BACKOFF`], when the
/// registry cannot be reached or answers with a server error.
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A schema as the registry serves it.
#[derive(Clone, Debug, PartialEq)]
pub struct RegisteredSchema {
    /// Its id.
    pub id: i32,
    /// `AVRO` or `JSON`.
    pub schema_type: String,
    /// Its text.
    pub schema: String,
}

/// A client of one registry (several URLs are tried in turn), shared by a converter's calls.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    urls: Vec<String>,
    authorization: Option<String>,
    calls: OnceLock<Mutex<mpsc::Sender<Call>>>,
    by_id: Mutex<HashMap<i32, RegisteredSchema>>,
    ids: Mutex<HashMap<(String, String), i32>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").field("urls", &self.inner.urls).finish_non_exhaustive()
    }
}

struct Call {
    method: reqwest::Method,
    path: Vec<String>,
    body: Option<Json>,
    reply: mpsc::SyncSender<Result<Json, DataError>>,
}

impl RegistryClient {
    /// A client of the registry at `urls` (comma-separated in configs), sending basic
    /// credentials `user:password` when given.
    pub fn new(urls: Vec<String>, user_info: Option<&str>) -> RegistryClient {
        let authorization = user_info.map(|info| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(info)));
        let urls = urls.into_iter().map(|u| u.trim_end_matches('/').to_owned()).collect();
        RegistryClient {
            inner: Arc::new(Inner { urls, authorization, calls: OnceLock::new(), by_id: Mutex::default(), ids: Mutex::default() }),
        }
    }

    /// The registry's URLs.
    pub fn urls(&self) -> &[String] {
        &self.inner.urls
    }

    /// The id of `schema` under `subject`, registering it when `register` (else looking it up).
    pub fn id_of(&self, subject: &str, schema_type: &str, schema: &str, register: bool) -> Result<i32, DataError> {
        let key = (subject.to_owned(), schema.to_owned());
        if let Some(id) = lock(&self.inner.ids).get(&key) {
            return Ok(*id);
        }
        let mut body = json!({"schema": schema});
        if schema_type != "AVRO" {
            body["schemaType"] = json!(schema_type);
        }
        let answer = if register {
            self.call(reqwest::Method::POST, &["subjects", subject, "versions"], Some(body))?
        } else {
            self.call(reqwest::Method::POST, &["subjects", subject], Some(body))?
        };
        let id = answer["id"].as_i64().and_then(|id| i32::try_from(id).ok()).ok_or_else(|| self.error(format!("no id in {answer}")))?;
        lock(&self.inner.ids).insert(key, id);
        Ok(id)
    }

    /// The latest version of `subject` (asked every time: it may change).
    pub fn latest(&self, subject: &str) -> Result<RegisteredSchema, DataError> {
        let answer = self.call(reqwest::Method::GET, &["subjects", subject, "versions", "latest"], None)?;
        let registered = registered(&answer).ok_or_else(|| self.error(format!("unexpected answer {answer}")))?;
        lock(&self.inner.by_id).insert(registered.id, registered.clone());
        Ok(registered)
    }

    /// The schema with `id` (cached: a schema's id never changes).
    pub fn schema(&self, id: i32) -> Result<RegisteredSchema, DataError> {
        if let Some(found) = lock(&self.inner.by_id).get(&id) {
            return Ok(found.clone());
        }
        let mut answer = self.call(reqwest::Method::GET, &["schemas", "ids", &id.to_string()], None)?;
        answer["id"] = json!(id);
        let found = registered(&answer).ok_or_else(|| self.error(format!("unexpected answer {answer}")))?;
        lock(&self.inner.by_id).insert(id, found.clone());
        Ok(found)
    }

    fn error(&self, what: impl std::fmt::Display) -> DataError {
        DataError::new(format!("schema registry {}: {what}", self.inner.urls.join(",")))
    }

    fn call(&self, method: reqwest::Method, path: &[&str], body: Option<Json>) -> Result<Json, DataError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let call = Call { method, path: path.iter().map(|s| (*s).to_owned()).collect(), body, reply };
        let sender = self.inner.calls.get_or_init(|| Mutex::new(spawn(self.inner.urls.clone(), self.inner.authorization.clone())));
        lock(sender).send(call).map_err(|_| self.error("the client's thread ended"))?;
        answer.recv().map_err(|_| self.error("the client's thread ended"))?
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn registered(answer: &Json) -> Option<RegisteredSchema> {
    Some(RegisteredSchema {
        id: i32::try_from(answer["id"].as_i64()?).ok()?,
        schema_type: answer["schemaType"].as_str().unwrap_or("AVRO").to_owned(),
        schema: answer["schema"].as_str()?.to_owned(),
    })
}

/// The thread answering calls; it ends when the client is dropped.
fn spawn(urls: Vec<String>, authorization: Option<String>) -> mpsc::Sender<Call> {
    let (sender, calls) = mpsc::channel::<Call>();
    // A thread that cannot start drops `calls`: every call then fails naming the registry.
    let _ = std::thread::Builder::new().name("schema-registry-client".to_owned()).spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let client = reqwest::Client::builder().timeout(CALL_TIMEOUT).build();
        let (Ok(runtime), Ok(client)) = (runtime, client) else {
            for call in calls {
                let _ = call.reply.send(Err(DataError::new("schema registry client: cannot start an HTTP client")));
            }
            return;
        };
        for call in calls {
            let answer = runtime.block_on(attempt(&client, &urls, authorization.as_deref(), &call));
            let _ = call.reply.send(answer);
        }
    });
    sender
}

/// Tries `call` on each URL in turn, [`ATTEMPTS`] rounds, while the failure may pass.
async fn attempt(client: &reqwest::Client, urls: &[String], authorization: Option<&str>, call: &Call) -> Result<Json, DataError> {
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::new();
    for round in 0..ATTEMPTS {
        if round > 0 {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        for base in urls {
            match once(client, base, authorization, call).await {
                Ok(answer) => return Ok(answer),
                Err(Failure::Final(message)) => return Err(DataError::new(format!("schema registry {base}: {message}"))),
                Err(Failure::Passing(message)) => last = format!("schema registry {base}: {message}"),
            }
        }
    }
    Err(DataError::unavailable(format!("{last} (tried {ATTEMPTS} times)")))
}

enum Failure {
    /// Unreachable, timed out or a server error: another attempt may succeed.
    Passing(String),
    /// The registry refused the call (4xx): trying again changes nothing.
    Final(String),
}

async fn once(client: &reqwest::Client, base: &str, authorization: Option<&str>, call: &Call) -> Result<Json, Failure> {
    let mut url = reqwest::Url::parse(base).map_err(|e| Failure::Final(format!("invalid URL: {e}")))?;
    url.path_segments_mut().map_err(|()| Failure::Final("the URL cannot have a path".to_owned()))?.pop_if_empty().extend(&call.path);
    let mut request = client.request(call.method.clone(), url).header("Accept", "application/vnd.schemaregistry.v1+json");
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    if let Some(body) = &call.body {
        request = request.header("Content-Type", "application/vnd.schemaregistry.v1+json").body(body.to_string());
    }
    let response = request.send().await.map_err(|e| Failure::Passing(error_chain(&e)))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| Failure::Passing(error_chain(&e)))?;
    let json: Json = serde_json::from_str(&text).unwrap_or(Json::String(text));
    if status.is_success() {
        return Ok(json);
    }
    let message =
        format!("{} {}", status.as_u16(), json.get("message").and_then(Json::as_str).map_or_else(|| json.to_string(), str::to_owned));
    if status.is_server_error() { Err(Failure::Passing(message)) } else { Err(Failure::Final(message)) }
}
