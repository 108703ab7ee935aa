//! RocketMQ Connect's REST calls: their paths and their `{"status": 200, "body": ...}`
//! envelope, over the same worker API as Kafka's.

use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

use axum::Json;
use connect_sdk::config::ConfigMap;
use connect_sdk::host::assembly::ConfigInfos;
use serde::{Deserialize, Serialize};
use serde_json::{Value as JsonValue, json};

use super::call::Call;
use super::openapi::{Api, op};
use super::{ApiError, ApiResult, JsonBody};
use connect_runtime::PluginInfo;
use connect_runtime::TargetState;
use connect_runtime::Worker;
use connect_runtime::{ConnectorInfo, ConnectorStatus, TaskInfo};

/// RocketMQ Connect's routes, with their documentation, over Kafka's (`super::kafka`): its
/// calls reuse Kafka's handlers, and Kafka's `GET /connectors/{name}`, which RocketMQ Connect
/// also uses to create, is registered here.
pub(super) fn routes(api: Api) -> Api {
    let config = || json!({"type": "object", "additionalProperties": true});
    let gated = "RocketMQ Connect's GET write (405 unless the worker runs with --rest-get-writes)";
    api.tag("Kafka Connect")
        .get("/connectors/{name}", get_connector, op("A connector's config and tasks (RocketMQ Connect: ?config= creates it)")
            .query("config", json!({"type": "string"}), "RocketMQ Connect: the config as JSON text, to create the connector (needs --rest-get-writes)")
            .returns::<ConnectorInfo>(200, "The connector").returns::<ConnectorInfo>(201, "Created (RocketMQ Connect)"))
        .tag("RocketMQ Connect")
        .get("/connectors/list", list, op("Every connector's status").envelope::<BTreeMap<String, ConnectorStatus>>("By name"))
        .get_write("/connectors/stop/all", stop_all, op(gated).envelope::<String>("Stopped"))
        .post("/connectors/stop/all", stop_all, op("Stops every connector").envelope::<String>("Stopped"))
        .get_write("/connectors/pause/all", pause_all, op(gated).envelope::<String>("Paused"))
        .post("/connectors/pause/all", pause_all, op("Pauses every connector").envelope::<String>("Paused"))
        .get_write("/connectors/resume/all", resume_all, op(gated).envelope::<String>("Resumed"))
        .post("/connectors/resume/all", resume_all, op("Resumes every connector").envelope::<String>("Resumed"))
        .post(
            "/connectors/{name}",
            create,
            op("Creates a connector from its config").body_schema(config()).returns::<ConnectorInfo>(201, "Created"),
        )
        .get_write("/connectors/{name}/pause", super::kafka::pause, op(gated).empty(202, "Pausing"))
        .get_write("/connectors/{name}/resume", super::kafka::resume, op(gated).empty(202, "Resuming"))
        .get_write("/connectors/{name}/stop", super::kafka::stop, op(gated).empty(204, "Stopped"))
        .post("/connectors/{name}/stop", super::kafka::stop, op("Stops a connector").empty(204, "Stopped"))
        .get("/getClusterInfo", cluster_info, op("The cluster's members").envelope::<Vec<String>>("Worker ids"))
        .get(
            "/allocated/connectors",
            allocated_connectors,
            op("The connectors running on this worker").envelope::<BTreeMap<String, ConfigMap>>("Their configs, by name"),
        )
        .get("/allocated/tasks", allocated_tasks, op("The tasks running on this worker").envelope::<Vec<TaskInfo>>("Their configs"))
        .get("/plugin/list", plugins, op("Every plugin").envelope::<Vec<PluginInfo>>("The plugins"))
        .get("/plugin/list/connectors", connector_plugins, op("The connector plugins").envelope::<Vec<PluginInfo>>("The plugins"))
        .get(
            "/plugin/config",
            plugin_config,
            op("A plugin's configuration schema (JSON Schema)")
                .query("plugin", json!({"type": "string"}), "the plugin's name")
                .envelope::<JsonValue>("Its JSON Schema"),
        )
        .get_write(
            "/plugin/config/validate",
            validate,
            op("Validates a connector config given as ?config= (it resolves placeholders: 405 unless the worker runs with --rest-get-writes, and admins only)")
                .query("config", json!({"type": "string"}), "the config as JSON text")
                .returns::<ConfigInfos>(200, "Each key with its errors"),
        )
        .post(
            "/plugin/config/validate",
            validate,
            op("Validates a connector config").body_schema(config()).returns::<ConfigInfos>(200, "Each key with its errors"),
        )
        .put(
            "/plugin/config/validate",
            validate,
            op("Validates a connector config").body_schema(config()).returns::<ConfigInfos>(200, "Each key with its errors"),
        )
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
async fn get_connector(
    State(worker): State<Worker>,
    Path(name): Path<String>,
    Query(query): Query<ConfigQuery>,
    call: Option<Extension<Call>>,
) -> ApiResult {
    match query.config {
        // Served only when the guard judged it the write it is.
        Some(_) if !call.is_some_and(|Extension(call)| call.writes && call.method == axum::http::Method::GET) => {
            Err(ApiError::new(405, "?config= creates a connector: it is served to a GET judged as a write only"))
        }
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
    envelope(worker.plugin(&plugin)?.user_config_schema())
}

/// The config comes as the body, or as `?config={...}`.
async fn validate(State(worker): State<Worker>, Query(query): Query<ConfigQuery>, body: axum::body::Bytes) -> Response {
    let config = match serde_json::from_slice::<JsonValue>(&body) {
        Ok(config) => Ok(config),
        Err(_) => serde_json::from_str(query.config.as_deref().unwrap_or("{}"))
            .map_err(|e| ApiError::bad_request(format!("config is not valid JSON: {e}"))),
    };
    match config {
        Ok(JsonValue::Object(config)) => match worker.validate_config(&config) {
            Ok(infos) => Json(infos).into_response(),
            Err(error) => ApiError::from(error).into_response(),
        },
        Ok(_) => ApiError::bad_request("the config must be a JSON object").into_response(),
        Err(error) => error.into_response(),
    }
}
