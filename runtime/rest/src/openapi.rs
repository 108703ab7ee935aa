//! The REST API's contract: every route is registered together with its OpenAPI 3.1
//! operation ([`Api`]), so `GET /openapi.json` describes exactly what the router serves. Body
//! schemas come from the Rust types the handlers answer with (`schemars`); every operation's
//! `default` response is the error body all calls share.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value as Json, json};

use connect_runtime::Worker;

/// A schema made when the document is rendered.
type MakeSchema = Box<dyn Fn(&mut SchemaGenerator) -> Json + Send>;

/// What a response carries.
enum Content {
    None,
    Json(MakeSchema),
    Text,
}

/// One operation's documentation.
pub(super) struct Op {
    summary: &'static str,
    query: Vec<(&'static str, Json, &'static str)>,
    body: Option<MakeSchema>,
    responses: Vec<(u16, &'static str, Content)>,
}

/// The documentation of an operation summarised as `summary`.
pub(super) fn op(summary: &'static str) -> Op {
    Op { summary, query: Vec::new(), body: None, responses: Vec::new() }
}

fn schema_of<T: JsonSchema>() -> MakeSchema {
    Box::new(|generator: &mut SchemaGenerator| generator.subschema_for::<T>().to_value())
}

impl Op {
    /// A query parameter.
    pub(super) fn query(mut self, name: &'static str, schema: Json, description: &'static str) -> Op {
        self.query.push((name, schema, description));
        self
    }

    /// A boolean query parameter (`true`/`false`, any case, as Kafka reads them).
    pub(super) fn flag(self, name: &'static str, description: &'static str) -> Op {
        self.query(name, json!({"type": "boolean"}), description)
    }

    /// The JSON request body, of this schema.
    pub(super) fn body_schema(mut self, schema: Json) -> Op {
        self.body = Some(Box::new(move |_| schema.clone()));
        self
    }

    /// A JSON answer of type `T`.
    pub(super) fn returns<T: JsonSchema>(mut self, status: u16, description: &'static str) -> Op {
        self.responses.push((status, description, Content::Json(schema_of::<T>())));
        self
    }

    /// A JSON answer of this schema.
    pub(super) fn returns_schema(mut self, status: u16, description: &'static str, schema: Json) -> Op {
        self.responses.push((status, description, Content::Json(Box::new(move |_| schema.clone()))));
        self
    }

    /// RocketMQ Connect's `{"status": 200, "body": T}` answer.
    pub(super) fn envelope<T: JsonSchema>(mut self, description: &'static str) -> Op {
        let body = schema_of::<T>();
        let make = move |generator: &mut SchemaGenerator| {
            json!({"type": "object", "required": ["status", "body"],
                   "properties": {"status": {"type": "integer"}, "body": body(generator)}})
        };
        self.responses.push((200, description, Content::Json(Box::new(make))));
        self
    }

    /// An answer without a body.
    pub(super) fn empty(mut self, status: u16, description: &'static str) -> Op {
        self.responses.push((status, description, Content::None));
        self
    }

    /// A `text/plain` answer.
    pub(super) fn text(mut self, status: u16, description: &'static str) -> Op {
        self.responses.push((status, description, Content::Text));
        self
    }

    fn render(&self, path: &str, tag: &str, generator: &mut SchemaGenerator) -> Json {
        let mut parameters: Vec<Json> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                let schema = if name == "task" { json!({"type": "integer", "minimum": 0}) } else { json!({"type": "string"}) };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        parameters.extend(
            self.query
                .iter()
                .map(|(name, schema, doc)| json!({"name": name, "in": "query", "required": false, "schema": schema, "description": doc})),
        );
        let mut responses = Map::new();
        for (status, description, content) in &self.responses {
            let mut response = json!({"description": description});
            match content {
                Content::None => {}
                Content::Json(schema) => response["content"] = json!({"application/json": {"schema": schema(generator)}}),
                Content::Text => response["content"] = json!({"text/plain": {"schema": {"type": "string"}}}),
            }
            responses.insert(status.to_string(), response);
        }
        responses.insert(
            "default".into(),
            json!({"description": "An error, in Kafka Connect's shape",
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
        let mut operation = json!({"summary": self.summary, "tags": [tag], "responses": responses});
        if !parameters.is_empty() {
            operation["parameters"] = Json::Array(parameters);
        }
        if let Some(body) = &self.body {
            operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": body(generator)}}});
        }
        operation
    }
}

/// The router and its document, built together.
pub(super) struct Api {
    router: Router<Worker>,
    paths: Map<String, Json>,
    generator: SchemaGenerator,
    tag: &'static str,
}

impl Api {
    /// An empty API.
    pub(super) fn new() -> Api {
        let settings = SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into());
        Api { router: Router::new(), paths: Map::new(), generator: settings.into_generator(), tag: "" }
    }

    /// The operations registered next are listed under `tag`.
    pub(super) fn tag(mut self, tag: &'static str) -> Api {
        self.tag = tag;
        self
    }

    fn add(mut self, method: &str, path: &str, route: MethodRouter<Worker>, op: Op) -> Api {
        self.router = self.router.route(path, route);
        let rendered = op.render(path, self.tag, &mut self.generator);
        let item = self.paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        item[method] = rendered;
        self
    }

    /// `GET path` served by `handler`, documented by `op`.
    pub(super) fn get<H: Handler<T, Worker>, T: 'static>(self, path: &str, handler: H, op: Op) -> Api {
        self.add("get", path, get(handler), op)
    }

    /// `GET path` served by `handler` although it changes state (RocketMQ Connect's calls):
    /// only to a request the guard judged a write ([`super::call::require_judged_write`]).
    pub(super) fn get_write<H: Handler<T, Worker>, T: 'static>(self, path: &str, handler: H, op: Op) -> Api {
        let route = get(handler).route_layer(axum::middleware::from_fn(super::call::require_judged_write));
        self.add("get", path, route, op)
    }

    /// `POST path`.
    pub(super) fn post<H: Handler<T, Worker>, T: 'static>(self, path: &str, handler: H, op: Op) -> Api {
        self.add("post", path, post(handler), op)
    }

    /// `PUT path`.
    pub(super) fn put<H: Handler<T, Worker>, T: 'static>(self, path: &str, handler: H, op: Op) -> Api {
        self.add("put", path, put(handler), op)
    }

    /// `PATCH path`.
    pub(super) fn patch<H: Handler<T, Worker>, T: 'static>(self, path: &str, handler: H, op: Op) -> Api {
        self.add("patch", path, patch(handler), op)
    }

    /// `DELETE path`.
    pub(super) fn delete<H: Handler<T, Worker>, T: 'static>(self, path: &str, handler: H, op: Op) -> Api {
        self.add("delete", path, delete(handler), op)
    }

    /// The router, and the OpenAPI document of what it serves.
    pub(super) fn finish(mut self) -> (Router<Worker>, Json) {
        let mut schemas: Map<String, Json> = self.generator.take_definitions(true).into_iter().collect();
        schemas.insert(
            "Error".into(),
            json!({"type": "object", "required": ["error_code", "message"],
                   "properties": {"error_code": {"type": "integer"}, "message": {"type": "string"}}}),
        );
        let document = json!({
            "openapi": "3.1.0",
            "info": {
                "title": "connect-worker REST API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Kafka Connect's REST API and RocketMQ Connect's calls, served by one worker.",
            },
            "paths": self.paths,
            "components": {"schemas": schemas},
        });
        (self.router, document)
    }
}
