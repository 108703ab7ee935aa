//! What the workspace's integration tests share (a dev-dependency only): temporary
//! directories, a minimal HTTP/1.1 client, waiting on a condition without a fixed sleep,
//! numbered lines and the count of what is missing or repeated, and repeatable random kill
//! moments. It knows nothing of the worker: tests start theirs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// A fresh directory under the system temp dir, unique per test and process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-rt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

/// One HTTP/1.1 request with `Connection: close`.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, Json) {
    let (status, text) = http_text(addr, method, path, body);
    (status, if text.trim().is_empty() { Json::Null } else { serde_json::from_str(&text).unwrap_or(Json::String(text)) })
}

/// Like [`http`], returning the body as text.
pub fn http_text(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    try_http_text(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"))
}

/// Like [`http_text`], with a failed connection as an error (a process that is starting or
/// stopping may close one it accepted).
pub fn try_http_text(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    Ok((status, if chunked { dechunk(rest) } else { rest.to_owned() }))
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

/// Waits until `measure` gives the same value for `quiet` (or `timeout` passes) and returns
/// that value: "whatever was still on its way has landed", before a test counts duplicates.
pub async fn settled<T: PartialEq>(timeout: Duration, quiet: Duration, mut measure: impl AsyncFnMut() -> T) -> T {
    let deadline = Instant::now() + timeout;
    let mut last = measure().await;
    let mut since = Instant::now();
    while Instant::now() < deadline && since.elapsed() < quiet {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = measure().await;
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    last
}

/// Whether `check` holds at every look for the whole `window` (false at the first look it
/// fails): a property over time, such as "nothing more arrives" or "the worker stays up".
pub async fn holds_for(window: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + window;
    while Instant::now() < end {
        if !check() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check()
}

/// [`holds_for`] for tests without a runtime: looks every 100 ms from this thread.
pub fn holds_for_blocking(window: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + window;
    while Instant::now() < end {
        if !check() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

/// Lines of a file (empty when it does not exist yet).
pub fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect()
}

/// The WARN and ERROR lines of a worker's text log (the level is a line's second field).
///
/// ```
/// let log = "2026-12-07T10:00:00Z  INFO connect: the word WARN in a message\n2026-12-07T10:00:01Z  WARN x: a warning";
/// assert_eq!(connect_testkit::alarms(log), ["2026-12-07T10:00:01Z  WARN x: a warning"]);
/// ```
pub fn alarms(log: &str) -> Vec<&str> {
    log.lines().filter(|line| matches!(line.split_whitespace().nth(1), Some("WARN" | "ERROR"))).collect()
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
