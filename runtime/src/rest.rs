//! The REST API: Kafka Connect's paths, shapes, states and error body, plus RocketMQ
//! Connect's calls, so existing clients and scripts work unchanged.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use connect_sdk::config::{ConfigMap, validate};
use connect_sdk::registry::Registry;
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use crate::state::configs::TargetState;
use crate::worker::{Worker, WorkerError};

/// A failed call: Kafka Connect's `{"error_code": ..., "message": ...}`.
pub struct ApiError {
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

/// A JSON request body, read whatever its `Content-Type` says; bad JSON is a 400.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await.map_err(|e| ApiError::bad_request(e.body_text()))?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error_code": self.status.as_u16(), "message": self.message}))).into_response()
    }
}

type ApiResult<T = Response> = Result<T, ApiError>;

fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(Json(value).into_response())
}

fn status(code: StatusCode, value: impl serde::Serialize) -> ApiResult {
    Ok((code, Json(value)).into_response())
}

fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn accepted() -> ApiResult {
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The router, for embedding in another server or for tests.
pub fn router(worker: Worker) -> Router {
    Router::new()
        .route("/", get(server_info))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/connectors", get(list_connectors).post(create_connector))
        .route("/connectors/list", get(rocketmq_list))
        .route("/connectors/stop/all", get(stop_all).post(stop_all))
        .route("/connectors/pause/all", get(pause_all).post(pause_all))
        .route("/connectors/resume/all", get(resume_all).post(resume_all))
        .route("/connectors/{name}", get(get_connector).post(rocketmq_create).delete(delete_connector))
        .route("/connectors/{name}/config", get(get_config).put(put_config).patch(patch_config))
        .route("/connectors/{name}/status", get(get_status))
        .route("/connectors/{name}/tasks", get(get_tasks))
        .route("/connectors/{name}/tasks/{task}/status", get(get_task_status))
        .route("/connectors/{name}/tasks/{task}/restart", post(restart_task))
        .route("/connectors/{name}/restart", post(restart_connector))
        .route("/connectors/{name}/pause", put(pause).get(pause))
        .route("/connectors/{name}/resume", put(resume).get(resume))
        .route("/connectors/{name}/stop", put(stop).post(stop).get(stop))
        .route("/connectors/{name}/offsets", get(get_offsets).patch(patch_offsets).delete(delete_offsets))
        .route("/connectors/{name}/topics", get(get_topics))
        .route("/connectors/{name}/topics/reset", put(reset_topics))
        .route("/connector-plugins", get(list_plugins))
        .route("/connector-plugins/{plugin}/config", get(plugin_config))
        .route("/connector-plugins/{plugin}/config/validate", put(validate_config))
        .route("/getClusterInfo", get(cluster_info))
        .route("/allocated/connectors", get(allocated_connectors))
        .route("/allocated/tasks", get(allocated_tasks))
        .route("/plugin/list", get(rocketmq_plugins))
        .route("/plugin/list/connectors", get(rocketmq_connector_plugins))
        .route("/plugin/config", get(rocketmq_plugin_config))
        .route("/plugin/config/validate", get(rocketmq_validate).post(rocketmq_validate).put(rocketmq_validate))
        .fallback(|| async { ApiError::new(404, "Not found: no such endpoint") })
        .method_not_allowed_fallback(|| async { ApiError::new(405, "HTTP method not allowed for this endpoint") })
        .with_state(worker)
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
    serve_on(listener, worker, shutdown).await
}

/// Serves the API on a bound listener until `shutdown` resolves.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    worker: Worker,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(worker)).with_graceful_shutdown(shutdown).await
}

async fn server_info(State(worker): State<Worker>) -> ApiResult {
    ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("CONNECT_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": worker.cluster_name().unwrap_or(worker.namesrv_addr()),
        "namesrv_addr": worker.namesrv_addr(),
        "worker_id": worker.id(),
    }))
}

