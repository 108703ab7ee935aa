//! Kafka Connect's REST API: its paths, request and answer shapes, states and codes.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use connect_sdk::config::ConfigMap;
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use super::openapi::{Api, op};
use super::{ApiError, ApiResult, JsonBody, flag};
use connect_runtime::PluginInfo;
use connect_runtime::ReplayReport;
use connect_runtime::TargetState;
use connect_runtime::Worker;
use connect_runtime::logging::LoggerLevel;
use connect_runtime::{ConnectorInfo, ConnectorStatus, TaskInfo, TaskStateInfo, WorkerHealth};
use connect_sdk::host::assembly::{ConfigInfos, ConfigKeyInfo};

/// A connector config: keys to values (strings, numbers, booleans; placeholders kept).
fn config_schema() -> JsonValue {
    json!({"type": "object", "additionalProperties": true})
}

fn loggers_doc() -> JsonValue {
    json!({"type": "object", "additionalProperties": {"$ref": "#/components/schemas/LoggerLevel"}})
}

/// Kafka Connect's routes, with their documentation.
pub(super) fn routes(api: Api) -> Api {
    let name_status = json!({"type": "object", "additionalProperties": {"type": "object", "properties": {
        "status": {"$ref": "#/components/schemas/ConnectorStatus"}, "info": {"$ref": "#/components/schemas/ConnectorInfo"}}}});
    api.tag("Kafka Connect")
        .get("/", server_info, op("The worker's version and ids").returns_schema(200, "The worker", json!({"type": "object", "properties": {
            "version": {"type": "string"}, "commit": {"type": "string"}, "kafka_cluster_id": {"type": "string"},
            "namesrv_addr": {"type": "string"}, "worker_id": {"type": "string"}}})))
        .get("/health", health, op("KIP-1017 health: a liveness probe")
            .returns::<WorkerHealth>(200, "Healthy").returns::<WorkerHealth>(500, "Unhealthy").returns::<WorkerHealth>(503, "Starting"))
        .get("/ready", ready, op("A readiness probe").returns::<WorkerHealth>(200, "Ready").returns::<WorkerHealth>(503, "Not ready"))
        .get("/metrics", metrics, op("Prometheus metrics").text(200, "The Prometheus text format"))
        .get("/connectors", list_connectors, op("The connectors' names, or with expand their statuses and infos")
            .query("expand", json!({"type": "string", "enum": ["status", "info"]}), "status and/or info per connector")
            .returns_schema(200, "Names, or expanded entries", json!({"anyOf": [{"type": "array", "items": {"type": "string"}}, name_status]})))
        .post("/connectors", create_connector, op("Creates a connector")
            .body_schema(json!({"type": "object", "required": ["config"], "properties": {
                "name": {"type": "string"}, "config": config_schema(),
                "initial_state": {"type": "string", "enum": ["RUNNING", "PAUSED", "STOPPED"]}}}))
            .returns::<ConnectorInfo>(201, "Created"))
        .delete("/connectors/{name}", delete_connector, op("Deletes a connector").empty(204, "Deleted"))
        .get("/connectors/{name}/config", get_config, op("A connector's config").returns::<ConfigMap>(200, "The config, placeholders kept"))
        .put("/connectors/{name}/config", put_config, op("Creates or replaces a connector's config").body_schema(config_schema())
            .returns::<ConnectorInfo>(200, "Updated").returns::<ConnectorInfo>(201, "Created"))
        .patch("/connectors/{name}/config", patch_config, op("Changes some keys of a connector's config (null removes a key)")
            .body_schema(config_schema()).returns::<ConnectorInfo>(200, "Updated"))
        .get("/connectors/{name}/status", get_status, op("A connector's and its tasks' states").returns::<ConnectorStatus>(200, "The status"))
        .get("/connectors/{name}/tasks", get_tasks, op("A connector's task configs").returns::<Vec<TaskInfo>>(200, "The tasks"))
        .get("/connectors/{name}/tasks/{task}/status", get_task_status, op("A task's state").returns::<TaskStateInfo>(200, "The state"))
        .post("/connectors/{name}/tasks/{task}/restart", restart_task, op("Restarts a task").empty(204, "Restarted"))
        .post("/connectors/{name}/restart", restart_connector, op("Restarts a connector and, on request, its tasks")
            .flag("includeTasks", "restart its tasks too").flag("onlyFailed", "only what failed")
            .empty(204, "Restarted").returns::<ConnectorStatus>(202, "What restarts"))
        .put("/connectors/{name}/pause", pause, op("Pauses a connector and its tasks").empty(202, "Pausing"))
        .put("/connectors/{name}/resume", resume, op("Resumes a connector and its tasks").empty(202, "Resuming"))
        .put("/connectors/{name}/stop", stop, op("Stops a connector and its tasks (configs kept)").empty(204, "Stopped"))
        .get("/connectors/{name}/offsets", get_offsets, op("A connector's committed offsets").returns_schema(200, "The offsets", offsets_doc()))
        .patch("/connectors/{name}/offsets", patch_offsets, op("Alters a stopped connector's offsets").body_schema(offsets_doc())
            .returns_schema(200, "Altered", message_doc()))
        .delete("/connectors/{name}/offsets", delete_offsets, op("Resets a stopped connector's offsets").returns_schema(200, "Reset", message_doc()))
        .get("/connectors/{name}/topics", get_topics, op("The topics a connector uses").returns_schema(200, "Its topics",
            json!({"type": "object", "additionalProperties": {"type": "object", "properties": {"topics": {"type": "array", "items": {"type": "string"}}}}})))
        .put("/connectors/{name}/topics/reset", reset_topics, op("Resets the topics a connector reports").empty(202, "Reset"))
        .post("/connectors/{name}/dlq/replay", replay_dead_letters, op("Sends what a sink dead-lettered back to the topics it read it from, each record once (this worker's extension)")
            .flag("dry_run", "only report what would be sent").returns::<ReplayReport>(200, "What was replayed (or would be)"))
        .get("/connector-plugins", list_plugins, op("The plugins this worker offers")
            .flag("connectorsOnly", "only connectors (default true)").returns::<Vec<PluginInfo>>(200, "The plugins"))
        .get("/connector-plugins/{plugin}/config", plugin_config, op("A connector plugin's keys").returns::<Vec<ConfigKeyInfo>>(200, "Its keys"))
        .put("/connector-plugins/{plugin}/config/validate", validate_config, op("Validates a connector config")
            .body_schema(config_schema()).returns::<ConfigInfos>(200, "Each key with its errors"))
        .get("/admin/loggers", list_loggers, op("Loggers with a level of their own, and root").returns_schema(200, "The levels", loggers_doc()))
        .get("/admin/loggers/{logger}", get_logger, op("The level a logger logs at").returns::<LoggerLevel>(200, "Its level"))
        .put("/admin/loggers/{logger}", set_logger, op("Sets a logger's level, and of the loggers under it")
            .query("scope", json!({"type": "string", "enum": ["worker", "cluster"]}), "worker (default) or cluster: every worker, also those started later")
            .body_schema(json!({"type": "object", "required": ["level"], "properties": {"level": {"type": "string"}}}))
            .returns::<Vec<String>>(200, "The loggers set on this worker")
            .empty(204, "Set for the cluster"))
}

