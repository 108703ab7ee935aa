//! `kill -9` of a worker process at random moments, five times, neither loses nor repeats a
//! line of a file → RocketMQ → file pipeline: the source sends nothing the broker already
//! holds, the sink resumes from the positions it stored beside its file. And `kill -9` of
//! the broker process under a worker: the worker waits for it, says so, and carries on.

mod process;
use connect_testkit as support;

use std::time::{Duration, Instant};

use process::Process;
use support::{KillMoments, http, lines, missing_and_duplicates, temp_dir, wait_until, write_numbered};

const LINES: usize = 60_000;

fn free_port() -> u16 {
    connect_runtime::embedded::free_port().expect("a free port")
}

/// A standalone worker with its data under `dir`, on its embedded broker or on `namesrv`.
fn start_worker(dir: &std::path::Path, rest_port: u16, namesrv: Option<&str>, connectors: &[std::path::PathBuf], log: &str) -> Process {
    let mut args: Vec<std::ffi::OsString> =
        ["standalone", "--rest-addr", &format!("127.0.0.1:{rest_port}"), "--data-dir"].map(Into::into).into();
    args.push(dir.join("data").into());
    match namesrv {
        Some(namesrv) => args.extend(["--namesrv", namesrv].map(Into::into)),
        None => args.extend(["--embedded-namesrv-port", "0", "--embedded-broker-port", "0"].map(Into::into)),
    }
    args.extend(["--offset-flush-interval-ms", "300", "--exactly-once-source-support", "enabled"].map(Into::into));
    args.extend(["--allowed-paths".into(), dir.into()]);
    args.extend(connectors.iter().map(Into::into));
    Process::start(args, &dir.join(log))
}

/// What a pipeline delivered of `total` numbered lines.
struct Delivered {
    /// Every line arrived and the output stopped growing.
    complete: bool,
    got: Vec<String>,
    missing: usize,
    duplicates: usize,
}

