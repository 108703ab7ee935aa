//! `connect-worker ctl` against a running worker, through the binary: every command in table
//! and JSON (or YAML) output, the exit codes of its failures, credentials, and completions.

mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use process::Process;
use serde_json::{Value as Json, json};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-ctl-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A standalone worker on a free port with `more` arguments; its URL.
fn start_worker(dir: &Path, more: &[&str]) -> (Process, String) {
    let port = connect_runtime::embedded::free_port().unwrap();
    let mut args: Vec<String> = ["standalone", "--rest-addr", &format!("127.0.0.1:{port}"), "--embedded-namesrv-port", "0"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.extend(["--embedded-broker-port", "0", "--offset-flush-interval-ms", "200", "--data-dir"].map(str::to_owned));
    args.push(dir.join("data").display().to_string());
    args.extend(["--allowed-paths".to_owned(), dir.display().to_string()]);
    args.extend(more.iter().map(|s| (*s).to_owned()));
    let log = dir.join("worker.log");
    let worker = Process::start(&args, &log);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the worker did not start: {}", std::fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(100));
    }
    (worker, url)
}

/// What one `ctl` run printed, and its exit code.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Json {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

fn ctl(url: &str, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_connect-worker"))
        .arg("ctl")
        .args(["--url", url])
        .args(args)
        .env_remove("CONNECT_TOKEN")
        .env_remove("CONNECT_USER")
        .output()
        .expect("connect-worker runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `ctl` that must succeed.
fn ok(url: &str, args: &[&str]) -> Run {
    let run = ctl(url, args);
    assert_eq!(run.code, 0, "ctl {args:?}: {}\n{}", run.stdout, run.stderr);
    run
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn state_of(url: &str, name: &str) -> String {
    let listed = ok(url, &["list", "-o", "json", "--rate-window-ms", "0"]).json();
    let entry = listed.as_array().unwrap().iter().find(|c| c["name"] == name).cloned().unwrap_or(Json::Null);
    format!("{} {}/{}", entry["state"].as_str().unwrap_or("-"), entry["tasks_running"], entry["tasks_total"])
}

#[test]
fn every_command_drives_a_worker_and_failures_have_their_exit_codes() {
    let dir = temp_dir("all");
    let (worker, url) = start_worker(&dir, &[]);
    let url = url.as_str();
    let files = dir.join("connectors");
    std::fs::create_dir_all(&files).unwrap();
    let gen_file = files.join("gen.json");
    std::fs::write(
        &gen_file,
        json!({"name": "gen", "config": {"connector.class": "datagen-source", "topic": "ctl-gen", "records.per.second": 50}}).to_string(),
    )
    .unwrap();

    let empty = ok(url, &["list"]);
    assert_eq!(empty.stdout, "NAME  TYPE  STATE  TASKS  WORKER  RATE\n");
    assert_eq!(ok(url, &["create", "-f", gen_file.to_str().unwrap()]).stdout, "connector gen created\n");
    eventually("gen runs", || state_of(url, "gen") == "RUNNING 1/1");
    // The rate comes from /metrics.
    eventually("gen has a rate", || {
        let listed = ok(url, &["list", "-o", "json", "--rate-window-ms", "1500"]).json();
        listed[0]["records_per_second"].as_f64().is_some_and(|rate| rate > 0.0)
    });
    let table = ok(url, &["list"]).stdout;
    assert!(
        table.lines().nth(1).is_some_and(|l| l.starts_with("gen ")
            && l.contains("source")
            && l.contains("RUNNING")
            && l.contains("1/1")
            && l.ends_with("/s")),
        "{table}"
    );

    let described = ok(url, &["describe", "gen"]).stdout;
    for expected in ["Name:    gen", "Class:   datagen-source", "State:   RUNNING", "records.per.second = 50", "Tasks:", "Offsets:"] {
        assert!(described.contains(expected), "{expected:?} in {described}");
    }
    let yaml = ok(url, &["describe", "gen", "-o", "yaml"]).stdout;
    assert!(yaml.contains("name: gen") && yaml.contains("connector.class: datagen-source"), "{yaml}");

    // apply: a dry run shows the changes and changes nothing; the real one applies them once.
    std::fs::write(
        &gen_file,
        json!({"name": "gen", "config": {"connector.class": "datagen-source", "topic": "ctl-gen", "records.per.second": 80}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        files.join("out.yaml"),
        format!("name: out\nconnector.class: file-sink\ntopics: ctl-gen\nfile: {}\n", dir.join("out.txt").display()),
    )
    .unwrap();
    let dry = ok(url, &["apply", "-f", files.to_str().unwrap(), "--dry-run"]).stdout;
    assert!(dry.contains("connector gen would be updated") && dry.contains("~ records.per.second: 50 -> 80"), "{dry}");
    assert!(dry.contains("connector out would be created") && dry.contains("+ connector.class = file-sink"), "{dry}");
    assert!(ctl(url, &["describe", "out"]).code == 3, "a dry run creates nothing");
    let applied = ok(url, &["apply", "-f", files.to_str().unwrap(), "-o", "json"]).json();
    assert_eq!(applied.as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect::<Vec<_>>(), ["updated", "created"]);
    let again = ok(url, &["apply", "-f", files.to_str().unwrap()]).stdout;
    assert!(again.contains("connector gen unchanged") && again.contains("connector out unchanged"), "{again}");
    eventually("out runs", || state_of(url, "out") == "RUNNING 1/1");

    assert_eq!(ok(url, &["pause", "gen"]).stdout, "connector gen pausing\n");
    eventually("gen is paused", || state_of(url, "gen") == "PAUSED 0/1");
    ok(url, &["resume", "gen"]);
    eventually("gen runs again", || state_of(url, "gen") == "RUNNING 1/1");
    ok(url, &["restart", "gen", "--tasks"]);
    eventually("gen runs after its restart", || state_of(url, "gen") == "RUNNING 1/1");

    // Offsets of a stopped connector: read, reset, set.
    assert_eq!(ok(url, &["stop", "gen"]).stdout, "connector gen stopped\n");
    eventually("gen is stopped", || state_of(url, "gen").starts_with("STOPPED"));
    let offsets = ok(url, &["offsets", "get", "gen", "-o", "json"]).json();
    let partition = offsets["offsets"][0]["partition"].clone();
    assert!(!partition.is_null(), "{offsets}");
    assert!(ok(url, &["offsets", "get", "gen"]).stdout.starts_with("PARTITION"));
    ok(url, &["offsets", "reset", "gen"]);
    assert_eq!(ok(url, &["offsets", "get", "gen", "-o", "json"]).json()["offsets"], json!([]));
    let offsets_file = dir.join("offsets.json");
    std::fs::write(&offsets_file, json!({"offsets": [{"partition": partition, "offset": {"position": 7}}]}).to_string()).unwrap();
    ok(url, &["offsets", "set", "gen", "-f", offsets_file.to_str().unwrap()]);
    assert_eq!(ok(url, &["offsets", "get", "gen", "-o", "json"]).json()["offsets"][0]["offset"], json!({"position": 7}));

    // Plugins and their keys; validation with suggestions.
    let plugins = ok(url, &["plugins"]).stdout;
    assert!(plugins.starts_with("CLASS") && plugins.contains("datagen-source"), "{plugins}");
    let keys = ok(url, &["plugins", "datagen-source"]).stdout;
    assert!(keys.starts_with("KEY") && keys.contains("records.per.second"), "{keys}");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, json!({"name": "bad", "config": {"connector.class": "datagen-source", "topci": "x"}}).to_string()).unwrap();
    let invalid = ctl(url, &["validate", "-f", bad.to_str().unwrap()]);
    assert_eq!(invalid.code, 1, "{}{}", invalid.stdout, invalid.stderr);
    assert!(invalid.stdout.contains("topic") && invalid.stdout.contains("did you mean \"topic\"?"), "{}", invalid.stdout);
    let verdict = ctl(url, &["validate", "-f", bad.to_str().unwrap(), "-o", "json"]).json();
    assert!(verdict["error_count"].as_u64().unwrap() >= 1, "{verdict}");
    assert_eq!(ok(url, &["validate", "-f", gen_file.to_str().unwrap()]).stdout, "gen is valid for datagen-source\n");

    // What runs where, and a live view.
    let cluster = ok(url, &["cluster", "-o", "json"]).json();
    assert_eq!(cluster.as_array().unwrap().len(), 1, "{cluster}");
    assert!(cluster[0]["tasks"].as_array().unwrap().contains(&json!("out/0")), "{cluster}");
    let watched = ok(url, &["watch", "out", "--interval-ms", "300", "--count", "2"]).stdout;
    assert_eq!(watched.matches("out  RUNNING").count(), 2, "{watched}");

    // Dead-letter replay: a sink without a dead-letter topic is refused naming the key; one
    // with nothing dead-lettered sends nothing (tests/dlq_replay.rs in connect-rest replays).
    let no_dlq = ctl(url, &["dlq", "replay", "out"]);
    assert_eq!(no_dlq.code, 1, "{}", no_dlq.stderr);
    assert!(no_dlq.stderr.contains("errors.deadletterqueue.topic.name"), "{}", no_dlq.stderr);
    let mut tolerant = ok(url, &["describe", "out", "-o", "json"]).json()["config"].clone();
    tolerant["errors.tolerance"] = json!("all");
    tolerant["errors.deadletterqueue.topic.name"] = json!("ctl-dlq");
    let tolerant_file = dir.join("out-tolerant.json");
    std::fs::write(&tolerant_file, json!({"name": "out", "config": tolerant}).to_string()).unwrap();
    ok(url, &["apply", "-f", tolerant_file.to_str().unwrap()]);
    let dry = ok(url, &["dlq", "replay", "out", "--dry-run"]).stdout;
    assert!(dry.starts_with("would send back 0 records from ctl-dlq"), "{dry}");
    assert_eq!(ok(url, &["dlq", "replay", "out", "-o", "json"]).json()["replayed"], 0);

    // Failures: their exit codes, and messages on standard error.
    let missing = ctl(url, &["describe", "missing"]);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(missing.stderr.starts_with("error: GET /connectors/missing: 404"), "{}", missing.stderr);
    assert_eq!(ctl(url, &["create", "-f", gen_file.to_str().unwrap()]).code, 4, "a second create conflicts");
    assert_eq!(ctl(url, &["create", "-f", "/nonexistent.json"]).code, 2);
    assert_eq!(ctl("http://127.0.0.1:1", &["list"]).code, 6);

    assert_eq!(ok(url, &["delete", "gen"]).stdout, "connector gen deleted\n");
    ok(url, &["delete", "out"]);
    assert_eq!(ok(url, &["list", "-o", "json"]).json(), json!([]));
    drop(worker);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn credentials_are_sent_and_refusals_have_their_exit_code() {
    let dir = temp_dir("auth");
    let users = dir.join("users");
    std::fs::write(&users, "ops:ops-token:admin\nviewer:viewer-pass:read\n").unwrap();
    let (worker, url) = start_worker(&dir, &["--rest-auth-file", users.to_str().unwrap()]);
    let url = url.as_str();
    let anonymous = ctl(url, &["list"]);
    assert_eq!(anonymous.code, 5, "{}", anonymous.stderr);
    assert!(anonymous.stderr.contains("401"), "{}", anonymous.stderr);
    ok(url, &["--token", "ops-token", "list", "--rate-window-ms", "0"]);
    ok(url, &["--user", "viewer:viewer-pass", "plugins"]);
    let file = dir.join("gen.json");
    std::fs::write(&file, json!({"name": "gen", "config": {"connector.class": "datagen-source", "topic": "ctl-auth"}}).to_string())
        .unwrap();
    assert_eq!(ctl(url, &["--user", "viewer:viewer-pass", "create", "-f", file.to_str().unwrap()]).code, 5, "a reader cannot create");
    let from_env = Command::new(env!("CARGO_BIN_EXE_connect-worker"))
        .args(["ctl", "create", "-f", file.to_str().unwrap()])
        .env("CONNECT_URL", url)
        .env("CONNECT_TOKEN", "ops-token")
        .output()
        .unwrap();
    assert!(from_env.status.success(), "{}", String::from_utf8_lossy(&from_env.stderr));
    drop(worker);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shells_get_completions() {
    for shell in ["bash", "zsh", "fish"] {
        let output = Command::new(env!("CARGO_BIN_EXE_connect-worker")).args(["completions", shell]).output().unwrap();
        assert!(output.status.success());
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(script.contains("connect-worker") && script.contains("apply"), "{shell}: {script}");
    }
}