fn offsets_doc() -> JsonValue {
    json!({"type": "object", "required": ["offsets"], "properties": {"offsets": {"type": "array", "items": {"type": "object",
        "required": ["partition"], "properties": {"partition": {"type": "object"}, "offset": {"type": ["object", "null"]}}}}}})
}

fn message_doc() -> JsonValue {
    json!({"type": "object", "properties": {"message": {"type": "string"}}})
}

fn log_levels(worker: &Worker) -> ApiResult<&'static connect_runtime::logging::LogLevels> {
    worker.log_levels().ok_or_else(|| ApiError::new(404, "log levels are managed by the application that embeds this worker"))
}

async fn list_loggers(State(worker): State<Worker>) -> ApiResult {
    ok(log_levels(&worker)?.all())
}

async fn get_logger(State(worker): State<Worker>, Path(logger): Path<String>) -> ApiResult {
    ok(log_levels(&worker)?.get(&logger))
}

#[derive(Deserialize)]
struct LoggerScope {
    scope: Option<String>,
}

/// Kafka's `PUT /admin/loggers/{logger}`: sets the level on this worker; answers the loggers set.
async fn set_logger(
    State(worker): State<Worker>,
    Path(logger): Path<String>,
    Query(query): Query<LoggerScope>,
    JsonBody(body): JsonBody<JsonValue>,
) -> ApiResult {
    let level =
        body.get("level").and_then(JsonValue::as_str).ok_or_else(|| ApiError::bad_request("The request body must hold \"level\""))?;
    if query.scope.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("cluster")) {
        worker.set_cluster_log_level(&logger, level).await?;
        return no_content();
    }
    let changed = log_levels(&worker)?.set(&logger, level).map_err(|e| ApiError::bad_request(e.to_string()))?;
    tracing::info!(%logger, level, "log level changed");
    ok(changed)
}

fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(Json(value).into_response())
}