async fn health() -> ApiResult {
    ok(json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."}))
}

async fn metrics(State(worker): State<Worker>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    (headers, worker.metrics_text().await).into_response()
}

fn expands(query: &Option<String>) -> (bool, bool) {
    let pairs = query.as_deref().unwrap_or_default().split('&').filter_map(|p| p.split_once('='));
    let values: Vec<&str> = pairs.filter(|(k, _)| *k == "expand").flat_map(|(_, v)| v.split(',')).collect();
    (values.contains(&"status"), values.contains(&"info"))
}

async fn list_connectors(State(worker): State<Worker>, RawQuery(query): RawQuery) -> ApiResult {
    let names = worker.connector_names().await;
    let (with_status, with_info) = expands(&query);
    if !with_status && !with_info {
        return ok(names);
    }
    let mut out = serde_json::Map::new();
    for name in names {
        let mut entry = serde_json::Map::new();
        if with_status {
            entry.insert("status".into(), serde_json::to_value(worker.connector_status(&name).await?).unwrap_or_default());
        }
        if with_info {
            entry.insert("info".into(), serde_json::to_value(worker.connector_info(&name).await?).unwrap_or_default());
        }
        out.insert(name, JsonValue::Object(entry));
    }
    ok(out)
}

#[derive(Deserialize)]
struct CreateRequest {
    name: Option<String>,
    config: Option<JsonValue>,
    initial_state: Option<String>,
}

async fn create_connector(State(worker): State<Worker>, JsonBody(body): JsonBody<JsonValue>) -> ApiResult {
    let request: CreateRequest = serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?;
    let config = request.config.ok_or_else(|| ApiError::bad_request("Request body needs a \"config\" object"))?;
    let name = request
        .name
        .or_else(|| config.get("name").and_then(JsonValue::as_str).map(str::to_owned))
        .ok_or_else(|| ApiError::bad_request("Request body needs a \"name\""))?;
    let initial = match request.initial_state.as_deref() {
        None | Some("RUNNING") => TargetState::Started,
        Some("PAUSED") => TargetState::Paused,
        Some("STOPPED") => TargetState::Stopped,
        Some(other) => return Err(ApiError::bad_request(format!("initial_state \"{other}\" is invalid: use RUNNING, PAUSED or STOPPED"))),
    };
    let info = worker.create_connector_with_state(&name, config, initial).await?;
    let mut response = (StatusCode::CREATED, Json(&info)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/connectors/{name}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct ConfigQuery {
    config: Option<String>,
}

async fn get_connector(State(worker): State<Worker>, Path(name): Path<String>, Query(query): Query<ConfigQuery>) -> ApiResult {
    match query.config {
        Some(text) => {
            let config: JsonValue =
                serde_json::from_str(&text).map_err(|e| ApiError::bad_request(format!("config is not valid JSON: {e}")))?;
            rocketmq_create_with(worker, name, config).await
        }
        None => ok(worker.connector_info(&name).await?),
    }
}

async fn rocketmq_create(State(worker): State<Worker>, Path(name): Path<String>, JsonBody(body): JsonBody<JsonValue>) -> ApiResult {
    let config = body;
    rocketmq_create_with(worker, name, config).await
}

async fn rocketmq_create_with(worker: Worker, name: String, config: JsonValue) -> ApiResult {
    let config = normalize_rocketmq_config(config);
    let info = worker.create_connector(&name, config).await?;
    status(StatusCode::CREATED, info)
}

/// RocketMQ Connect's `connector-class` and `connect-topicname` spellings map to Kafka's keys.
fn normalize_rocketmq_config(config: JsonValue) -> JsonValue {
    match config {
        JsonValue::Object(map) => JsonValue::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k.as_str() {
                        "connector-class" => "connector.class".to_owned(),
                        "connect-topicname" => "connect.topicname".to_owned(),
                        "connect-topicnames" => "connect.topicnames".to_owned(),
                        "max-task" | "max-tasks" => "tasks.max".to_owned(),
                        _ => k,
                    };
                    (key, v)
                })
                .collect(),
        ),
        other => other,
    }
}

async fn delete_connector(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    worker.delete_connector(&name).await?;
    no_content()
}

async fn get_config(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    ok(worker.connector_config(&name).await?)
}

async fn put_config(State(worker): State<Worker>, Path(name): Path<String>, JsonBody(body): JsonBody<JsonValue>) -> ApiResult {
    let config = body;
    let (info, created) = worker.put_connector_config(&name, config).await?;
    status(if created { StatusCode::CREATED } else { StatusCode::OK }, info)
}

async fn patch_config(State(worker): State<Worker>, Path(name): Path<String>, JsonBody(patch): JsonBody<ConfigMap>) -> ApiResult {
    ok(worker.patch_connector_config(&name, patch).await?)
}

