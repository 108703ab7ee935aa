//! What both HTTP connectors share: headers and authentication from the config, and
//! requests retried with exponential backoff on 5xx, 429 (honouring `Retry-After`) and
//! network errors.

use std::time::Duration;

use base64::Engine;
use connect_sdk::config::ConfigErrors;
use connect_sdk::config::groups::{Credentials, Retries};
use connect_sdk::prelude::*;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, Response, StatusCode};

/// How requests authenticate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Basic` with `connection.user` and `connection.password`.
    Basic,
    /// `Authorization: Bearer` with `bearer.token`.
    Bearer,
}

/// The request keys both HTTP connectors share: headers, authentication, timeout and
/// retries (flattened into each connector's config).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RequestConfig {
    /// Extra headers, `Name: value` separated by `header.separator`.
    #[serde(default)]
    pub headers: String,
    /// What separates two headers in `headers`.
    #[serde(default = "default_separator")]
    pub header_separator: String,
    /// `none`, `basic` (with `connection.user` and `connection.password`) or `bearer` (with `bearer.token`).
    #[serde(default)]
    pub auth_type: AuthType,
    /// `connection.user` and `connection.password`.
    #[serde(flatten)]
    pub credentials: Credentials,
    /// Token of bearer authentication (use `${env:VAR}`).
    #[serde(default)]
    #[schemars(extend("x-kafka-type" = "PASSWORD"))]
    pub bearer_token: Option<String>,
    /// Milliseconds a request may take.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 3_600_000))]
    pub request_timeout_ms: u64,
    /// Retries of a request answered 5xx/408/429 or lost on the network (the backoff doubles, at most 30 s).
    #[serde(flatten)]
    pub retries: Retries<10, 1_000>,
}

fn default_separator() -> String {
    "|".to_owned()
}

fn default_timeout() -> u64 {
    30_000
}

/// The request settings of a connector config.
pub struct RequestSettings {
    pub headers: HeaderMap,
    pub timeout: Duration,
    pub max_retries: u32,
    pub backoff: Duration,
}

impl RequestConfig {
    /// Checks and builds the settings; errors name the key.
    pub fn settings(&self) -> Result<RequestSettings, ConfigErrors> {
        let credentials = &self.credentials;
        let headers = headers(
            &self.headers,
            &self.header_separator,
            self.auth_type,
            credentials.connection_user.as_deref(),
            credentials.connection_password.as_deref(),
            self.bearer_token.as_deref(),
        )?;
        Ok(RequestSettings {
            headers,
            timeout: Duration::from_millis(self.request_timeout_ms),
            max_retries: self.retries.max_retries,
            backoff: self.retries.first_backoff(),
        })
    }
}

/// Parses `Name: value|Name2: value2` (Confluent's `headers`), and the auth header.
pub fn headers(
    spec: &str,
    separator: &str,
    auth: AuthType,
    user: Option<&str>,
    password: Option<&str>,
    token: Option<&str>,
) -> Result<HeaderMap, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let mut map = HeaderMap::new();
    for entry in spec.split(separator).map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, value)) = entry.split_once(':') else {
            errors.push("headers", format!("{entry:?} is not `Name: value`"));
            continue;
        };
        match (HeaderName::try_from(name.trim()), HeaderValue::try_from(value.trim())) {
            (Ok(name), Ok(value)) => {
                map.append(name, value);
            }
            _ => errors.push("headers", format!("{entry:?} is not a valid HTTP header")),
        }
    }
    let authorization = match auth {
        AuthType::None => None,
        AuthType::Basic => {
            let Some(user) = user else {
                errors.push("connection.user", "auth.type=basic needs a user");
                return Err(errors);
            };
            let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password.unwrap_or_default()));
            Some(format!("Basic {credentials}"))
        }
        AuthType::Bearer => match token {
            Some(token) => Some(format!("Bearer {token}")),
            None => {
                errors.push("bearer.token", "auth.type=bearer needs a token");
                return Err(errors);
            }
        },
    };
    if let Some(value) = authorization {
        match HeaderValue::try_from(value) {
            Ok(mut value) => {
                value.set_sensitive(true);
                map.insert(AUTHORIZATION, value);
            }
            Err(_) => errors.push("auth.type", "the credentials are not valid in a header"),
        }
    }
    errors.into_result(map)
}

/// A client with the settings' timeout.
pub fn client(settings: &RequestSettings) -> Result<Client> {
    Client::builder().timeout(settings.timeout).build().map_err(|e| Error::with_source("cannot build the HTTP client", e))
}

/// How a request ended after its retries.
pub enum Outcome {
    /// A 2xx response.
    Success(Response),
    /// A 4xx response other than 408 and 429: the request itself is refused.
    Refused(StatusCode, String),
}

/// Whether a status is worth retrying.
fn retriable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT
}

/// Sends the request `build` makes, retrying on 5xx, 408, 429 and network errors up to
/// `max_retries` times with a backoff that doubles (capped at 30 s), or what `Retry-After` says.
pub async fn send(settings: &RequestSettings, what: &str, build: impl Fn() -> RequestBuilder) -> Result<Outcome> {
    let mut delay = settings.backoff;
    let mut attempt = 0;
    loop {
        let (problem, wait) = match build().headers(settings.headers.clone()).send().await {
            Ok(response) if response.status().is_success() => return Ok(Outcome::Success(response)),
            Ok(response) if !retriable(response.status()) => {
                let status = response.status();
                // The start of the refusal's text is enough to say why (and its end may never come).
                let body = read_prefix(response, 2_048).await;
                return Ok(Outcome::Refused(status, String::from_utf8_lossy(&body).chars().take(500).collect()));
            }
            Ok(response) => {
                let retry_after =
                    response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
                (format!("{what} answered {}", response.status()), retry_after.map(Duration::from_secs))
            }
            Err(error) if error.is_timeout() => {
                (format!("{what} got no answer within request.timeout.ms ({} ms)", settings.timeout.as_millis()), None)
            }
            Err(error) => (format!("{what} failed: {}", connect_sdk::error_chain(&error)), None),
        };
        attempt += 1;
        if attempt > settings.max_retries {
            return Err(Error::retriable(format!("{problem} (after {} retries)", settings.max_retries)));
        }
        connect_sdk::tracing::warn!(%problem, attempt, "retrying an HTTP request");
        connect_sdk::tokio::time::sleep(wait.unwrap_or(delay).min(Duration::from_secs(60))).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_credentials_come_from_the_config() {
        let map = headers("X-Api: 1|Content-Type: application/json", "|", AuthType::Basic, Some("u"), Some("p"), None).unwrap();
        assert_eq!(map["x-api"], "1");
        assert_eq!(map[AUTHORIZATION], "Basic dTpw");
        let errors = headers("broken", "|", AuthType::Bearer, None, None, None).unwrap_err();
        assert!(errors.for_key("headers").next().is_some() && errors.for_key("bearer.token").next().is_some(), "{errors}");
    }
}

/// Why a response body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// It is longer than the limit.
    TooLarge,
    /// The connection failed while reading it.
    Read(reqwest::Error),
}

/// The body of `response`, at most `limit` bytes (a declared or actual longer body is refused
/// before more than `limit` bytes are held).
pub async fn read_body(mut response: reqwest::Response, limit: usize) -> std::result::Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `limit` bytes of `response`'s body (less when it ends or fails first).
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]),
            _ => break,
        }
    }
    body
}