fn with_status(code: StatusCode, value: impl serde::Serialize) -> ApiResult {
    Ok((code, Json(value)).into_response())
}

pub(super) fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) fn accepted() -> ApiResult {
    Ok(StatusCode::ACCEPTED.into_response())
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

/// Kafka's KIP-1017 answer: 200 healthy, 503 starting, 500 unhealthy (a liveness probe).
async fn health(State(worker): State<Worker>) -> Response {
    let health = worker.health().await;
    let status = StatusCode::from_u16(health.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(health)).into_response()
}

/// A readiness probe: 200 once healthy, 503 otherwise (starting or unhealthy).
async fn ready(State(worker): State<Worker>) -> Response {
    let health = worker.health().await;
    let status = if health.http_status() == 200 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(health)).into_response()
}

async fn metrics(State(worker): State<Worker>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    (headers, worker.metrics_text()).into_response()
}

/// `?expand=status&expand=info` (or `expand=status,info`).
async fn list_connectors(State(worker): State<Worker>, Query(query): Query<Vec<(String, String)>>) -> ApiResult {
    let expand: Vec<&str> = query.iter().filter(|(k, _)| k == "expand").flat_map(|(_, v)| v.split(',')).collect();
    let (with_status, with_info) = (expand.contains(&"status"), expand.contains(&"info"));
    let names = worker.connector_names().await;
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
    let initial = match request.initial_state.as_deref().map(str::to_ascii_uppercase).as_deref() {
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

pub(super) async fn connector_info(worker: &Worker, name: &str) -> ApiResult {
    ok(worker.connector_info(name).await?)
}

async fn delete_connector(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    worker.delete_connector(&name).await?;
    no_content()
}

async fn get_config(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    ok(worker.connector_config(&name).await?)
}

async fn put_config(State(worker): State<Worker>, Path(name): Path<String>, JsonBody(config): JsonBody<JsonValue>) -> ApiResult {
    let (info, created) = worker.put_connector_config(&name, config).await?;
    with_status(if created { StatusCode::CREATED } else { StatusCode::OK }, info)
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
    #[serde(rename = "includeTasks")]
    include_tasks: Option<String>,
    #[serde(rename = "onlyFailed")]
    only_failed: Option<String>,
}

async fn restart_connector(State(worker): State<Worker>, Path(name): Path<String>, Query(query): Query<RestartQuery>) -> ApiResult {
    let include_tasks = flag("includeTasks", query.include_tasks.as_deref(), false)?;
    let only_failed = flag("onlyFailed", query.only_failed.as_deref(), false)?;
    let restarting = worker.restart_connector(&name, include_tasks, only_failed).await?;
    if !include_tasks && !only_failed {
        return no_content();
    }
    with_status(StatusCode::ACCEPTED, restarting)
}

#[derive(Deserialize)]
struct ReplayQuery {
    dry_run: Option<String>,
}

async fn replay_dead_letters(State(worker): State<Worker>, Path(name): Path<String>, Query(query): Query<ReplayQuery>) -> ApiResult {
    let dry_run = flag("dry_run", query.dry_run.as_deref(), false)?;
    ok(worker.replay_dead_letters(&name, dry_run).await?)
}

pub(super) async fn pause(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    worker.pause_connector(&name).await?;
    accepted()
}

pub(super) async fn resume(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
    worker.resume_connector(&name).await?;
    accepted()
}

pub(super) async fn stop(State(worker): State<Worker>, Path(name): Path<String>) -> ApiResult {
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
    let connectors_only = flag("connectorsOnly", query.connectors_only.as_deref(), true)?;
    ok(worker.plugins(connectors_only))
}

async fn plugin_config(State(worker): State<Worker>, Path(plugin): Path<String>) -> ApiResult {
    ok(worker.connector_keys(&plugin)?)
}

async fn validate_config(State(worker): State<Worker>, Path(plugin): Path<String>, JsonBody(body): JsonBody<JsonValue>) -> ApiResult {
    let JsonValue::Object(mut config) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object of config keys"));
    };
    let wanted = worker.plugin(&plugin)?;
    if !wanted.kind.is_connector() {
        return Err(ApiError::new(404, format!("{plugin} is a {} plugin, not a connector", wanted.kind)));
    }
    let class = config.entry("connector.class").or_insert_with(|| json!(wanted.name)).clone();
    if class.as_str().and_then(|c| worker.plugin(c).ok()).map(|p| p.name) != Some(wanted.name) {
        return Err(ApiError::bad_request(format!("connector.class {class} does not match the plugin in the URL ({plugin})")));
    }
    ok(worker.validate_config(&config)?)
}
