//! Shared helpers of the runtime's integration tests: a worker on an embedded broker with free
//! ports and a temporary data directory, a minimal HTTP client, and polling.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use connect_datagen as _;
use connect_file as _;
use connect_runtime::RunnerSettings;
use connect_runtime::Worker;
use serde_json::Value as Json;

/// A fresh directory under the system temp dir, unique per test and process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-rt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

/// Task settings that commit often, so tests see results quickly.
pub fn fast_settings() -> RunnerSettings {
    RunnerSettings { offset_flush_interval: Duration::from_millis(500), ..RunnerSettings::default() }
}

/// A worker on an embedded broker (free ports) with its REST API on a free port.
pub struct TestWorker {
    pub worker: Worker,
    pub rest: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestWorker {
    pub async fn start(data_dir: &std::path::Path) -> TestWorker {
        TestWorker::start_with(data_dir, fast_settings()).await
    }

    /// A worker with these task settings.
    pub async fn start_with(data_dir: &std::path::Path, settings: RunnerSettings) -> TestWorker {
        if let Ok(filter) = std::env::var("RUST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
        // The test's directory holds its input and output files beside the data directory.
        let files = data_dir.parent().unwrap_or(data_dir).to_path_buf();
        std::fs::create_dir_all(&files).expect("create the test's directory");
        let worker = Worker::builder()
            .standalone(data_dir)
            .embedded(0, 0)
            .worker_id("test-worker:1")
            .settings(settings)
            .allowed_paths(connect_runtime::AllowedPaths::under(&[files]).expect("the test's directory exists"))
            .config_providers(connect_runtime::ConfigProviders::none().with_env().with_file())
            .build()
            .await
            .expect("worker starts");
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(connect_runtime::rest::serve(worker.clone(), "127.0.0.1:0".parse().unwrap(), bound_tx, async move {
            let _ = stop_rx.await;
        }));
        let rest = bound_rx.await.expect("REST API binds");
        TestWorker { worker, rest, stop: Some(stop), server: Some(server) }
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.worker.clone().shutdown().await;
    }

    /// Calls the REST API; returns the status code and the JSON body (Null when empty).
    pub fn call(&self, method: &str, path: &str, body: Option<&Json>) -> (u16, Json) {
        http(self.rest, method, path, body.map(|b| b.to_string()).as_deref())
    }

    /// The value of a metric line `name{connector="c",task="t"}`.
    pub fn metric(&self, name: &str, connector: &str, task: u32) -> f64 {
        let (_, text) = http_text(self.rest, "GET", "/metrics", None);
        let prefix = format!("{name}{{connector=\"{connector}\",task=\"{task}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
    }
}

/// One HTTP/1.1 request with `Connection: close`.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, Json) {
    let (status, text) = http_text(addr, method, path, body);
    (status, if text.trim().is_empty() { Json::Null } else { serde_json::from_str(&text).unwrap_or(Json::String(text)) })
}

/// Like [`http`], returning the body as text.
pub fn http_text(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the REST API");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    (status, if chunked { dechunk(rest) } else { rest.to_owned() })
}

/// The status code of a request written as is (`request` holds the request line and headers,
/// the blank line and the body).
pub fn raw_status(addr: SocketAddr, request: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect to the REST API");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `check` until it holds or `timeout` passes; returns whether it held.
pub async fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check()
}

/// Lines of a file (empty when it does not exist yet).
pub fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect()
}

/// Writes `count` numbered lines `line-<i>`.
pub fn write_numbered(path: &std::path::Path, count: usize) {
    let text: String = (0..count).map(|i| format!("line-{i}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// How many of the `count` numbered lines are missing from `got`, and how many are duplicated.
pub fn missing_and_duplicates(got: &[String], count: usize) -> (usize, usize) {
    let mut seen = vec![0u32; count];
    for line in got {
        if let Some(i) = line.strip_prefix("line-").and_then(|n| n.parse::<usize>().ok()).filter(|i| *i < count) {
            seen[i] += 1;
        }
    }
    (seen.iter().filter(|&&n| n == 0).count(), seen.iter().map(|&n| n.saturating_sub(1) as usize).sum())
}

/// Random moments a kill test picks, repeatable: seeded from `CRASH_SEED` when set, else from
/// the clock; the test prints its seed so a failing run can be repeated.
pub struct KillMoments {
    /// The seed, to print.
    pub seed: u64,
    state: u64,
}

impl KillMoments {
    /// Seeded from `CRASH_SEED` or the clock; prints the seed under `label`.
    pub fn new(label: &str) -> KillMoments {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1);
        println!("{label} seed: {seed} (CRASH_SEED={seed} repeats these kill moments)");
        KillMoments { seed, state: seed }
    }

    /// The next number below `below` (xorshift).
    pub fn below(&mut self, below: u64) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state % below.max(1)
    }
}
