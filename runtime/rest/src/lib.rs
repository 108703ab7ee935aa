//! The worker's REST API: Kafka Connect's paths, shapes, states and error body ([`kafka`]), plus
//! RocketMQ Connect's calls in their `{"status": 200, "body": ...}` envelope ([`rocketmq`]),
//! so existing clients and scripts work unchanged, and the dashboard at `/ui/` ([`ui`]). Handlers
//! call the [`Worker`]'s API only.

// The worker's futures hold RocketMQ client types whose `Send` proof is deep.
#![recursion_limit = "256"]

mod auth;
mod call;
mod guard;
mod kafka;
mod openapi;
mod registry;
mod rocketmq;
mod serve;
mod tls;
mod ui;

pub use auth::{AuthFileError, Credentials, Role};
pub use tls::{RestTls, TlsError};

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use connect_runtime::{Worker, WorkerError};

/// A failed call: Kafka Connect's `{"error_code": ..., "message": ...}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), message: message.into() }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }
}

impl From<WorkerError> for ApiError {
    fn from(error: WorkerError) -> ApiError {
        ApiError::new(error.status(), error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"error_code": self.status.as_u16(), "message": self.message}))).into_response()
    }
}

type ApiResult<T = Response> = Result<T, ApiError>;

/// A JSON request body (the guard refuses bodies of other types); bad JSON is a 400.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        // A body over the limit is a 413, as the rejection says.
        let bytes = Bytes::from_request(request, state).await.map_err(|e| ApiError::new(e.status().as_u16(), e.body_text()))?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))
    }
}

/// Answers `refusal` to a request that was not let through, after reading (and dropping) what
/// it still sends, bounded as the guard bounds bodies: an HTTP/2 client still sending its body
/// when the answer comes gets its stream reset and reports a transport error instead of the
/// 401, 403 or 415 the answer says.
async fn refuse(request: Request, refusal: ApiError) -> Response {
    let _ = guard::read_body(request.into_body()).await;
    refusal.into_response()
}

/// Errors in Kafka Connect's JSON shape, also those axum's extractors answer with text (a
/// query string that does not parse, a path that is not UTF-8).
async fn json_errors(response: Response) -> Response {
    let failed = response.status().is_client_error() || response.status().is_server_error();
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with(registry::CONTENT_TYPE));
    if !failed || json {
        return response;
    }
    let status = response.status().as_u16();
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap_or_default();
    ApiError::new(status, String::from_utf8_lossy(&text).trim()).into_response()
}

/// `true`/`false` of a query parameter; anything else is a 400 naming it.
fn flag(name: &str, value: Option<&str>, default: bool) -> ApiResult<bool> {
    match value {
        None => Ok(default),
        // Kafka Connect reads booleans case-insensitively (Python clients send `True`).
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!("{name}=\"{other}\" is invalid: use true or false"))),
    }
}

/// How the REST API is served and guarded.
#[derive(Clone, Debug, Default)]
pub struct RestOptions {
    /// Serve RocketMQ Connect's `GET` calls that change state (off by default: a web page can
    /// make a browser send a `GET` to any address it can reach).
    pub get_writes: bool,
    /// The users allowed to call the API; `None` lets every caller in (fine on loopback only).
    pub credentials: Option<Credentials>,
    /// Paths whose `GET` needs no credentials (`/health`, `/ready`, `/metrics` for probes and
    /// scrapers).
    pub open_paths: Vec<String>,
    /// Serve HTTPS with this certificate ([`serve_on`] only: a server embedding [`router`]
    /// terminates TLS itself).
    pub tls: Option<RestTls>,
}

/// The router, for embedding in another server or for tests: every call, guarded against
/// cross-site writes and (unless `options` allow them) RocketMQ Connect's writes by `GET`,
/// and checked against `options.credentials` when set; the server it is mounted in answers
/// for its `Host` names.
pub fn router(worker: Worker, options: RestOptions) -> Router {
    guarded(worker, &options, false)
}

