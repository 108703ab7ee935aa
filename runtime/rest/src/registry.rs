//! Confluent's Schema Registry REST API over the worker's [`SchemaRegistry`], under
//! `/registry` on the REST listener and at the root of `--schema-registry-addr`: the paths,
//! query parameters, shapes, error codes and the `application/vnd.schemaregistry.v1+json`
//! content type its clients (serializers, CLIs, UIs) expect.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, JsonBody, flag};
use connect_runtime::Worker;
use connect_runtime::schema_registry::{CompatibilityLevel, RegistryError, SchemaRegistry, SchemaSubmission, SchemaType, VersionSelector};

/// The registry's content type.
pub(super) const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

type Answer = Result<Response, Refused>;

/// A refused call's answer (boxed: a response is large, and most calls succeed).
struct Refused(Box<Response>);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<RegistryError> for Refused {
    fn from(error: RegistryError) -> Refused {
        Refused(Box::new(registry_error(&error)))
    }
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Refused {
        Refused(Box::new(error.into_response()))
    }
}
type Params = Query<HashMap<String, String>>;

/// The registry's routes, relative to where they are mounted.
pub(super) fn routes() -> Router<Worker> {
    Router::new()
        .route("/", get(|| async { answer(&json!({})) }))
        .route("/schemas/types", get(|| async { answer(&SchemaType::ALL.map(SchemaType::name)) }))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(schema_text_by_id))
        .route("/schemas/ids/{id}/versions", get(versions_by_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_by_id))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route("/subjects/{subject}/versions/{version}", get(version).delete(delete_version))
        .route("/subjects/{subject}/versions/{version}/schema", get(version_schema))
        .route("/subjects/{subject}/versions/{version}/referencedby", get(referenced_by))
        .route("/config", get(global_level).put(set_global_level).delete(delete_global_level))
        .route("/config/{subject}", get(subject_level).put(set_subject_level).delete(delete_subject_level))
        .route("/mode", get(|| async { answer(&json!({"mode": "READWRITE"})) }))
        .route("/compatibility/subjects/{subject}/versions", post(compatible_with_level))
        .route("/compatibility/subjects/{subject}/versions/{version}", post(compatible_with_version))
}

/// Confluent's answer to a registry error: its status, and its own code in the body.
fn registry_error(error: &RegistryError) -> Response {
    let status = axum::http::StatusCode::from_u16(error.status()).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error_code": error.code(), "message": error.to_string()});
    (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string()).into_response()
}

/// The worker's registry, its log opened at its first use.
async fn registry(worker: &Worker) -> Result<&SchemaRegistry, Refused> {
    Ok(worker.schema_registry().ready().await?)
}

fn answer<T: Serialize + ?Sized>(value: &T) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

/// A boolean query parameter; anything but true/false is a 400 naming it.
fn param(params: &HashMap<String, String>, name: &str) -> Result<bool, Refused> {
    Ok(flag(name, params.get(name).map(String::as_str), false)?)
}

fn id(text: &str) -> Result<i32, Refused> {
    Ok(text.parse().map_err(|_| RegistryError::SchemaNotFound(format!("Schema {text} not found")))?)
}

fn selector(text: &str) -> Result<VersionSelector, Refused> {
    Ok(text.parse::<VersionSelector>()?)
}

async fn schema_by_id(State(worker): State<Worker>, Path(id_text): Path<String>) -> Answer {
    let schema = registry(&worker).await?.schema(id(&id_text)?)?;
    let mut body = json!({"schema": schema.schema});
    if schema.schema_type != SchemaType::Avro {
        body["schemaType"] = json!(schema.schema_type.name());
    }
    if !schema.references.is_empty() {
        body["references"] = json!(schema.references);
    }
    Ok(answer(&body))
}

async fn schema_text_by_id(State(worker): State<Worker>, Path(id_text): Path<String>) -> Answer {
    let schema = registry(&worker).await?.schema(id(&id_text)?)?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], schema.schema).into_response())
}

async fn versions_by_id(State(worker): State<Worker>, Path(id_text): Path<String>, Query(params): Params) -> Answer {
    let found = registry(&worker).await?.schema_versions(id(&id_text)?, param(&params, "deleted")?)?;
    let body: Vec<_> = found.into_iter().map(|(subject, version)| json!({"subject": subject, "version": version})).collect();
    Ok(answer(&body))
}

async fn subjects_by_id(State(worker): State<Worker>, Path(id_text): Path<String>, Query(params): Params) -> Answer {
    let found = registry(&worker).await?.schema_versions(id(&id_text)?, param(&params, "deleted")?)?;
    let mut subjects: Vec<String> = found.into_iter().map(|(subject, _)| subject).collect();
    subjects.dedup();
    Ok(answer(&subjects))
}

async fn subjects(State(worker): State<Worker>, Query(params): Params) -> Answer {
    let prefix = params.get("subjectPrefix").map_or("", String::as_str);
    Ok(answer(&registry(&worker).await?.subjects(param(&params, "deleted")?, prefix)?))
}

async fn versions(State(worker): State<Worker>, Path(subject): Path<String>, Query(params): Params) -> Answer {
    Ok(answer(&registry(&worker).await?.versions(&subject, param(&params, "deleted")?)?))
}