async fn get_status(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    ok(worker.connector_status(&name).await?)
}

async fn get_tasks(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    ok(worker.task_infos(&name).await?)
}

fn task_id(text: &str) -> ApiResult<u32> {
    text.parse().map_err(|_| ApiError::bad_request(format!("task id \"{text}\" is not a number")))
}

async fn get_task_status(State(worker): State<Worker>, Path((name, task)): Path<(String, String)>) -> ApiResult {
    ok(worker.task_status(&name, task_id(&task)?).await?)
}

async fn restart_task(State(worker): State<Worker>, Path((name, task)): Path<(String, String)>) -> ApiResult {
    worker.restart_task(&name, task_id(&task)?).await?;
    no_content()
}

#[derive(Deserialize)]
struct RestartQuery {
    #[serde(rename = "includeTasks", default)]
    include_tasks: Option<String>,
    #[serde(rename = "onlyFailed", default)]
    only_failed: Option<String>,
}

fn flag(name: &str, value: &Option<String>) -> ApiResult<bool> {
    match value.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!("{name}=\"{other}\" is invalid: use true or false"))),
    }
}

async fn restart_connector(State(worker): State<Worker>, Path(name): Path<String>, Query(query): Query<RestartQuery>) -> ApiResult {
    let include_tasks = flag("includeTasks", &query.include_tasks)?;
    let only_failed = flag("onlyFailed", &query.only_failed)?;
    worker.restart_connector(&name, include_tasks, only_failed).await?;
    if !include_tasks && !only_failed {
        return no_content();
    }
    status(StatusCode::ACCEPTED, worker.connector_status(&name).await?)
}

async fn pause(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    worker.pause_connector(&name).await?;
    accepted()
}

async fn resume(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    worker.resume_connector(&name).await?;
    accepted()
}

async fn stop(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    worker.stop_connector(&name).await?;
    no_content()
}

async fn get_offsets(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    ok(json!({"offsets": worker.offsets(&name).await?}))
}

#[derive(Deserialize)]
struct OffsetsBody {
    offsets: Vec<OffsetChange>,
}

#[derive(Deserialize)]
struct OffsetChange {
    partition: JsonValue,
    offset: Option<JsonValue>,
}

async fn patch_offsets(State(worker): State<Worker>, Path(name): Path<String>, JsonBody(body): JsonBody<JsonValue>) -> ApiResult {
    let body: OffsetsBody = serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(format!("expected {{\"offsets\": [{{\"partition\": {{...}}, \"offset\": {{...}} or null}}]}}: {e}"))
    })?;
    worker.alter_offsets(&name, body.offsets.into_iter().map(|c| (c.partition, c.offset)).collect()).await?;
    ok(json!({"message": "The offsets for this connector have been altered successfully"}))
}

async fn delete_offsets(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    worker.reset_offsets(&name).await?;
    ok(json!({"message": "The offsets for this connector have been reset successfully"}))
}

async fn get_topics(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    let topics = worker.connector_topics(&name).await?;
    ok(json!({ name: {"topics": topics} }))
}

async fn reset_topics(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    worker.connector_topics(&name).await?;
    accepted()
}

#[derive(Deserialize)]
struct PluginsQuery {
    #[serde(rename = "connectorsOnly")]
    connectors_only: Option<String>,
}

async fn list_plugins(State(worker): State<Worker>, Query(query): Query<PluginsQuery>) -> ApiResult {
    let connectors_only = match query.connectors_only.as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => return Err(ApiError::bad_request(format!("connectorsOnly=\"{other}\" is invalid: use true or false"))),
    };
    ok(worker.plugins(connectors_only))
}

async fn plugin_config(State(worker): State<Worker>, Path(plugin): Path<String>) -> ApiResult {
    let descriptor = worker.plugin(&plugin)?;
    let config = json!({"connector.class": descriptor.name});
    let infos = validate(Registry::global(), config.as_object().expect("an object"));
    let definitions: Vec<_> = infos.configs.into_iter().filter(|c| c.definition.group == descriptor.name).map(|c| c.definition).collect();
    ok(definitions)
}

