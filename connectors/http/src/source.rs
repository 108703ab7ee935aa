//! `http-source`: records polled from an HTTP endpoint that pages with a cursor.

use std::time::{Duration, Instant};

use connect_sdk::config::ConfigErrors;
use connect_sdk::converter::json_value;
use connect_sdk::prelude::*;
use connect_sdk::serde_json::Value as Json;
use reqwest::Client;

use crate::client::{Outcome, RequestConfig, RequestSettings, client, send};

/// Polls an HTTP endpoint that returns JSON pages of records and resumes where it stopped.
/// The request carries the cursor as the query parameter `http.offset.param` (left out while
/// there is none yet, or `http.initial.offset`); the records are the array at
/// `http.response.records.pointer` (a JSON pointer; empty: the whole body). The next cursor
/// is the value at `http.response.offset.pointer` of the body, or else the value at
/// `http.record.offset.pointer` of the last record. A record's offset is the cursor of its
/// page and its index in it, so a restarted task asks for the same page and skips what was
/// delivered. When a page brings nothing new, the next poll waits `poll.interval.ms`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "http-source", aliases = ["HttpSourceConnector"], task = HttpSourceTask, validate = HttpSource::check)]
pub struct HttpSource {
    /// The endpoint.
    pub http_api_url: String,
    /// The query parameter carrying the cursor.
    #[serde(default = "default_param")]
    pub http_offset_param: String,
    /// The cursor of the first request (default: none, the parameter is left out).
    #[serde(default)]
    pub http_initial_offset: Option<String>,
    /// JSON pointer to the array of records in a response (empty: the body is the array).
    #[serde(default)]
    pub http_response_records_pointer: String,
    /// JSON pointer to the next cursor in a response.
    #[serde(default)]
    pub http_response_offset_pointer: Option<String>,
    /// JSON pointer, inside a record, to the cursor that follows it (`/id` for APIs paged by `since_id`).
    #[serde(default)]
    pub http_record_offset_pointer: Option<String>,
    /// JSON pointer, inside a record, to its key.
    #[serde(default)]
    pub http_record_key_pointer: Option<String>,
    /// Headers, authentication, timeout and retries of each request.
    #[serde(flatten)]
    pub request: RequestConfig,
    /// Topic to write to.
    #[config(topic)]
    pub topic: String,
    /// Milliseconds between two requests that brought nothing new.
    #[serde(default = "default_interval")]
    #[schemars(range(max = 604_800_000))]
    pub poll_interval_ms: u64,
    /// The largest response body read, in bytes: a longer one (an endless stream, a page far
    /// larger than expected) fails the task instead of filling the worker's memory.
    #[serde(default = "default_max_bytes")]
    #[schemars(range(min = 1, max = 268_435_456))]
    pub http_response_max_bytes: usize,
}

fn default_param() -> String {
    "cursor".to_owned()
}
fn default_interval() -> u64 {
    5_000
}
fn default_max_bytes() -> usize {
    16 << 20
}

impl HttpSource {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if !self.http_api_url.starts_with("http://") && !self.http_api_url.starts_with("https://") {
            errors.push("http.api.url", "use an http:// or https:// URL");
        }
        for (key, pointer) in [
            ("http.response.records.pointer", Some(&self.http_response_records_pointer)),
            ("http.response.offset.pointer", self.http_response_offset_pointer.as_ref()),
            ("http.record.offset.pointer", self.http_record_offset_pointer.as_ref()),
            ("http.record.key.pointer", self.http_record_key_pointer.as_ref()),
        ] {
            if let Some(pointer) = pointer
                && !pointer.is_empty()
                && !pointer.starts_with('/')
            {
                errors.push(key, format!("{pointer:?} is not a JSON pointer (it starts with /)"));
            }
        }
        if self.http_response_offset_pointer.is_none() && self.http_record_offset_pointer.is_none() {
            errors.push("http.response.offset.pointer", "set it or http.record.offset.pointer, so the source knows where it is");
        }
        if let Err(e) = self.request.settings() {
            errors.extend_prefixed("", e);
        }
        errors.into_result(())
    }
}

/// Pages through the endpoint.
pub struct HttpSourceTask {
    config: HttpSource,
    settings: RequestSettings,
    client: Client,
    partition: SourcePartition,
    /// The cursor of the next request.
    cursor: Option<String>,
    /// Records of the page at `cursor` already delivered.
    skip: usize,
    next_poll: Instant,
}

