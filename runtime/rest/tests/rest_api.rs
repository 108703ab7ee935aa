//! Every REST endpoint, with Kafka Connect's paths, status codes and JSON shapes, and the
//! error cases (4xx with `{"error_code", "message"}` naming the problem).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{TestWorker, http_text, temp_dir, wait_until, write_numbered};

fn assert_error(response: (u16, Value), code: u16, needle: &str) {
    let (status, body) = response;
    assert_eq!(status, code, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "\"{message}\" should mention \"{needle}\"");
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rest_api_speaks_kafka_connect() {
    let dir = temp_dir("rest");
    let input = dir.join("in.txt");
    write_numbered(&input, 10);
    let worker = TestWorker::start(&dir.join("data")).await;
    let call = |method: &str, path: &str, body: Option<Value>| worker.call(method, path, body.as_ref());

    // Server info, health, plugins.
    let (code, info) = call("GET", "/", None);
    assert_eq!(code, 200);
    assert!(["commit", "kafka_cluster_id", "version"].iter().all(|k| info.get(*k).is_some()), "{info}");
    assert_eq!(
        call("GET", "/health", None),
        (200, json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."}))
    );
    assert_eq!(call("GET", "/ready", None).0, 200);
    let (_, plugins) = call("GET", "/connector-plugins", None);
    let plugins = plugins.as_array().unwrap().clone();
    assert!(plugins.iter().all(|p| keys(p) == ["class", "type", "version"] && ["source", "sink"].contains(&p["type"].as_str().unwrap())));
    assert!(plugins.iter().any(|p| p["class"] == "file-source"));
    let (_, all) = call("GET", "/connector-plugins?connectorsOnly=false", None);
    assert!(all.as_array().unwrap().iter().any(|p| p["type"] == "transformation"));
    assert_error(call("GET", "/connector-plugins?connectorsOnly=maybe", None), 400, "connectorsOnly");
    assert_eq!(call("GET", "/connector-plugins?connectorsOnly=FALSE", None).1, all, "Kafka's boolean spellings");
    let (_, definitions) = call("GET", "/connector-plugins/file-source/config", None);
    assert!(definitions.as_array().unwrap().iter().any(|d| d["name"] == "batch.size" && d["type"] == "LONG"), "{definitions}");
    assert_error(call("GET", "/connector-plugins/nope/config", None), 404, "nope");

    // Validation.
    let (code, validation) = call(
        "PUT",
        "/connector-plugins/file-source/config/validate",
        Some(json!({"connector.class": "file-source", "topic": "t", "batch.size": "x"})),
    );
    assert_eq!(code, 200);
    assert_eq!(keys(&validation), ["configs", "error_count", "groups", "name"]);
    assert_eq!(validation["error_count"], 2, "{validation}");
    assert_error(
        call("PUT", "/connector-plugins/file-source/config/validate", Some(json!({"connector.class": "file-sink"}))),
        400,
        "does not match",
    );

    // Create: errors first.
    assert_error(call("POST", "/connectors", Some(json!({"name": "x"}))), 400, "config");
    assert_error(call("POST", "/connectors", Some(json!({"name": "x", "config": {"connector.class": "no-such"}}))), 400, "no-such");
    assert_error(
        call("POST", "/connectors", Some(json!({"name": "x", "config": {"connector.class": "file-source", "topic": "t", "fiel": "a"}}))),
        400,
        "did you mean \"file\"",
    );
    assert_error(
        call(
            "POST",
            "/connectors",
            Some(json!({"name": "x", "config": {"connector.class": "file-source", "name": "y", "file": "a", "topic": "t"}})),
        ),
        400,
        "doesn't match",
    );
    assert_error(call("POST", "/connectors", Some(json!({"name": "x", "config": {}, "initial_state": "SLEEPING"}))), 400, "initial_state");
    let named = |name: &str| Some(json!({"name": name, "config": {"connector.class": "datagen-source", "topic": "t"}}));
    assert_error(call("POST", "/connectors", named("list")), 400, "/connectors/list");
    assert_error(call("POST", "/connectors", named(&"n".repeat(250))), 400, "longer than 249");
    assert_error(call("POST", "/connectors", named("tab\there")), 400, "control character");
    let mut nested = json!("deep");
    for _ in 0..20 {
        nested = json!([nested]);
    }
    let deep = json!({"name": "x", "config": {"connector.class": "datagen-source", "topic": "t", "deep": nested}});
    assert_error(call("POST", "/connectors", Some(deep)), 400, "deep is nested deeper than 16 levels");
    let huge = format!("{{\"name\": \"x\", \"config\": {{\"pad\": \"{}\"}}}}", "x".repeat(3 << 20));
    assert_eq!(support::http(worker.rest, "POST", "/connectors", Some(&huge)).0, 413, "a body over the limit");
    let (code, body) = support::http(worker.rest, "POST", "/connectors", Some("{not json"));
    assert_error((code, body), 400, "not valid JSON");

    // Create, read.
    let source = json!({"connector.class": "file-source", "file": input, "topic": "rest-lines", "tasks.max": "1"});
    let (code, created) = call("POST", "/connectors", Some(json!({"name": "src", "config": source})));
    assert_eq!(code, 201, "{created}");
    assert_eq!(keys(&created), ["config", "name", "tasks", "type"]);
    assert_eq!((created["type"].as_str(), created["tasks"][0].clone()), (Some("source"), json!({"connector": "src", "task": 0})));
    assert_error(call("POST", "/connectors", Some(json!({"name": "src", "config": source}))), 409, "already exists");
    assert_eq!(call("GET", "/connectors", None).1, json!(["src"]));
    assert_eq!(call("GET", "/connectors/src", None).1["name"], "src");
    assert_eq!(call("GET", "/connectors/src/config", None).1["topic"], "rest-lines");
    let (_, tasks) = call("GET", "/connectors/src/tasks", None);
    assert_eq!(tasks[0]["id"], json!({"connector": "src", "task": 0}));
    assert_eq!(tasks[0]["config"]["batch.size"], 2000);
    assert!(wait_until(Duration::from_secs(30), || call("GET", "/connectors/src/status", None).1["tasks"][0]["state"] == "RUNNING").await);
    let (_, status) = call("GET", "/connectors/src/status", None);
    assert_eq!(keys(&status), ["connector", "name", "tasks", "type"]);
    assert_eq!(status["connector"]["state"], "RUNNING");
    assert_eq!(call("GET", "/connectors/src/tasks/0/status", None).1["id"], 0);
    assert_error(call("GET", "/connectors/src/tasks/7/status", None), 404, "Task 7");
    assert_error(call("GET", "/connectors/src/tasks/x/status", None), 400, "not a number");
    let (_, expanded) = call("GET", "/connectors?expand=status&expand=info", None);
    assert_eq!(keys(&expanded["src"]), ["info", "status"]);
    assert_eq!(call("GET", "/connectors/src/topics", None).1, json!({"src": {"topics": ["rest-lines"]}}));
    assert_eq!(call("PUT", "/connectors/src/topics/reset", None).0, 202);

    // Sink created the RocketMQ Connect way (POST /connectors/{name} with the config as body).
    let sink = json!({"connector-class": "file-sink", "file": dir.join("out.txt"), "connect-topicnames": "rest-lines"});
    assert_eq!(call("POST", "/connectors/snk", Some(sink)).0, 201);
    assert!(wait_until(Duration::from_secs(60), || support::lines(&dir.join("out.txt")).len() >= 10).await);
    // A name RocketMQ refuses in a group name (dots, spaces, 200 characters) reads all the same.
    let long = format!("snk.with dots {}", "x".repeat(180));
    let dotted = json!({"connector.class": "file-sink", "file": dir.join("dotted.txt"), "topics": "rest-lines"});
    assert_eq!(call("POST", "/connectors", Some(json!({"name": long, "config": dotted}))).0, 201);
    assert!(wait_until(Duration::from_secs(60), || support::lines(&dir.join("dotted.txt")).len() >= 10).await, "the sink reads");

    // A sink's offsets are its consumer group's, per queue; resetting them re-reads the topic.
    let committed = |offsets: &Value| {
        offsets["offsets"].as_array().map(|o| o.iter().filter_map(|e| e["offset"]["rocketmq_offset"].as_i64()).sum::<i64>()).unwrap_or(0)
    };
    assert!(wait_until(Duration::from_secs(30), || committed(&call("GET", "/connectors/snk/offsets", None).1) == 10).await);
    let (_, offsets) = call("GET", "/connectors/snk/offsets", None);
    assert_eq!(keys(&offsets["offsets"][0]["partition"]), ["rocketmq_broker", "rocketmq_queue", "rocketmq_topic"], "{offsets}");
    assert_eq!(call("PUT", "/connectors/snk/stop", None).0, 204);
    assert_error(call("DELETE", "/connectors/snk/offsets", None), 400, "consumer group connect-snk");
    assert_eq!(call("PUT", "/connectors/snk/resume", None).0, 202);
    let (_, metrics) = http_text(worker.rest, "GET", "/metrics", None);
    assert!(metrics.contains("connect_sink_record_lag_max{connector=\"snk\",task=\"0\"} 0"), "lag is known and zero once caught up");

    // Secrets: placeholders are resolved to run the task, never shown.
    let secret = dir.join("secret.properties");
    std::fs::write(&secret, format!("path = {}\n", input.display())).unwrap();
    let with_secret =
        json!({"connector.class": "file-source", "file": format!("${{file:{}:path}}", secret.display()), "topic": "secret-lines"});
    assert_eq!(call("POST", "/connectors", Some(json!({"name": "secret", "config": with_secret}))).0, 201);
    let placeholder = format!("${{file:{}:path}}", secret.display());
    assert_eq!(call("GET", "/connectors/secret/config", None).1["file"], placeholder.as_str());
    // The task config (the split moves `file` into `files`) holds the placeholder, never the secret.
    assert_eq!(call("GET", "/connectors/secret/tasks", None).1[0]["config"]["files"][0], placeholder.as_str());
    assert!(wait_until(Duration::from_secs(30), || worker.metric("connect_source_records_written_total", "secret", 0) == 10.0).await);
    assert!(
        ["connectors.journal", "connectors.json"]
            .map(|file| std::fs::read_to_string(dir.join("data").join(file)).unwrap_or_default())
            .concat()
            .contains(&placeholder.replace('\\', "\\\\")),
        "the stored config keeps the placeholder"
    );
    assert_error(
        call(
            "POST",
            "/connectors",
            Some(
                json!({"name": "nosecret", "config": {"connector.class": "file-source", "topic": "t", "file": "${env:CONNECT_TEST_UNSET_VARIABLE}"}}),
            ),
        ),
        400,
        "CONNECT_TEST_UNSET_VARIABLE",
    );
    assert_eq!(call("DELETE", "/connectors/secret", None).0, 204);

    // Update, patch.
    let mut updated = source.clone();
    updated["batch.size"] = json!("5");
    let (code, info) = call("PUT", "/connectors/src/config", Some(updated));
    assert_eq!((code, info["config"]["batch.size"].clone()), (200, json!("5")));
    let (code, other) =
        call("PUT", "/connectors/other/config", Some(json!({"connector.class": "log-sink", "topics": "rest-lines", "tasks.max": "2"})));
    assert_eq!(code, 201);
    assert_eq!(other["tasks"].as_array().map(Vec::len), Some(2), "sinks run tasks.max tasks sharing the queues");
    let (code, patched) = call("PATCH", "/connectors/other/config", Some(json!({"prefix": "> "})));
    assert_eq!((code, patched["config"]["prefix"].clone()), (200, json!("> ")));
    assert_error(call("PUT", "/connectors/other/config", Some(json!({"connector.class": "log-sink"}))), 400, "topics");

    // Lifecycle.
    assert_eq!(call("PUT", "/connectors/src/pause", None).0, 202);
    assert!(wait_until(Duration::from_secs(10), || call("GET", "/connectors/src/status", None).1["tasks"][0]["state"] == "PAUSED").await);
    assert_eq!(call("GET", "/connectors/src/status", None).1["connector"]["state"], "PAUSED");
    assert_eq!(call("PUT", "/connectors/src/resume", None).0, 202);
    assert!(wait_until(Duration::from_secs(10), || call("GET", "/connectors/src/status", None).1["tasks"][0]["state"] == "RUNNING").await);
    assert_eq!(call("POST", "/connectors/src/restart", None).0, 204);
    let (code, restarted) = call("POST", "/connectors/src/restart?includeTasks=true", None);
    assert_eq!((code, restarted["name"].clone()), (202, json!("src")));
    assert_eq!(restarted["connector"]["state"], "RESTARTING", "{restarted}");
    assert!(restarted["tasks"].as_array().is_some_and(|t| t.iter().all(|t| t["state"] == "RESTARTING")), "{restarted}");
    let (code, nothing_failed) = call("POST", "/connectors/src/restart?includeTasks=true&onlyFailed=true", None);
    assert_eq!((code, nothing_failed["connector"]["state"].clone()), (202, json!("RUNNING")), "only failed units restart");
    assert_error(call("POST", "/connectors/src/restart?includeTasks=perhaps", None), 400, "includeTasks");
    assert_eq!(call("POST", "/connectors/src/tasks/0/restart", None).0, 204);

    // Offsets: only while stopped.
    let (_, offsets) = call("GET", "/connectors/src/offsets", None);
    assert_eq!(offsets["offsets"][0]["partition"]["filename"], input.display().to_string());
    assert_error(call("DELETE", "/connectors/src/offsets", None), 400, "STOPPED");
    assert_eq!(call("PUT", "/connectors/src/stop", None).0, 204);
    assert_eq!(call("GET", "/connectors/src/status", None).1["connector"]["state"], "STOPPED");
    let change = json!({"offsets": [{"partition": {"filename": input}, "offset": {"position": 7}}]});
    let (code, altered) = call("PATCH", "/connectors/src/offsets", Some(change));
    assert_eq!((code, altered["message"].as_str().unwrap_or_default().contains("altered")), (200, true));
    assert_eq!(call("GET", "/connectors/src/offsets", None).1["offsets"][0]["offset"]["position"], 7);
    assert_error(call("PATCH", "/connectors/src/offsets", Some(json!({"offsets": "all"}))), 400, "offsets");
    assert_eq!(call("DELETE", "/connectors/src/offsets", None).0, 200);
    assert_eq!(call("GET", "/connectors/src/offsets", None).1, json!({"offsets": []}));
    assert_eq!(call("PUT", "/connectors/src/resume", None).0, 202);

    // RocketMQ Connect's calls.
    assert_eq!(call("GET", "/getClusterInfo", None).1["body"], json!(["test-worker:1"]));
    assert!(call("GET", "/connectors/list", None).1["body"]["src"].is_object());
    assert!(call("GET", "/allocated/connectors", None).1["body"]["snk"].is_object());
    assert!(call("GET", "/allocated/tasks", None).1["body"].as_array().is_some_and(|t| t.len() >= 2));
    assert!(call("GET", "/plugin/list", None).1["body"].as_array().is_some_and(|p| !p.is_empty()));
    assert!(call("GET", "/plugin/list/connectors", None).1["body"].as_array().is_some_and(|p| p.len() >= 4));
    assert!(call("GET", "/plugin/config?plugin=file-sink", None).1["body"]["properties"]["file"].is_object());
    // Their writes by GET are off unless the worker allows them (any web page can send a GET).
    assert_error(call("GET", "/connectors/stop/all", None), 405, "--rest-get-writes");
    assert_error(call("GET", "/connectors/snk/pause", None), 405, "--rest-get-writes");
    assert_eq!(call("POST", "/connectors/stop/all", None).0, 200);
    assert_eq!(call("GET", "/connectors/snk/status", None).1["connector"]["state"], "STOPPED");
    assert_eq!(call("POST", "/connectors/resume/all", None).0, 200);
    assert_eq!(call("GET", "/connectors/snk/status", None).1["connector"]["state"], "RUNNING");

    // Twenty creates of one name at once: one wins, the others are told it exists.
    let creates: Vec<_> = (0..20)
        .map(|i| {
            let rest = worker.rest;
            std::thread::spawn(move || {
                let body = json!({"name": "raced", "config": {"connector.class": "datagen-source", "topic": format!("raced-{i}")}});
                support::http(rest, "POST", "/connectors", Some(&body.to_string())).0
            })
        })
        .collect();
    let mut codes: Vec<u16> = creates.into_iter().map(|c| c.join().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, [vec![201], vec![409; 19]].concat());
    // Parallel patches of different keys all stay (each one restarts the connector: a few suffice).
    let changes =
        [("records.per.second", "5"), ("max.records", "100"), ("payload.bytes", "10"), ("batch.size", "5"), ("errors.tolerance", "all")];
    let patches: Vec<_> = changes
        .iter()
        .map(|&(key, value)| {
            let rest = worker.rest;
            std::thread::spawn(move || support::http(rest, "PATCH", "/connectors/raced/config", Some(&json!({key: value}).to_string())))
        })
        .collect();
    for patch in patches {
        let (code, body) = patch.join().unwrap();
        assert_eq!(code, 200, "{body}");
    }
    let (_, raced) = call("GET", "/connectors/raced/config", None);
    assert!(changes.iter().all(|(key, value)| raced[key] == *value), "a patch was lost: {raced}");
    assert_eq!(call("DELETE", "/connectors/raced", None).0, 204);

    // What a web page could send through a browser: refused before any handler runs.
    let raw = |head: &str| {
        let request = format!("{head}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}");
        support::raw_status(worker.rest, &request)
    };
    let host = format!("Host: {}", worker.rest);
    assert_eq!(raw(&format!("POST /connectors HTTP/1.1\r\n{host}\r\nContent-Type: text/plain")), 415, "a form-shaped body");
    assert_eq!(raw(&format!("PUT /connectors/snk/pause HTTP/1.1\r\n{host}\r\nOrigin: https://evil.example")), 403, "cross-site");
    assert_eq!(raw("GET /connectors HTTP/1.1\r\nHost: rebound.example:8083"), 403, "DNS rebinding");
    assert_eq!(call("GET", "/connectors/snk/status", None).1["connector"]["state"], "RUNNING", "nothing changed");

    // Unknown names, paths and methods.
    for (method, path) in [
        ("GET", "/connectors/nope"),
        ("GET", "/connectors/nope/status"),
        ("PUT", "/connectors/nope/pause"),
        ("DELETE", "/connectors/nope"),
        ("GET", "/connectors/nope/offsets"),
    ] {
        assert_error(call(method, path, None), 404, "nope");
    }
    assert_error(call("GET", "/no/such/path", None), 404, "Not found");
    assert_error(call("DELETE", "/connector-plugins", None), 405, "method");

    // Metrics and delete.
    let (code, metrics) = http_text(worker.rest, "GET", "/metrics", None);
    assert_eq!(code, 200);
    for name in [
        "connect_source_records_polled_total",
        "connect_source_records_written_total",
        "connect_sink_records_read_total",
        "connect_sink_records_put_total",
        "connect_task_errors_total",
        "connect_dlq_records_total",
    ] {
        assert!(metrics.contains(&format!("# TYPE {name} counter")), "{name} missing");
    }
    assert!(metrics.contains("connect_sink_records_put_total{connector=\"snk\",task=\"0\"}"));
    assert_eq!(call("DELETE", "/connectors/src", None).0, 204);
    assert_error(call("GET", "/connectors/src", None), 404, "src");
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_calls_and_every_error_is_json() {
    let dir = support::temp_dir("openapi");
    let worker = support::TestWorker::start(&dir.join("data")).await;
    let (code, document) = worker.call("GET", "/openapi.json", None);
    assert_eq!(code, 200);
    assert_eq!(document["openapi"], "3.1.0");
    for (path, method) in
        [("/connectors", "post"), ("/connectors/{name}/status", "get"), ("/admin/loggers/{logger}", "put"), ("/plugin/list", "get")]
    {
        assert!(document["paths"][path][method]["responses"]["default"].is_object(), "{method} {path} is not described");
    }
    let status = &document["components"]["schemas"]["ConnectorStatus"];
    assert!(status["properties"]["tasks"].is_object(), "schemas come from the answers' types: {status}");
    // A query string axum cannot read is answered in Kafka's error shape, as the document says.
    let (code, error) = worker.call("GET", "/connector-plugins?connectorsOnly=true&connectorsOnly=false", None);
    assert_eq!((code, error["error_code"].as_u64()), (400, Some(400)), "{error}");
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
