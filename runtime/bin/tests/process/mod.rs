//! A `connect-worker` process for the binary's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// A `connect-worker` process, killed when dropped (also when the test fails).
pub struct Process(pub Child);

impl Process {
    /// Runs `connect-worker` with `args`, its standard error into `log`.
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>, log: &std::path::Path) -> Process {
        let log = std::fs::File::create(log).unwrap();
        Command::new(env!("CARGO_BIN_EXE_connect-worker"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map(Process)
            .expect("start connect-worker")
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM, and waits for the exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh directory for one test of this process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-sec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What `curl` got: the status (0 when no HTTP answer came), the headers and the body.
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: Json,
}

/// `curl` with `args` to `url`, trusting `ca` when given.
pub fn curl(ca: Option<&Path>, args: &[&str], url: &str) -> Answer {
    let mut command = Command::new("curl");
    command.args(["-s", "-S", "--max-time", "60", "-D", "-", "-o", "-", "-w", "\n%{http_code}"]);
    if let Some(ca) = ca {
        command.arg("--cacert").arg(ca);
    }
    let output = command.args(args).arg(url).output().expect("curl runs (install curl)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (rest, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    // The last header block (a 100 Continue may come first).
    let (headers, body) = rest.rsplit_once("\r\n\r\n").unwrap_or((rest, ""));
    let body = if body.trim().is_empty() { Json::Null } else { serde_json::from_str(body).unwrap_or(Json::String(body.to_owned())) };
    Answer { status: status.trim().parse().unwrap_or(0), headers: headers.to_ascii_lowercase(), body }
}

/// A self-signed certificate for `localhost` and its key, as PEM files in `dir`.
pub fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("rest.crt"), dir.join("rest.key"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// A standalone worker on free ports with its data in `dir/data` and `more` arguments, once
/// its `/health` answers 200 (over HTTPS with `ca`); the process and its API's base URL.
pub fn start_standalone(dir: &Path, more: &[&std::ffi::OsStr], ca: Option<&Path>) -> (Process, String) {
    start_standalone_with(None, dir, more, ca)
}

/// [`start_standalone`], under `prlimit --data=<cap>` (in bytes: prlimit misreads `2G`) when a
/// cap is given.
pub fn start_standalone_with(cap: Option<&str>, dir: &Path, more: &[&std::ffi::OsStr], ca: Option<&Path>) -> (Process, String) {
    let port = connect_runtime::embedded::free_port().unwrap();
    let mut command = match cap {
        Some(cap) => {
            let mut capped = Command::new("prlimit");
            capped.arg(format!("--data={cap}")).arg("--").arg(env!("CARGO_BIN_EXE_connect-worker"));
            capped
        }
        None => Command::new(env!("CARGO_BIN_EXE_connect-worker")),
    };
    command
        .args(["standalone", "--rest-addr", &format!("127.0.0.1:{port}"), "--embedded-namesrv-port", "0", "--embedded-broker-port", "0"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(more);
    let log = dir.join("worker.log");
    let child = command.stdout(Stdio::null()).stderr(std::fs::File::create(&log).unwrap()).spawn().expect("start connect-worker");
    let worker = Process(child);
    let scheme = if ca.is_some() { "https://localhost" } else { "http://127.0.0.1" };
    let base = format!("{scheme}:{port}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while curl(ca, &[], &format!("{base}/health")).status != 200 {
        assert!(Instant::now() < deadline, "no healthy answer: {}", std::fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(200));
    }
    (worker, base)
}