/// A cursor as text (numbers and strings alike).
fn cursor_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl SourceTask for HttpSourceTask {
    type Config = HttpSource;

    async fn open(config: HttpSource, ctx: SourceContext) -> Result<Self> {
        let settings = config.request.settings().map_err(Error::Config)?;
        let client = client(&settings)?;
        let partition = SourcePartition::new().with("url", config.http_api_url.as_str());
        let committed = ctx.offset(&partition);
        let cursor = committed.as_ref().and_then(|o| o.get_str("cursor").map(str::to_owned)).or_else(|| config.http_initial_offset.clone());
        let skip = committed.as_ref().and_then(|o| o.get_i64("index")).unwrap_or(0).max(0) as usize;
        Ok(HttpSourceTask { config, settings, client, partition, cursor, skip, next_poll: Instant::now() })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let wait = self.next_poll.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            connect_sdk::tokio::time::sleep(wait.min(Duration::from_millis(500))).await;
            return Ok(Vec::new());
        }
        let url = self.config.http_api_url.clone();
        let query: Vec<(String, String)> = self.cursor.iter().map(|c| (self.config.http_offset_param.clone(), c.clone())).collect();
        let outcome = send(&self.settings, &format!("GET {url}"), || self.client.get(&url).query(&query)).await?;
        let response = match outcome {
            Outcome::Success(response) => response,
            Outcome::Refused(status, text) => return Err(Error::other(format!("GET {url} refused the request: {status} {text}"))),
        };
        let limit = self.config.http_response_max_bytes;
        let bytes = crate::client::read_body(response, limit).await.map_err(|e| match e {
            crate::client::BodyError::TooLarge => {
                Error::other(format!("GET {url}: the response body is larger than http.response.max.bytes ({limit} bytes)"))
            }
            crate::client::BodyError::Read(e) if e.is_timeout() => Error::retriable(format!(
                "GET {url}: the response did not arrive within request.timeout.ms ({} ms)",
                self.settings.timeout.as_millis()
            )),
            crate::client::BodyError::Read(e) => Error::retriable(format!("GET {url}: reading the response failed: {e}")),
        })?;
        let body: Json =
            connect_sdk::serde_json::from_slice(&bytes).map_err(|e| Error::with_source(format!("GET {url} did not answer JSON"), e))?;
        let pointer = &self.config.http_response_records_pointer;
        let items = match body.pointer(pointer) {
            Some(Json::Array(items)) => items.clone(),
            Some(Json::Null) | None if !pointer.is_empty() => Vec::new(),
            other => return Err(Error::other(format!("GET {url}: no array of records at {pointer:?}, found {other:?}"))),
        };
        let next_cursor = match &self.config.http_response_offset_pointer {
            Some(p) => body.pointer(p).and_then(cursor_text),
            None => None,
        };
        let page_cursor = self.cursor.clone();
        let mut records = Vec::new();
        let mut last_record_cursor = None;
        let count = items.len();
        for (index, item) in items.into_iter().enumerate() {
            if let Some(p) = &self.config.http_record_offset_pointer {
                last_record_cursor = item.pointer(p).and_then(cursor_text).or(last_record_cursor);
            }
            if index < self.skip {
                continue;
            }
            // After a page's last record the source is at the next page; before, within this one.
            let offset = match (index + 1 == count, self.config.http_record_offset_pointer.is_some()) {
                (_, true) => SourceOffset::new().with("cursor", last_record_cursor.clone().unwrap_or_default()).with("index", 0),
                (true, false) => SourceOffset::new().with("cursor", next_cursor.clone().unwrap_or_default()).with("index", 0),
                (false, false) => {
                    SourceOffset::new().with("cursor", page_cursor.clone().unwrap_or_default()).with("index", index as i64 + 1)
                }
            };
            let mut record = SourceRecord::new(self.partition.clone(), offset, &self.config.topic, json_value(&item));
            if let Some(key) = self.config.http_record_key_pointer.as_ref().and_then(|p| item.pointer(p)).and_then(cursor_text) {
                record = record.with_key(key);
            }
            records.push(record);
        }
        let advanced = next_cursor.clone().or(last_record_cursor);
        match advanced {
            Some(cursor) if Some(&cursor) != self.cursor.as_ref() && count > 0 => {
                self.cursor = Some(cursor);
                self.skip = 0;
                self.next_poll = Instant::now();
            }
            _ => {
                // Nothing new: ask for the same page again later, past what was delivered.
                self.skip = count.max(self.skip);
                self.next_poll = Instant::now() + Duration::from_millis(self.config.poll_interval_ms);
            }
        }
        Ok(records)
    }
}
