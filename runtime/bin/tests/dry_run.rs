//! `connect-worker test`: connector configs run in-process against fixture records, no
//! broker; what they would write printed as JSON lines, compared with `--expect`, exit 0/1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

fn worker() -> Command {
    Command::new(env!("CARGO_BIN_EXE_connect-worker"))
}

/// A directory of this test's own.
fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-dry-run-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

fn test(args: &[&Path], more: &[&str]) -> Output {
    worker().arg("test").args(args).args(more).output().unwrap()
}

fn lines(output: &Output) -> Vec<Json> {
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A file sink reading `orders` as JSON, masking `card` and routing to `orders-masked`.
fn sink_config(dir: &Path, extra: &str) -> PathBuf {
    let out = dir.join("out.txt");
    let config = format!(
        r#"{{"name": "orders-out", "config": {{"connector.class": "file-sink", "file": {out:?}, "topics": "orders",
        "value.converter": "json", "value.converter.schemas.enable": "false",
        "transforms": "mask,route", "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
        "transforms.mask.fields": "card", "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "orders", "transforms.route.replacement": "orders-masked"{extra}}}}}"#
    );
    write(dir, "sink.json", &config)
}

const ORDERS: &str = r#"
- key: o-1
  value: {"id": 1, "card": "4111-1111", "total": 9.5}
  headers: {"source": "web"}
- key: o-2
  value: {"id": 2, "card": "5500-0000", "total": 20}
"#;

#[test]
fn a_sink_config_shows_what_its_task_would_be_handed_and_compares_it_with_what_is_expected() {
    let dir = dir("sink");
    let (config, input) = (sink_config(&dir, ""), write(&dir, "orders.yaml", ORDERS));
    let output = test(&[&config, Path::new("--input"), &input], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = [
        json!({"topic": "orders-masked", "key": "o-1", "value": {"id": 1, "card": "", "total": 9.5}, "headers": {"source": "web"}}),
        json!({"topic": "orders-masked", "key": "o-2", "value": {"id": 2, "card": "", "total": 20}}),
    ];
    assert_eq!(lines(&output), expected, "converted, masked and routed as the worker does");
    assert!(!dir.join("out.txt").exists(), "without --put nothing is written");

    // The same as the expected file: exit 0; one value off: exit 1 naming the line.
    let same = write(&dir, "expected.json", &serde_json::to_string(&expected).unwrap());
    let output = test(&[&config, Path::new("--input"), &input, Path::new("--expect"), &same], &[]);
    assert!(output.status.success() && stderr(&output).contains("as expected: 2 lines"), "{}", stderr(&output));
    let mut off = expected.clone();
    off[1]["value"]["total"] = json!(21);
    let off = write(&dir, "off.jsonl", &off.iter().map(Json::to_string).collect::<Vec<_>>().join("\n"));
    let output = test(&[&config, Path::new("--input"), &input, Path::new("--expect"), &off], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("line 2 differs"), "{}", stderr(&output));

    // --put: the task writes them.
    let output = test(&[&config, Path::new("--input"), &input], &["--put"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let written = std::fs::read_to_string(dir.join("out.txt")).unwrap();
    assert_eq!(written.lines().count(), 2, "{written}");
    assert!(written.contains("card=,") && !written.contains("4111"), "the masked values: {written}");
}

#[test]
fn a_refused_record_names_its_stage_and_fails_the_run_unless_tolerated() {
    let dir = dir("refused");
    let input =
        write(&dir, "orders.json", r#"{"records": [{"value": {"id": 1}}, {"value": "not json"}, {"topic": "orders", "value": [1]}]}"#);
    let config = sink_config(&dir, "");
    let output = test(&[&config, Path::new("--input"), &input], &["--put"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let printed = lines(&output);
    assert_eq!(printed[1]["refused"]["stage"], "VALUE_CONVERTER", "{printed:?}");
    assert_eq!(printed[1]["refused"]["record"], 2);
    assert_eq!(printed[2]["refused"]["stage"], "TRANSFORMATION", "MaskField needs a struct or map: {printed:?}");
    assert_eq!(printed[2]["refused"]["transform"], "mask");
    assert!(!dir.join("out.txt").exists(), "a run with a refused record puts nothing");

    let tolerant = sink_config(&dir, r#", "errors.tolerance": "all""#);
    let output = test(&[&tolerant, Path::new("--input"), &input], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(lines(&output)[1]["dead_lettered"]["stage"], "VALUE_CONVERTER");
}

#[test]
fn a_source_config_shows_what_the_worker_would_send_from_fixture_records_or_its_upstream() {
    let dir = dir("source");
    let config = write(
        &dir,
        "users.yaml",
        "name: users\nconnector.class: datagen-source\ntopic: users\nquickstart: users\nvalue.converter: json\n\
         value.converter.schemas.enable: 'false'\ntransforms: only\ntransforms.only.type: org.apache.kafka.connect.transforms.Filter\n\
         transforms.only.predicate: audit\npredicates: audit\npredicates.audit.type: org.apache.kafka.connect.transforms.predicates.TopicNameMatches\n\
         predicates.audit.pattern: audit.*\n",
    );
    // Fixture records: the audit one is filtered out by the predicate'd Filter.
    let input =
        write(&dir, "polled.json", r#"[{"topic": "users", "key": "u1", "value": {"id": 1}}, {"topic": "audit-log", "value": "x"}]"#);
    let output = test(&[&config, Path::new("--input"), &input], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(lines(&output), [json!({"topic": "users", "key": "u1", "value": {"id": 1}})]);

    // Its upstream: datagen's users, three of them.
    let output = test(&[&config], &["--max-records", "3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let users = lines(&output);
    assert_eq!(users.len(), 3, "{users:?}");
    assert!(
        users.iter().all(|u| u["topic"] == "users" && u["value"]["userid"].is_string() && u["key"] == u["value"]["userid"]),
        "{users:?}"
    );
}

#[test]
fn a_config_the_worker_would_refuse_fails_naming_its_key() {
    let dir = dir("invalid");
    let config = write(&dir, "bad.json", r#"{"name": "x", "connector.class": "file-sink", "topics": "t", "fiel": "/tmp/x"}"#);
    let input = write(&dir, "in.json", "[]");
    let output = test(&[&config, Path::new("--input"), &input], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("fiel") && stderr(&output).contains("file"), "{}", stderr(&output));
    let sink = write(&dir, "sink.json", r#"{"name": "x", "connector.class": "file-sink", "topics": "t", "file": "/tmp/x"}"#);
    let output = test(&[&sink], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--input"), "{}", stderr(&output));
    let typo = write(&dir, "typo.json", r#"[{"vlaue": 1}]"#);
    let output = test(&[&sink, Path::new("--input"), &typo], &[]);
    assert!(stderr(&output).contains("unknown key \"vlaue\""), "{}", stderr(&output));
}

#[test]
fn placeholders_are_resolved_and_what_they_resolve_to_is_masked_in_what_is_printed() {
    let dir = dir("secrets");
    let config = write(
        &dir,
        "tagged.json",
        r#"{"name": "tagged", "connector.class": "datagen-source", "topic": "t", "value.converter": "json",
            "value.converter.schemas.enable": "false", "transforms": "tag",
            "transforms.tag.type": "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.tag.static.field": "token", "transforms.tag.static.value": "${env:DRY_RUN_TOKEN}"}"#,
    );
    let input = write(&dir, "in.json", r#"[{"topic": "t", "value": {"id": 1}}]"#);
    let output = worker().args(["test"]).arg(&config).arg("--input").arg(&input).env("DRY_RUN_TOKEN", "s3cr3t-t0ken").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(lines(&output), [json!({"topic": "t", "key": null, "value": {"id": 1, "token": "${env:DRY_RUN_TOKEN}"}})]);
    assert!(!String::from_utf8_lossy(&output.stdout).contains("s3cr3t"), "the secret is not printed");
    let unset = worker().args(["test"]).arg(&config).arg("--input").arg(&input).env_remove("DRY_RUN_TOKEN").output().unwrap();
    assert_eq!(unset.status.code(), Some(1));
    assert!(stderr(&unset).contains("transforms.tag.static.value"), "the key whose placeholder failed: {}", stderr(&unset));
}