async fn register(State(worker): State<Worker>, Path(subject): Path<String>, Query(params): Params, body: Submission) -> Answer {
    let submission = body.0?;
    let id = registry(&worker).await?.register(&subject, &submission, param(&params, "normalize")?).await?;
    Ok(answer(&json!({"id": id})))
}

async fn lookup(State(worker): State<Worker>, Path(subject): Path<String>, Query(params): Params, body: Submission) -> Answer {
    let submission = body.0?;
    let (normalize, deleted) = (param(&params, "normalize")?, param(&params, "deleted")?);
    Ok(answer(&registry(&worker).await?.lookup(&subject, &submission, normalize, deleted)?))
}

async fn delete_subject(State(worker): State<Worker>, Path(subject): Path<String>, Query(params): Params) -> Answer {
    let deleted = registry(&worker).await?.delete_subject(&subject, param(&params, "permanent")?).await?;
    Ok(answer(&deleted))
}

async fn version(State(worker): State<Worker>, Path((subject, version)): Path<(String, String)>, Query(params): Params) -> Answer {
    let found = registry(&worker).await?.version(&subject, selector(&version)?, param(&params, "deleted")?)?;
    Ok(answer(&found))
}

async fn version_schema(State(worker): State<Worker>, Path((subject, version)): Path<(String, String)>, Query(params): Params) -> Answer {
    let found = registry(&worker).await?.version(&subject, selector(&version)?, param(&params, "deleted")?)?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], found.schema).into_response())
}

/// The ids of schemas referencing this version.
async fn referenced_by(State(worker): State<Worker>, Path((subject, version)): Path<(String, String)>) -> Answer {
    let registry = registry(&worker).await?;
    let found = registry.version(&subject, selector(&version)?, false)?;
    Ok(answer(&registry.referenced_by(&subject, found.version)?))
}

async fn delete_version(State(worker): State<Worker>, Path((subject, version)): Path<(String, String)>, Query(params): Params) -> Answer {
    let deleted = registry(&worker).await?.delete_version(&subject, selector(&version)?, param(&params, "permanent")?).await?;
    Ok(answer(&deleted))
}

/// `{"compatibility": "FULL"}`, the body of a level change.
#[derive(Deserialize)]
struct LevelChange {
    compatibility: String,
}

async fn global_level(State(worker): State<Worker>) -> Answer {
    let level = registry(&worker).await?.level(None, true)?;
    Ok(answer(&json!({"compatibilityLevel": level})))
}

async fn subject_level(State(worker): State<Worker>, Path(subject): Path<String>, Query(params): Params) -> Answer {
    let level = registry(&worker).await?.level(Some(&subject), param(&params, "defaultToGlobal")?)?;
    Ok(answer(&json!({"compatibilityLevel": level})))
}

async fn set_global_level(State(worker): State<Worker>, JsonBody(change): JsonBody<LevelChange>) -> Answer {
    set_level(&worker, None, &change).await
}

async fn set_subject_level(State(worker): State<Worker>, Path(subject): Path<String>, JsonBody(change): JsonBody<LevelChange>) -> Answer {
    set_level(&worker, Some(&subject), &change).await
}

async fn set_level(worker: &Worker, subject: Option<&str>, change: &LevelChange) -> Answer {
    let level: CompatibilityLevel = change.compatibility.parse()?;
    registry(worker).await?.set_level(subject, level).await?;
    Ok(answer(&json!({"compatibility": level})))
}

async fn delete_global_level(State(worker): State<Worker>) -> Answer {
    let previous = registry(&worker).await?.delete_level(None).await?;
    Ok(answer(&json!({"compatibilityLevel": previous})))
}

async fn delete_subject_level(State(worker): State<Worker>, Path(subject): Path<String>) -> Answer {
    let previous = registry(&worker).await?.delete_level(Some(&subject)).await?;
    Ok(answer(&json!({"compatibilityLevel": previous})))
}

async fn compatible_with_level(
    State(worker): State<Worker>,
    Path(subject): Path<String>,
    Query(params): Params,
    body: Submission,
) -> Answer {
    compatibility(registry(&worker).await?, &subject, None, &params, body.0?)
}

async fn compatible_with_version(
    State(worker): State<Worker>,
    Path((subject, version)): Path<(String, String)>,
    Query(params): Params,
    body: Submission,
) -> Answer {
    compatibility(registry(&worker).await?, &subject, Some(selector(&version)?), &params, body.0?)
}

fn compatibility(
    registry: &SchemaRegistry,
    subject: &str,
    version: Option<VersionSelector>,
    params: &HashMap<String, String>,
    submission: SchemaSubmission,
) -> Answer {
    let problems = registry.test_compatibility(subject, version, &submission, param(params, "normalize")?)?;
    let mut body = json!({"is_compatible": problems.is_empty()});
    if param(params, "verbose")? {
        body["messages"] = json!(problems);
    }
    Ok(answer(&body))
}

/// A submission body; a body that is not one is a 422 (42201 when the schema is missing), as
/// Confluent's registry answers.
struct Submission(Result<SchemaSubmission, Refused>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Submission {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|e| ApiError::new(e.status().as_u16(), e.body_text()))?;
        let submission =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::InvalidSchema(format!("Invalid request body: {e}")).into());
        Ok(Submission(submission))
    }
}
