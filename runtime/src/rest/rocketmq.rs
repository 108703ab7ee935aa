//! RocketMQ Connect's REST calls: their paths and their `{"status": 200, "body": ...}`
//! envelope, over the same worker API as Kafka's.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;

use super::{ApiError, ApiResult, JsonBody};
use crate::state::configs::TargetState;
use crate::worker::Worker;

/// RocketMQ Connect's routes (Kafka's paths that also take RocketMQ's methods are in
/// [`super::kafka`], calling the handlers here).
pub(super) fn routes() -> Router<Worker> {
    Router::new()
        .route("/connectors/list", get(list))
        .route("/connectors/stop/all", get(stop_all).post(stop_all))
        .route("/connectors/pause/all", get(pause_all).post(pause_all))
        .route("/connectors/resume/all", get(resume_all).post(resume_all))
        .route("/connectors/{name}", axum::routing::post(create))
        .route("/connectors/{name}/pause", get(super::kafka::pause))
        .route("/connectors/{name}/resume", get(super::kafka::resume))
        .route("/connectors/{name}/stop", get(super::kafka::stop).post(super::kafka::stop))
        .route("/getClusterInfo", get(cluster_info))
        .route("/allocated/connectors", get(allocated_connectors))
        .route("/allocated/tasks", get(allocated_tasks))
        .route("/plugin/list", get(plugins))
        .route("/plugin/list/connectors", get(connector_plugins))
        .route("/plugin/config", get(plugin_config))
        .route("/plugin/config/validate", get(validate).post(validate).put(validate))
}

/// RocketMQ Connect's answer envelope.
#[derive(Serialize)]
struct Envelope<T> {
    status: u16,
    body: T,
}

fn envelope(body: impl Serialize) -> ApiResult {
    Ok(Json(Envelope { status: 200, body }).into_response())
}

#[derive(Deserialize)]
pub(super) struct ConfigQuery {
    config: Option<String>,
}

/// `GET /connectors/{name}`: Kafka's connector info, or with `?config={...}` RocketMQ
/// Connect's create.
pub(super) async fn get_connector(State(worker): State<Worker>, Path(name): Path<String>, Query(query): Query<ConfigQuery>) -> ApiResult {
    match query.config {
        Some(text) => {
            let config: JsonValue =
                serde_json::from_str(&text).map_err(|e| ApiError::bad_request(format!("config is not valid JSON: {e}")))?;
            create_with(&worker, &name, config).await
        }
        None => super::kafka::connector_info(&worker, &name).await,
    }
}

async fn create(State(worker): State<Worker>, Path(name): Path<String>, JsonBody(config): JsonBody<JsonValue>) -> ApiResult {
    create_with(&worker, &name, config).await
}

async fn create_with(worker: &Worker, name: &str, config: JsonValue) -> ApiResult {
    let info = worker.create_connector(name, config).await?;
    Ok((axum::http::StatusCode::CREATED, Json(info)).into_response())
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
    envelope("success")
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

async fn list(State(worker): State<Worker>) -> ApiResult {
    let mut out = serde_json::Map::new();
    for name in worker.connector_names().await {
        out.insert(name.clone(), serde_json::to_value(worker.connector_status(&name).await?).unwrap_or_default());
    }
    envelope(out)
}

async fn cluster_info(State(worker): State<Worker>) -> ApiResult {
    envelope(worker.members())
}

/// The connectors running on this worker, with their configs.
async fn allocated_connectors(State(worker): State<Worker>) -> ApiResult {
    let mut out = serde_json::Map::new();
    for name in worker.allocated().await.0 {
        if let Ok(config) = worker.connector_config(&name).await {
            out.insert(name, JsonValue::Object(config));
        }
    }
    envelope(out)
}

/// The tasks running on this worker, with their configs.
async fn allocated_tasks(State(worker): State<Worker>) -> ApiResult {
    let mut out = Vec::new();
    for id in worker.allocated().await.1 {
        if let Some(info) = worker.task_infos(&id.connector).await.ok().and_then(|infos| infos.into_iter().find(|i| i.id == id)) {
            out.push(info);
        }
    }
    envelope(out)
}

async fn plugins(State(worker): State<Worker>) -> ApiResult {
    envelope(worker.plugins(false))
}

async fn connector_plugins(State(worker): State<Worker>) -> ApiResult {
    envelope(worker.plugins(true))
}

#[derive(Deserialize)]
struct PluginQuery {
    plugin: Option<String>,
}

async fn plugin_config(State(worker): State<Worker>, Query(query): Query<PluginQuery>) -> ApiResult {
    let plugin = query.plugin.ok_or_else(|| ApiError::bad_request("give the plugin name as ?plugin=<name>"))?;
    envelope(connect_sdk::config::schema_info::user_schema((worker.plugin(&plugin)?.config_schema)()))
}

/// The config comes as the body, or as `?config={...}`.
async fn validate(State(worker): State<Worker>, Query(query): Query<ConfigQuery>, body: axum::body::Bytes) -> Response {
    let config = match serde_json::from_slice::<JsonValue>(&body) {
        Ok(config) => Ok(config),
        Err(_) => serde_json::from_str(query.config.as_deref().unwrap_or("{}"))
            .map_err(|e| ApiError::bad_request(format!("config is not valid JSON: {e}"))),
    };
    match config {
        Ok(JsonValue::Object(config)) => Json(worker.validate_config(&config)).into_response(),
        Ok(_) => ApiError::bad_request("the config must be a JSON object").into_response(),
        Err(error) => error.into_response(),
    }
}