fn guarded(worker: Worker, options: &RestOptions, loopback: bool) -> Router {
    let (router, mut document) = rocketmq::routes(kafka::routes(openapi::Api::new())).finish();
    document["paths"]["/openapi.json"] = serde_json::json!({"get": {"summary": "This document (OpenAPI 3.1)", "tags": ["Worker"],
        "responses": {"200": {"description": "The document", "content": {"application/json": {"schema": {"type": "object"}}}},
                      "default": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}});
    if options.credentials.is_some() {
        // Users from --rest-auth-file: every call needs one of them, except the open paths' GETs.
        document["components"]["securitySchemes"] =
            serde_json::json!({"basic": {"type": "http", "scheme": "basic"}, "bearer": {"type": "http", "scheme": "bearer"}});
        document["security"] = serde_json::json!([{"basic": []}, {"bearer": []}]);
        for path in &options.open_paths {
            if let Some(get) = document["paths"].get_mut(path.as_str()).and_then(|item| item.get_mut("get")) {
                get["security"] = serde_json::json!([]);
            }
        }
    }
    let document = Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
    let serve_document = move || {
        let body = document.clone();
        async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], body) }
    };
    let router =
        router.route("/openapi.json", axum::routing::get(serve_document)).merge(ui::routes()).nest("/registry", registry::routes());
    protect(router, worker, options, loopback)
}

/// `router` with the common fallbacks, errors in JSON, credentials (when set) and the guard.
fn protect(router: Router<Worker>, worker: Worker, options: &RestOptions, loopback: bool) -> Router {
    let mut router = router
        .fallback(|| async { ApiError::new(404, "Not found: no such endpoint") })
        .method_not_allowed_fallback(|| async { ApiError::new(405, "HTTP method not allowed for this endpoint") })
        .with_state(worker)
        .layer(axum::middleware::map_response(json_errors));
    if let Some(credentials) = &options.credentials {
        let gate = auth::Gate { credentials: credentials.clone(), open_paths: std::sync::Arc::new(options.open_paths.clone()) };
        router = router.layer(axum::middleware::from_fn_with_state(gate, auth::check));
    }
    // The guard runs first: a rebound or cross-site request is refused before credentials are looked at.
    let guard = guard::Guard { get_writes: options.get_writes, loopback };
    router.layer(axum::middleware::from_fn_with_state(guard, guard::check))
}

/// Serves the schema registry alone, at the root of `listener` (for tools that take a registry
/// URL without a path), guarded and authenticated as the REST API, until `shutdown` resolves.
pub async fn serve_registry_on(
    listener: tokio::net::TcpListener,
    worker: Worker,
    options: RestOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let loopback = listener.local_addr()?.ip().is_loopback();
    let router = protect(registry::routes(), worker, &options, loopback);
    serve_router(listener, router, &options, shutdown).await
}

/// Answers every request on `listener` with 503 and KIP-1017's `{"status": "starting", ...}`
/// until `shutdown` resolves, over HTTPS when `options.tls` is set: a worker serves this while
/// it opens its state (waiting, perhaps, for a broker that is down), so health probes and
/// clients get an answer instead of a connection nobody reads.
pub async fn serve_starting_on(
    listener: tokio::net::TcpListener,
    options: &RestOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = Router::new().fallback(|| async {
        let health = connect_runtime::WorkerHealth {
            status: "starting",
            message: "the worker is starting: it connects to RocketMQ and reads its state (its log says what it waits for)".to_owned(),
        };
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(health))
    });
    serve_router(listener, router, options, shutdown).await
}

/// Serves `router` on `listener`, over HTTPS when `options.tls` is set.
async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    options: &RestOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match &options.tls {
        Some(tls) => serve::serve_connections(tls::TlsListener::new(listener, tls)?, router, shutdown).await,
        None => serve::serve_connections(listener, router, shutdown).await,
    }
}

/// Serves the API on `addr` until `shutdown` resolves; returns the bound address through `bound`.
pub async fn serve(
    worker: Worker,
    addr: SocketAddr,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let _ = bound.send(listener.local_addr()?);
    serve_on(listener, worker, RestOptions::default(), shutdown).await
}

/// Serves the API on a bound listener until `shutdown` resolves, over HTTPS when `options.tls`
/// is set. On a loopback listener only loopback names are accepted as `Host` (no DNS rebinding).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    worker: Worker,
    options: RestOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let loopback = listener.local_addr()?.ip().is_loopback();
    let router = guarded(worker, &options, loopback);
    serve_router(listener, router, &options, shutdown).await
}
