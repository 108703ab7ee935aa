//! `kill -9` of a worker process at random moments, five times, neither loses nor repeats a
//! line of a file → RocketMQ → file pipeline: the source sends nothing the broker already
//! holds, the sink resumes from the positions it stored beside its file.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{KillMoments, http, lines, missing_and_duplicates, temp_dir, wait_until, write_numbered};

const LINES: usize = 60_000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A worker process, killed when dropped (also when the test fails).
struct WorkerProcess(Child);

impl WorkerProcess {
    /// `kill -9`.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start_worker(dir: &std::path::Path, rest_port: u16, connectors: &[std::path::PathBuf], log: &str) -> WorkerProcess {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_connect-worker"))
        .arg("standalone")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--rest-addr")
        .arg(format!("127.0.0.1:{rest_port}"))
        .args(["--embedded-namesrv-port", "0", "--embedded-broker-port", "0", "--offset-flush-interval-ms", "300"])
        .args(["--exactly-once-source-support", "enabled"])
        .args(connectors)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(WorkerProcess)
        .expect("start connect-worker")
}

fn append_numbered(path: &std::path::Path, from: usize, count: usize) {
    use std::io::Write;
    let text: String = (from..from + count).map(|i| format!("line-{i}\n")).collect();
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_repeats_no_line_and_loses_none() {
    const KILLS: usize = 5;
    const MORE: usize = 10_000;
    let mut moments = KillMoments::new("crash test");
    let seed = moments.seed;
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
    let mut total = LINES;
    for kill in 0..KILLS {
        let connectors = if kill == 0 { vec![source.clone(), sink.clone()] } else { Vec::new() };
        let log = format!("run-{kill}.log");
        let mut worker = start_worker(&dir, rest, &connectors, &log);
        // More lines arrive while the worker runs, so the source is busy when it is killed.
        append_numbered(&input, total, MORE);
        total += MORE;
        let at_start = lines(&output).len();
        let moving = wait_until(Duration::from_secs(120), || lines(&output).len() > at_start).await;
        assert!(moving, "run {kill}: the pipeline did not move: {}", std::fs::read_to_string(dir.join(&log)).unwrap_or_default());
        let delay = moments.below(2_000);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        worker.kill();
        println!("kill {kill}: {delay} ms after the output moved, {} lines written", lines(&output).len());
    }

    let restarted_at = Instant::now();
    let mut last = start_worker(&dir, rest, &[], "last.log");
    let done = wait_until(Duration::from_secs(180), || missing_and_duplicates(&lines(&output), total).0 == 0).await;
    // Whatever was still to come has come: the sink put everything it read.
    let settled = wait_until(Duration::from_secs(30), || {
        let before = lines(&output).len();
        std::thread::sleep(Duration::from_secs(2));
        lines(&output).len() == before
    })
    .await;
    let got = lines(&output);
    let (missing, duplicates) = missing_and_duplicates(&got, total);
    println!(
        "crash test: {KILLS} kills, {total} lines, {} written, {missing} missing, {duplicates} duplicated ({:?} after the last restart)",
        got.len(),
        restarted_at.elapsed()
    );
    let (status, connectors) = http(format!("127.0.0.1:{rest}").parse().unwrap(), "GET", "/connectors", None);
    let _ = Command::new("kill").arg("-TERM").arg(last.0.id().to_string()).status();
    let _ = last.0.wait();
    assert!(done && settled, "lines missing after the last restart: {missing} of {total}");
    assert_eq!((missing, duplicates), (0, 0), "seed {seed}: lost and duplicated lines");
    assert_eq!((status, connectors), (200, serde_json::json!(["in", "out"])), "connectors come back from the data dir");
    let _ = std::fs::remove_dir_all(dir);
}
