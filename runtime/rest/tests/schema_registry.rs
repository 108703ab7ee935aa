//! The schema registry under `/registry`, as Confluent's clients call it: registration and
//! lookups, ids shared across subjects, compatibility levels refusing and testing
//! evolutions, soft then permanent deletes, Confluent's error codes and content type, and ids
//! that survive a restart of the worker.

mod support;

use std::io::{Read, Write};

use serde_json::{Value, json};
use support::{TestWorker, temp_dir};

const V1: &str = r#"{"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "long"}]}"#;
const V2: &str = r#"{"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "long"}, {"name": "note", "type": ["null", "string"], "default": null}]}"#;
const BREAKING: &str = r#"{"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "string"}]}"#;

fn schema(text: &str) -> Value {
    json!({"schema": text})
}

/// `(status, error_code)` of a failed call.
fn refused(answer: (u16, Value)) -> (u16, i64) {
    (answer.0, answer.1["error_code"].as_i64().unwrap_or_default())
}

/// The `Content-Type` the registry answers `GET path` with, asked as Confluent's clients ask.
fn content_type(worker: &TestWorker, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(worker.rest).unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/vnd.schemaregistry.v1+json\r\nConnection: close\r\n\r\n",
        worker.rest
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned)).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_registry_speaks_confluent_s_api_and_keeps_ids_across_restarts() {
    let dir = temp_dir("registry");
    let worker = TestWorker::start(&dir.join("data")).await;
    let call = |method: &str, path: &str, body: Option<Value>| worker.call(method, &format!("/registry{path}"), body.as_ref());

    assert_eq!(call("GET", "/schemas/types", None), (200, json!(["JSON", "AVRO"])));
    assert_eq!(call("GET", "/subjects", None), (200, json!([])));
    assert_eq!(content_type(&worker, "/registry/subjects"), "application/vnd.schemaregistry.v1+json");
    assert_eq!(call("GET", "/config", None), (200, json!({"compatibilityLevel": "BACKWARD"})));

    // Register, again (same id), evolve (new id), and the same schema under another subject.
    let (status, first) = call("POST", "/subjects/orders-value/versions", Some(schema(V1)));
    assert_eq!(status, 200, "{first}");
    let v1 = first["id"].as_i64().unwrap();
    assert_eq!(call("POST", "/subjects/orders-value/versions", Some(schema(V1))).1["id"], v1);
    let v2 = call("POST", "/subjects/orders-value/versions", Some(schema(V2))).1["id"].as_i64().unwrap();
    assert_ne!(v1, v2);
    assert_eq!(call("POST", "/subjects/archive-value/versions", Some(schema(V1))).1["id"], v1);
    assert_eq!(call("GET", "/subjects", None).1, json!(["archive-value", "orders-value"]));
    assert_eq!(call("GET", "/subjects/orders-value/versions", None).1, json!([1, 2]));
    let (_, latest) = call("GET", "/subjects/orders-value/versions/latest", None);
    assert_eq!((latest["subject"].clone(), latest["version"].clone(), latest["id"].clone()), (json!("orders-value"), json!(2), json!(v2)));
    assert!(latest.get("schemaType").is_none(), "Avro is not named: {latest}");
    let (_, by_id) = call("GET", &format!("/schemas/ids/{v1}"), None);
    assert_eq!(serde_json::from_str::<Value>(by_id["schema"].as_str().unwrap()).unwrap(), serde_json::from_str::<Value>(V1).unwrap());
    assert_eq!(
        call("GET", &format!("/schemas/ids/{v1}/versions"), None).1,
        json!([{"subject": "archive-value", "version": 1}, {"subject": "orders-value", "version": 1}])
    );
    assert_eq!(call("GET", &format!("/schemas/ids/{v1}/subjects"), None).1, json!(["archive-value", "orders-value"]));
    let (_, found) = call("POST", "/subjects/orders-value", Some(schema(V1)));
    assert_eq!((found["version"].clone(), found["id"].clone()), (json!(1), json!(v1)));

    // Compatibility: BACKWARD refuses a type change with 409, the test endpoint says why.
    let (status, error) = call("POST", "/subjects/orders-value/versions", Some(schema(BREAKING)));
    assert_eq!((status, error["error_code"].clone()), (409, json!(409)), "{error}");
    assert!(error["message"].as_str().unwrap().contains("orders-value"), "{error}");
    let (_, verdict) = call("POST", "/compatibility/subjects/orders-value/versions/latest?verbose=true", Some(schema(BREAKING)));
    assert_eq!(verdict["is_compatible"], false);
    assert!(!verdict["messages"].as_array().unwrap().is_empty(), "{verdict}");
    assert_eq!(call("POST", "/compatibility/subjects/orders-value/versions", Some(schema(V2))).1, json!({"is_compatible": true}));
    assert_eq!(call("PUT", "/config/orders-value", Some(json!({"compatibility": "none"}))).1, json!({"compatibility": "NONE"}));
    assert_eq!(call("GET", "/config/orders-value", None).1, json!({"compatibilityLevel": "NONE"}));
    assert_eq!(refused(call("GET", "/config/archive-value", None)), (404, 40408));
    assert_eq!(call("GET", "/config/archive-value?defaultToGlobal=true", None).1, json!({"compatibilityLevel": "BACKWARD"}));
    assert_eq!(call("POST", "/subjects/orders-value/versions", Some(schema(BREAKING))).0, 200);

    // JSON Schema: named in answers; a closed model accepts an added optional property.
    let json_v1 = json!({"schemaType": "JSON", "schema": r#"{"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}"#});
    let json_v2 = json!({"schemaType": "JSON", "schema": r#"{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "additionalProperties": false}"#});
    assert_eq!(call("POST", "/subjects/events-value/versions", Some(json_v1)).0, 200);
    let json_id = call("POST", "/subjects/events-value/versions", Some(json_v2)).1["id"].clone();
    assert_eq!(call("GET", &format!("/schemas/ids/{json_id}"), None).1["schemaType"], "JSON");

    // Errors: Confluent's codes.
    assert_eq!(refused(call("GET", "/subjects/nobody/versions", None)), (404, 40401));
    assert_eq!(refused(call("GET", "/subjects/orders-value/versions/9", None)), (404, 40402));
    assert_eq!(refused(call("GET", "/schemas/ids/99999", None)), (404, 40403));
    assert_eq!(refused(call("GET", "/subjects/orders-value/versions/zero", None)), (422, 42202));
    assert_eq!(refused(call("POST", "/subjects/x/versions", Some(schema(r#"{"type": "record"}"#)))), (422, 42201));
    assert_eq!(refused(call("POST", "/subjects/x/versions", Some(json!({"schemaType": "PROTOBUF", "schema": "syntax"})))), (422, 42201));
    assert_eq!(refused(call("PUT", "/config", Some(json!({"compatibility": "SIDEWAYS"})))), (422, 42203));
    assert_eq!(refused(call("POST", "/subjects/nobody", Some(schema(V1)))), (404, 40401));

    // Deletes: soft first, then permanent; ids keep resolving.
    assert_eq!(refused(call("DELETE", "/subjects/archive-value?permanent=true", None)), (404, 40405));
    assert_eq!(call("DELETE", "/subjects/archive-value", None).1, json!([1]));
    assert_eq!(refused(call("DELETE", "/subjects/archive-value", None)), (404, 40404));
    assert_eq!(call("GET", "/subjects?deleted=true", None).1, json!(["archive-value", "events-value", "orders-value"]));
    assert_eq!(call("DELETE", "/subjects/archive-value?permanent=true", None).1, json!([1]));
    assert_eq!(call("DELETE", "/subjects/orders-value/versions/1", None).1, json!(1));
    assert_eq!(call("GET", "/subjects/orders-value/versions", None).1, json!([2, 3]));
    assert_eq!(call("GET", &format!("/schemas/ids/{v1}"), None).0, 200);

    worker.shutdown().await;
    let again = TestWorker::start(&dir.join("data")).await;
    let (_, latest) = again.call("GET", "/registry/subjects/orders-value/versions/2", None);
    assert_eq!(latest["id"], v2, "ids survive a restart: {latest}");
    assert_eq!(again.call("GET", "/registry/subjects", None).1, json!(["events-value", "orders-value"]));
    again.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