async fn validate_config(Path(plugin): Path<String>, JsonBody(body): JsonBody<JsonValue>) -> ApiResult {
    let JsonValue::Object(mut config) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object of config keys"));
    };
    let class = config.entry("connector.class").or_insert_with(|| json!(plugin.clone())).clone();
    let registry = Registry::global();
    let wanted = registry.connector(&plugin).map_err(|e| ApiError::new(404, e.to_string()))?;
    if class.as_str().and_then(|c| registry.connector(c).ok()).map(|p| p.name) != Some(wanted.name) {
        return Err(ApiError::bad_request(format!("connector.class {class} does not match the plugin in the URL ({plugin})")));
    }
    ok(validate(registry, &config))
}

/// Applies a lifecycle change to every connector (RocketMQ Connect's `.../all` calls).
async fn for_all(worker: &Worker, target: TargetState) -> ApiResult {
    for name in worker.connector_names().await {
        match target {
            TargetState::Started => worker.resume_connector(&name).await?,
            TargetState::Paused => worker.pause_connector(&name).await?,
            TargetState::Stopped => worker.stop_connector(&name).await?,
        }
    }
    ok(json!({"status": 200, "body": "success"}))
}

async fn stop_all(State(worker): State<Worker>) -> ApiResult {
    for_all(&worker, TargetState::Stopped).await
}

async fn pause_all(State(worker): State<Worker>) -> ApiResult {
    for_all(&worker, TargetState::Paused).await
}

async fn resume_all(State(worker): State<Worker>) -> ApiResult {
    for_all(&worker, TargetState::Started).await
}

async fn rocketmq_list(State(worker): State<Worker>) -> ApiResult {
    let mut out = serde_json::Map::new();
    for name in worker.connector_names().await {
        out.insert(name.clone(), serde_json::to_value(worker.connector_status(&name).await?).unwrap_or_default());
    }
    ok(json!({"status": 200, "body": out}))
}

async fn cluster_info(State(worker): State<Worker>) -> ApiResult {
    ok(json!({"status": 200, "body": worker.members()}))
}

/// The connectors running on this worker, with their configs.
async fn allocated_connectors(State(worker): State<Worker>) -> ApiResult {
    let mut out = serde_json::Map::new();
    for name in worker.allocated().await.0 {
        if let Ok(config) = worker.connector_config(&name).await {
            out.insert(name, JsonValue::Object(config));
        }
    }
    ok(json!({"status": 200, "body": out}))
}

/// The tasks running on this worker, with their configs.
async fn allocated_tasks(State(worker): State<Worker>) -> ApiResult {
    let mut out = Vec::new();
    for id in worker.allocated().await.1 {
        if let Some(info) = worker.task_infos(&id.connector).await.ok().and_then(|infos| infos.into_iter().find(|i| i.id == id)) {
            out.push(info);
        }
    }
    ok(json!({"status": 200, "body": out}))
}

async fn rocketmq_plugins(State(worker): State<Worker>) -> ApiResult {
    ok(json!({"status": 200, "body": worker.plugins(false)}))
}

async fn rocketmq_connector_plugins(State(worker): State<Worker>) -> ApiResult {
    ok(json!({"status": 200, "body": worker.plugins(true)}))
}

#[derive(Deserialize)]
struct PluginQuery {
    plugin: Option<String>,
}

async fn rocketmq_plugin_config(State(worker): State<Worker>, Query(query): Query<PluginQuery>) -> ApiResult {
    let plugin = query.plugin.ok_or_else(|| ApiError::bad_request("give the plugin name as ?plugin=<name>"))?;
    let descriptor = worker.plugin(&plugin)?;
    ok(json!({"status": 200, "body": (descriptor.config_schema)()}))
}

async fn rocketmq_validate(RawQuery(query): RawQuery, body: Bytes) -> ApiResult {
    let config = match serde_json::from_slice::<JsonValue>(&body) {
        Ok(config) => config,
        Err(_) => {
            let text = query.as_deref().unwrap_or_default().split('&').find_map(|p| p.strip_prefix("config=")).unwrap_or("{}");
            let decoded = percent_decode(text);
            serde_json::from_str(&decoded).map_err(|e| ApiError::bad_request(format!("config is not valid JSON: {e}")))?
        }
    };
    let JsonValue::Object(config) = normalize_rocketmq_config(config) else {
        return Err(ApiError::bad_request("the config must be a JSON object"));
    };
    ok(validate(Registry::global(), &config))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