/// Waits until all `total` numbered lines are in `output` and whatever was still to come has
/// come (the output stops growing), then counts what is missing and duplicated.
async fn delivered(output: &std::path::Path, total: usize) -> Delivered {
    let done = wait_until(Duration::from_secs(180), || missing_and_duplicates(&lines(output), total).0 == 0).await;
    support::settled(Duration::from_secs(30), Duration::from_secs(2), async || lines(output).len()).await;
    let got = lines(output);
    let (missing, duplicates) = missing_and_duplicates(&got, total);
    Delivered { complete: done, got, missing, duplicates }
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
        let mut worker = start_worker(&dir, rest, None, &connectors, &log);
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
    let mut last = start_worker(&dir, rest, None, &[], "last.log");
    let Delivered { complete, got, missing, duplicates } = delivered(&output, total).await;
    println!(
        "crash test: {KILLS} kills, {total} lines, {} written, {missing} missing, {duplicates} duplicated ({:?} after the last restart)",
        got.len(),
        restarted_at.elapsed()
    );
    let (status, connectors) = http(format!("127.0.0.1:{rest}").parse().unwrap(), "GET", "/connectors", None);
    last.stop();
    assert!(complete, "lines missing after the last restart: {missing} of {total}");
    assert_eq!((missing, duplicates), (0, 0), "seed {seed}: lost and duplicated lines");
    assert_eq!((status, connectors), (200, serde_json::json!(["in", "out"])), "connectors come back from the data dir");
    let _ = std::fs::remove_dir_all(dir);
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The traces of a connector's tasks (`""` for a task without one).
fn task_traces(rest: std::net::SocketAddr, connector: &str) -> Vec<String> {
    let (_, status) = http(rest, "GET", &format!("/connectors/{connector}/status"), None);
    let tasks = status["tasks"].as_array().cloned().unwrap_or_default();
    tasks.iter().map(|t| format!("{} {}", t["state"].as_str().unwrap_or("?"), t["trace"].as_str().unwrap_or(""))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_waits_out_a_killed_broker_and_loses_no_line() {
    const KILLS: usize = 5;
    const FIRST: usize = 20_000;
    const MORE: usize = 5_000;
    let mut moments = KillMoments::new("broker restart test");
    let seed = moments.seed;
    let dir = temp_dir("broker-restart");
    let (input, output) = (dir.join("in.txt"), dir.join("out.txt"));
    write_numbered(&input, FIRST);
    let (namesrv_port, broker_port) = (free_port(), connect_runtime::embedded::free_broker_port().unwrap());
    let store = dir.join("rocketmq");
    let broker_log = |run: usize| dir.join(format!("broker-{run}.log"));
    let start_broker = |run: usize| {
        let ports = ["--namesrv-port", &namesrv_port.to_string(), "--broker-port", &broker_port.to_string()].map(std::ffi::OsString::from);
        let args = ["broker".into(), "--data-dir".into(), store.clone().into_os_string()].into_iter().chain(ports);
        Process::start(args, &broker_log(run))
    };
    let mut broker = start_broker(0);
    let started = wait_until(Duration::from_secs(60), || listening(broker_port)).await;
    assert!(started, "the broker does not start: {}", std::fs::read_to_string(broker_log(0)).unwrap_or_default());

    let source = dir.join("source.json");
    let sink = dir.join("sink.json");
    let config = |name: &str, config: serde_json::Value| serde_json::json!({"name": name, "config": config}).to_string();
    let source_config = serde_json::json!({"connector.class": "file-source", "file": input, "topic": "outage-lines", "batch.size": "500"});
    std::fs::write(&source, config("in", source_config)).unwrap();
    std::fs::write(&sink, config("out", serde_json::json!({"connector.class": "file-sink", "file": output, "topics": "outage-lines"})))
        .unwrap();
    let rest_port = free_port();
    let rest: std::net::SocketAddr = format!("127.0.0.1:{rest_port}").parse().unwrap();
    let namesrv = format!("127.0.0.1:{namesrv_port}");
    let mut worker = start_worker(&dir, rest_port, Some(&namesrv), &[source, sink], "worker.log");
    let worker_log = || std::fs::read_to_string(dir.join("worker.log")).unwrap_or_default();

    let mut total = FIRST;
    let mut statuses = None;
    let mut recoveries = Vec::new();
    for kill in 0..KILLS {
        // The broker and its name server die mid-flow, at a random moment; more lines arrive
        // while they are away.
        let at_start = lines(&output).len();
        let moving = wait_until(Duration::from_secs(120), || lines(&output).len() > at_start).await;
        assert!(moving, "kill {kill}: the pipeline does not move: {}", worker_log());
        let delay = moments.below(1_500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        broker.kill();
        let killed_at = Instant::now();
        append_numbered(&input, total, MORE);
        total += MORE;
        if kill == 0 {
            let waiting =
                |connector: &str| task_traces(rest, connector).iter().all(|t| t.starts_with("RUNNING waiting for RocketMQ since "));
            let said = wait_until(Duration::from_secs(60), || waiting("in") && waiting("out")).await;
            let seen = (task_traces(rest, "in"), task_traces(rest, "out"));
            assert!(said, "while the broker is away the tasks run and say they wait: {seen:?}\n{}", worker_log());
            statuses = Some(seen);
        }
        let away = Duration::from_millis(500 + moments.below(4_000));
        tokio::time::sleep(away.saturating_sub(killed_at.elapsed())).await;
        broker = start_broker(kill + 1);
        let restarted = wait_until(Duration::from_secs(60), || listening(broker_port)).await;
        assert!(restarted, "the broker does not restart: {}", std::fs::read_to_string(broker_log(kill + 1)).unwrap_or_default());
        let restarted_at = Instant::now();
        let written = lines(&output).len();
        let resumed = wait_until(Duration::from_secs(120), || lines(&output).len() > written).await;
        assert!(resumed, "kill {kill}: the pipeline does not resume: {}", worker_log());
        recoveries.push(restarted_at.elapsed());
        println!("broker kill {kill}: {delay} ms after the output moved, away {:?}, {written} lines written", restarted_at - killed_at);
    }
    let Delivered { complete, got, missing, duplicates } = delivered(&output, total).await;
    let after = (task_traces(rest, "in"), task_traces(rest, "out"));
    let (_, metrics) = support::http_text(rest, "GET", "/metrics", None);
    let outages: Vec<&str> = metrics.lines().filter(|l| l.starts_with("connect_task_broker_outages_total{")).collect();
    println!(
        "broker restart test: {KILLS} kills, {total} lines, {} written, {missing} missing, {duplicates} duplicated; \
         the output moved again {recoveries:?} after each restart; statuses while away {statuses:?}; {outages:?}",
        got.len(),
    );
    worker.stop();
    broker.stop();
    assert!(complete, "lines missing after the broker came back: {missing} of {total}\n{}", worker_log());
    assert_eq!((missing, duplicates), (0, 0), "seed {seed}: lost and duplicated lines");
    let running = vec!["RUNNING ".to_owned()];
    assert_eq!(after, (running.clone(), running), "the tasks run again and no longer wait");
    assert!(outages.len() == 2 && outages.iter().all(|l| !l.ends_with(" 0")), "each task counted its waits: {outages:?}");
    let _ = std::fs::remove_dir_all(dir);
}
