//! `kill -9` of a worker process mid-stream loses nothing: the restarted worker resumes from
//! the committed offsets (duplicates are allowed, only after the crash).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{http, lines, missing_and_duplicates, temp_dir, wait_until, write_numbered};

const LINES: usize = 60_000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_worker(dir: &std::path::Path, rest_port: u16, connectors: &[std::path::PathBuf], log: &str) -> Child {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_connect-worker"))
        .arg("standalone")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--rest-addr")
        .arg(format!("127.0.0.1:{rest_port}"))
        .args(["--embedded-namesrv-port", "0", "--embedded-broker-port", "0", "--offset-flush-interval-ms", "300"])
        .args(connectors)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start connect-worker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_loses_no_line() {
    let dir = temp_dir("crash");
    let (input, output) = (dir.join("in.txt"), dir.join("out.txt"));
    write_numbered(&input, LINES);
    let source = dir.join("source.json");
    let sink = dir.join("sink.json");
    std::fs::write(&source, serde_json::json!({"name": "in", "config": {"connector.class": "file-source", "file": input, "topic": "crash-lines", "batch.size": "500"}}).to_string()).unwrap();
    std::fs::write(
        &sink,
        serde_json::json!({"name": "out", "config": {"connector.class": "file-sink", "file": output, "topics": "crash-lines"}}).to_string(),
    )
    .unwrap();
    let rest = free_port();

    let mut first = start_worker(&dir, rest, &[source, sink], "first.log");
    let started = wait_until(Duration::from_secs(120), || lines(&output).len() >= LINES / 10).await;
    assert!(started, "the pipeline did not start: {}", std::fs::read_to_string(dir.join("first.log")).unwrap_or_default());
    first.kill().expect("kill -9 the worker");
    first.wait().unwrap();
    let before_crash = lines(&output).len();

    let restarted_at = Instant::now();
    let mut second = start_worker(&dir, rest, &[], "second.log");
    let done = wait_until(Duration::from_secs(180), || {
        let got = lines(&output);
        got.len() >= LINES && missing_and_duplicates(&got, LINES).0 == 0
    })
    .await;
    let got = lines(&output);
    let (missing, duplicates) = missing_and_duplicates(&got, LINES);
    println!(
        "crash test: {before_crash} lines before kill -9, {} after restart ({:?}); {missing} missing, {duplicates} duplicated",
        got.len(),
        restarted_at.elapsed()
    );
    let (status, connectors) = http(format!("127.0.0.1:{rest}").parse().unwrap(), "GET", "/connectors", None);
    let _ = Command::new("kill").arg("-TERM").arg(second.id().to_string()).status();
    let _ = second.wait();
    assert!(done, "lines missing after the restart: {missing} of {LINES}");
    assert_eq!(missing, 0);
    assert_eq!((status, connectors), (200, serde_json::json!(["in", "out"])), "connectors come back from the data dir");
    let _ = std::fs::remove_dir_all(dir);
}
