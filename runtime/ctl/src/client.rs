//! The REST client of `ctl` ([`Client`]): one base URL, optional credentials and CA, JSON in and out, and
//! every failure as a [`CtlError`] with the exit code a script can test.

use std::path::Path;

use connect_sdk::error_chain;
use reqwest::Method;
use serde_json::Value as Json;

/// Why a `ctl` command failed; [`CtlError::exit_code`] tells scripts which way.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// The API answered with an error.
    #[error("{method} {path}: {status} {message}")]
    Api {
        /// The call.
        method: Method,
        /// Its path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The API's message.
        message: String,
        /// The worker answered that it is still starting (503 `{"status": "starting"}`).
        starting: bool,
    },
    /// No answer came from the worker.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A file or argument the user gave is unusable.
    #[error("{0}")]
    Input(String),
    /// The worker judged a config invalid (`validate`).
    #[error("{0}")]
    Invalid(String),
}

impl CtlError {
    /// 1 for an invalid config or another API error, 2 for bad input (as clap's usage errors),
    /// 3 not found, 4 conflict, 5 refused credentials, 6 worker unreachable, 7 server error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Api { status: 404, .. } => 3,
            CtlError::Api { status: 409, .. } => 4,
            CtlError::Api { status: 401 | 403, .. } => 5,
            CtlError::Api { status, .. } if *status >= 500 => 7,
            CtlError::Api { .. } | CtlError::Invalid(_) => 1,
            CtlError::Input(_) => 2,
            CtlError::Unreachable { .. } => 6,
        }
    }

    /// Whether the API said the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CtlError::Api { status: 404, .. })
    }
}

/// How long a call waits for a worker that answers it is still starting.
pub const START_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// A client of a Kafka Connect-compatible REST API: one base URL, optional credentials and
/// CA, JSON in and out.
pub struct Client {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
}

impl Client {
    /// A client of the API at `url` (`http[s]://host:port`), sending `token` as a bearer token or
    /// `user` (`name:password`) as basic auth, trusting `ca` (PEM) besides the system's roots.
    pub fn new(url: &str, token: Option<&str>, user: Option<&str>, ca: Option<&Path>) -> Result<Client, CtlError> {
        use base64::Engine;
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60));
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).map_err(|e| CtlError::Input(format!("--cacert {}: {e}", ca.display())))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| CtlError::Input(format!("--cacert {}: not PEM certificates: {e}", ca.display())))?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|e| CtlError::Input(format!("cannot set up the HTTP client: {e}")))?;
        let authorization = match (token, user) {
            (Some(token), _) => Some(format!("Bearer {token}")),
            (None, Some(user)) => Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user))),
            (None, None) => None,
        };
        Ok(Client { http, base: url.trim_end_matches('/').to_owned(), authorization })
    }

    /// `GET path`, its JSON.
    pub async fn get(&self, path: &str) -> Result<Json, CtlError> {
        self.call(Method::GET, path, None).await
    }

    /// `method path` with a JSON `body`; the answer's JSON (`null` when empty).
    pub async fn call(&self, method: Method, path: &str, body: Option<&Json>) -> Result<Json, CtlError> {
        let text = self.text(method, path, body).await?;
        if text.trim().is_empty() {
            return Ok(Json::Null);
        }
        serde_json::from_str(&text)
            .map_err(|e| CtlError::Unreachable { url: self.url(path), reason: format!("the answer is not JSON: {e}") })
    }

    /// `method path` with a JSON `body`; the answer's text. A worker still starting (503
    /// `{"status": "starting"}`: it did nothing with the request) is asked again for up to
    /// [`START_WAIT`].
    pub async fn text(&self, method: Method, path: &str, body: Option<&Json>) -> Result<String, CtlError> {
        let deadline = tokio::time::Instant::now() + START_WAIT;
        loop {
            match self.text_once(method.clone(), path, body).await {
                Err(CtlError::Api { status: 503, starting: true, .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                answer => return answer,
            }
        }
    }

    async fn text_once(&self, method: Method, path: &str, body: Option<&Json>) -> Result<String, CtlError> {
        let url = self.url(path);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(authorization) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let unreachable = |e: reqwest::Error| CtlError::Unreachable { url: url.clone(), reason: error_chain(&e) };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(unreachable)?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        // Kafka Connect's error body: {"error_code": 404, "message": "..."}; a starting
        // worker's: {"status": "starting", "message": "..."}.
        let body = serde_json::from_str::<Json>(&text).ok();
        let starting = body.as_ref().is_some_and(|body| body.get("status").and_then(Json::as_str) == Some("starting"));
        let message =
            body.and_then(|body| body.get("message").and_then(Json::as_str).map(str::to_owned)).unwrap_or_else(|| text.trim().to_owned());
        Err(CtlError::Api { method, path: path.to_owned(), status, message, starting })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// `name` as one path segment: everything but unreserved characters percent-encoded.
pub fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_single_segments_and_errors_map_to_exit_codes() {
        assert_eq!(segment("orders eu/1"), "orders%20eu%2F1");
        assert_eq!(segment("café"), "caf%C3%A9");
        let api = |status| CtlError::Api { method: Method::GET, path: "/x".into(), status, message: String::new(), starting: false };
        assert_eq!([api(404), api(409), api(401), api(403), api(400), api(500)].map(|e| e.exit_code()), [3, 4, 5, 5, 1, 7]);
        assert_eq!(CtlError::Unreachable { url: String::new(), reason: String::new() }.exit_code(), 6);
    }
}
