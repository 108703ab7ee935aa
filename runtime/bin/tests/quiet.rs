//! A healthy worker logs no WARN and no ERROR line at its default levels: a standalone
//! worker on its embedded broker runs a file pipeline, gets connectors created (their topics
//! new) and deleted, lives through the embedded name server's 30-second cycles, and stops
//! cleanly; an operator alerting on WARN or ERROR lines is paged by none of it.

mod process;
use connect_testkit as support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use process::{Process, curl, temp_dir};
use serde_json::json;
use support::{alarms, lines, wait_until, write_numbered};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_worker_logs_no_warning_and_no_error() {
    let dir = temp_dir("quiet");
    let (input, output, generated) = (dir.join("in.txt"), dir.join("out.txt"), dir.join("generated.txt"));
    write_numbered(&input, 100);
    let tag = std::process::id();
    let source = dir.join("source.json");
    let sink = dir.join("sink.json");
    let lines_topic = format!("quiet-lines-{tag}");
    std::fs::write(
        &source,
        json!({"name": "in", "config": {"connector.class": "file-source", "file": input, "topic": lines_topic}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        &sink,
        json!({"name": "out", "config": {"connector.class": "file-sink", "file": output, "topics": lines_topic}}).to_string(),
    )
    .unwrap();
    let port = connect_runtime::embedded::free_port().unwrap();
    let log = dir.join("worker.log");
    let started = Instant::now();
    let mut worker = Process(
        Command::new(env!("CARGO_BIN_EXE_connect-worker"))
            .args([
                "standalone",
                "--rest-addr",
                &format!("127.0.0.1:{port}"),
                "--embedded-namesrv-port",
                "0",
                "--embedded-broker-port",
                "0",
            ])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--allowed-paths")
            .arg(&dir)
            .args([&source, &sink])
            // The default levels are what is under test.
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start connect-worker"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(120), || lines(&output).len() == 100).await,
        "the file pipeline did not deliver:\n{}",
        log_text()
    );

    // Connectors created on the running worker, writing topics that do not exist yet.
    let topics: Vec<String> = (0..3).map(|i| format!("quiet-generated-{tag}-{i}")).collect();
    for (i, topic) in topics.iter().enumerate() {
        let config = json!({"connector.class": "datagen-source", "topic": topic, "records.per.second": "5", "tasks.max": "2"});
        let answer = curl(
            None,
            &["-X", "PUT", "-H", "content-type: application/json", "-d", &config.to_string()],
            &format!("{base}/connectors/gen-{i}/config"),
        );
        assert_eq!(answer.status, 201, "{:?}", answer.body);
    }
    let sink_config = json!({"connector.class": "file-sink", "file": generated, "topics": topics.join(",")});
    let answer = curl(
        None,
        &["-X", "PUT", "-H", "content-type: application/json", "-d", &sink_config.to_string()],
        &format!("{base}/connectors/gathered/config"),
    );
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert!(
        wait_until(Duration::from_secs(60), || lines(&generated).len() >= 30).await,
        "the generated records did not arrive:\n{}",
        log_text()
    );
    let answer = curl(None, &["-X", "DELETE"], &format!("{base}/connectors/gen-0"));
    assert_eq!(answer.status, 204, "{:?}", answer.body);

    // Past the embedded name server's 30-second cycles (its clients' reconnects among them).
    let lived = Duration::from_secs(40);
    tokio::time::sleep(lived.saturating_sub(started.elapsed())).await;
    worker.stop();
    let text = log_text();
    assert!(text.contains("stopped"), "the worker did not stop cleanly:\n{text}");
    let alarms = alarms(&text);
    assert!(alarms.is_empty(), "{} WARN/ERROR lines from a healthy worker:\n{}", alarms.len(), alarms.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
