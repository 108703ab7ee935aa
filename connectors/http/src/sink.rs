//! `http-sink`: records sent to an HTTP endpoint, in batches.

use connect_sdk::config::ConfigErrors;
use connect_sdk::converter::payload_bytes;
use connect_sdk::data::DataError;
use connect_sdk::prelude::*;
use reqwest::{Client, Method};

use crate::client::{Outcome, RequestConfig, RequestSettings, client, send};

/// How a batch becomes a request body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// A JSON array of the values (a single value alone when `batch.max.size` is 1); text
    /// values that hold JSON are embedded as JSON.
    #[default]
    Json,
    /// The values' text joined by `batch.separator`.
    String,
}

/// Sends record values to an HTTP endpoint (Confluent's HTTP sink, same key names where
/// they exist): up to `batch.max.size` records per request, with configurable headers and
/// basic or bearer authentication. 5xx, 408 and 429 answers (honouring `Retry-After`) and
/// network errors are retried with a doubling backoff, up to `max.retries`; a batch counts as
/// written only on a 2xx answer. A 4xx answer refuses the request: its records are sent again
/// one by one, and the ones refused alone go to the dead-letter queue when errors are
/// tolerated, or stop the task.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "http-sink", aliases = ["io.confluent.connect.http.HttpSinkConnector", "HttpSinkConnector"], task = HttpSinkTask,
            validate = HttpSink::check)]
pub struct HttpSink {
    /// The endpoint; `${topic}` and `${key}` are replaced (the key with `batch.max.size` 1 only).
    pub http_api_url: String,
    /// `POST`, `PUT` or `PATCH`.
    #[serde(default = "default_method")]
    pub request_method: String,
    /// Headers, authentication, timeout and retries of each request.
    #[serde(flatten)]
    pub request: RequestConfig,
    /// Records per request at most.
    #[serde(default = "default_batch")]
    #[schemars(range(min = 1, max = 10_000))]
    pub batch_max_size: usize,
    /// `json` (an array of the values) or `string` (the values joined by `batch.separator`).
    #[serde(default)]
    pub request_body_format: BodyFormat,
    /// What joins values in `string` format.
    #[serde(default = "default_batch_separator")]
    pub batch_separator: String,
}

fn default_method() -> String {
    "POST".to_owned()
}
fn default_batch() -> usize {
    1
}
fn default_batch_separator() -> String {
    "\n".to_owned()
}

impl HttpSink {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if !self.http_api_url.starts_with("http://") && !self.http_api_url.starts_with("https://") {
            errors.push("http.api.url", "use an http:// or https:// URL");
        }
        if !["POST", "PUT", "PATCH"].contains(&self.request_method.to_ascii_uppercase().as_str()) {
            errors.push("request.method", "use POST, PUT or PATCH");
        }
        if self.batch_max_size == 0 {
            errors.push("batch.max.size", "must be at least 1");
        }
        if self.batch_max_size > 1 && self.http_api_url.contains("${key}") {
            errors.push("http.api.url", "${key} needs batch.max.size=1 (a batch has many keys)");
        }
        if let Err(e) = self.request.settings() {
            errors.extend_prefixed("", e);
        }
        errors.into_result(())
    }
}

/// Sends batches.
pub struct HttpSinkTask {
    config: HttpSink,
    settings: RequestSettings,
    client: Client,
    method: Method,
    ctx: SinkContext,
}

/// The JSON of one value: JSON text is embedded as JSON, other text as a string.
fn json_of(record: &SinkRecord) -> Result<connect_sdk::serde_json::Value, DataError> {
    use connect_sdk::serde_json::Value as Json;
    Ok(match payload_bytes(&record.value, record.value_schema.as_ref())? {
        None => Json::Null,
        Some(bytes) => match connect_sdk::serde_json::from_slice::<Json>(&bytes) {
            Ok(json) => json,
            Err(_) => Json::String(String::from_utf8_lossy(&bytes).into_owned()),
        },
    })
}

impl HttpSinkTask {
    fn body(&self, records: &[SinkRecord]) -> Result<Vec<u8>, DataError> {
        match self.config.request_body_format {
            BodyFormat::Json if self.config.batch_max_size == 1 && records.len() == 1 => {
                Ok(connect_sdk::serde_json::to_vec(&json_of(&records[0])?).map_err(|e| DataError::new(e.to_string()))?)
            }
            BodyFormat::Json => {
                let values = records.iter().map(json_of).collect::<Result<Vec<_>, _>>()?;
                connect_sdk::serde_json::to_vec(&values).map_err(|e| DataError::new(e.to_string()))
            }
            BodyFormat::String => {
                let parts = records
                    .iter()
                    .map(|r| payload_bytes(&r.value, r.value_schema.as_ref()).map(Option::unwrap_or_default))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(parts.join(self.config.batch_separator.as_bytes()))
            }
        }
    }

    fn url(&self, records: &[SinkRecord]) -> Result<String, DataError> {
        let mut url = self.config.http_api_url.replace("${topic}", &records[0].topic);
        if url.contains("${key}") {
            let key = payload_bytes(&records[0].key, records[0].key_schema.as_ref())?
                .map(|k| String::from_utf8_lossy(&k).into_owned())
                .unwrap_or_default();
            url = url.replace("${key}", &key);
        }
        Ok(url)
    }

    /// Sends one request of `records`; `Ok(Some(..))` is a refusal.
    async fn send(&self, records: &[SinkRecord]) -> Result<Option<Error>> {
        let body = self.body(records)?;
        let url = self.url(records)?;
        let content_type =
            if self.config.request_body_format == BodyFormat::Json { "application/json" } else { "text/plain; charset=utf-8" };
        let outcome = send(&self.settings, &format!("{} {url}", self.method), || {
            self.client.request(self.method.clone(), &url).header(reqwest::header::CONTENT_TYPE, content_type).body(body.clone())
        })
        .await?;
        Ok(match outcome {
            Outcome::Success(_) => None,
            Outcome::Refused(status, text) => {
                Some(Error::Data(DataError::new(format!("{} {url} refused the request: {status} {text}", self.method))))
            }
        })
    }
}

impl SinkTask for HttpSinkTask {
    type Config = HttpSink;

    async fn open(config: HttpSink, ctx: SinkContext) -> Result<Self> {
        let settings = config.request.settings().map_err(Error::Config)?;
        let client = client(&settings)?;
        let method = Method::from_bytes(config.request_method.to_ascii_uppercase().as_bytes())
            .map_err(|e| Error::with_source("bad request.method", e))?;
        Ok(HttpSinkTask { config, settings, client, method, ctx })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        for batch in records.chunks(self.config.batch_max_size.max(1)) {
            let Some(refusal) = self.send(batch).await? else { continue };
            if batch.len() == 1 {
                match self.ctx.errant_record_reporter() {
                    Some(reporter) => reporter.report(&batch[0], &refusal).await?,
                    None => return Err(refusal),
                }
                continue;
            }
            // Which records were refused: each alone.
            for record in batch {
                if let Some(refusal) = self.send(std::slice::from_ref(record)).await? {
                    match self.ctx.errant_record_reporter() {
                        Some(reporter) => reporter.report(record, &refusal).await?,
                        None => return Err(refusal),
                    }
                }
            }
        }
        Ok(())
    }
}
