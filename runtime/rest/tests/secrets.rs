//! Secrets from `${file:...}` placeholders never leave the task that uses them: not in 400
//! messages, validation answers, task configs or failure traces, also when a connector copies
//! only part of a value (masking by where a value came from, not by equality of whole values).

mod support;

use std::time::Duration;

use serde_json::{Value as Json, json};
use support::{TestWorker, temp_dir, wait_until};

const SECRET: &str = "s3cr3t-Value-7f2a";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resolved_secrets_appear_in_no_answer_trace_or_task_config() {
    let dir = temp_dir("secrets");
    let secrets = dir.join("secrets.properties");
    std::fs::write(&secrets, format!("value={SECRET}\nname=missing-{SECRET}\n")).unwrap();
    let placeholder = |key: &str| format!("${{file:{}:{key}}}", secrets.display());
    let worker = TestWorker::start(&dir.join("data")).await;
    let leaks = |what: &str, body: &Json| assert!(!body.to_string().contains(SECRET), "{what} shows the secret: {body}");

    // A value that fails validation: the message names the key, not the value.
    let invalid = json!({"connector.class": "datagen-source", "topic": "t", "records.per.second": placeholder("value")});
    let (code, body) = worker.call("POST", "/connectors", Some(&json!({"name": "bad", "config": invalid})));
    assert_eq!(code, 400, "{body}");
    leaks("a 400", &body);
    let (code, body) = worker.call("PUT", "/connector-plugins/datagen-source/config/validate", Some(&invalid));
    assert_eq!(code, 200, "{body}");
    assert!(body["error_count"].as_u64().unwrap() >= 1, "{body}");
    leaks("a validation answer", &body);
    let shown = json!({"connector.class": "file-source", "topic": placeholder("value"), "file": dir.join("x").display().to_string()});
    let (_, body) = worker.call("PUT", "/connector-plugins/file-source/config/validate", Some(&shown));
    leaks("a validation answer's values", &body);

    // A connector that splits a value into parts: each part of the secret is masked in its task configs.
    let input = dir.join("in.txt");
    std::fs::write(&input, "a\n").unwrap();
    let files = format!("{},{}/{}", input.display(), dir.display(), placeholder("value"));
    let split = json!({"connector.class": "file-source", "topic": "secret-files", "files": files, "tasks.max": 2});
    let (code, body) = worker.call("POST", "/connectors", Some(&json!({"name": "split", "config": split})));
    assert_eq!(code, 201, "{body}");
    // Its second task cannot open a file named after the secret: the trace must not say it.
    let failed = wait_until(Duration::from_secs(60), || {
        let (_, status) = worker.call("GET", "/connectors/split/status", None);
        status["tasks"].as_array().is_some_and(|t| t.iter().any(|t| t["state"] == "FAILED"))
    })
    .await;
    let (_, status) = worker.call("GET", "/connectors/split/status", None);
    assert!(failed, "{status}");
    leaks("a failure trace", &status);
    let (_, tasks) = worker.call("GET", "/connectors/split/tasks", None);
    assert!(tasks.to_string().contains("${file:"), "the placeholder is shown instead: {tasks}");
    leaks("the task configs", &tasks);

    // A value built around a secret: `/nonexistent/missing-<secret>.txt`.
    let around = json!({"connector.class": "file-source", "topic": "t", "file": format!("{}/nonexistent/{}.txt", dir.display(), placeholder("name"))});
    let (code, body) = worker.call("POST", "/connectors", Some(&json!({"name": "around", "config": around})));
    assert_eq!(code, 201, "{body}");
    let failed =
        wait_until(Duration::from_secs(60), || worker.call("GET", "/connectors/around/status", None).1["tasks"][0]["state"] == "FAILED")
            .await;
    let (_, status) = worker.call("GET", "/connectors/around/status", None);
    assert!(failed, "{status}");
    leaks("a failure trace", &status);
    assert!(status.to_string().contains("${file:"), "the trace names the placeholder: {status}");
    for path in ["/connectors?expand=status&expand=info", "/allocated/tasks", "/connectors/around/tasks"] {
        leaks(path, &worker.call("GET", path, None).1);
    }
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
