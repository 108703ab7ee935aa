//! The `connect-worker` binary as an operator runs it: time from start to a REST API that
//! answers, and resident memory idle and with 1, 10 and 100 tasks.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use connect_runtime::embedded::free_port;
use serde_json::json;

use crate::support::http;

/// What was measured of the worker processes.
#[derive(Debug)]
pub struct Processes {
    /// Start to REST ready, on an external broker.
    pub startup_external: Duration,
    /// Start to REST ready, starting the embedded name server and broker too.
    pub startup_embedded: Duration,
    /// Resident memory of the idle worker with the embedded broker, KiB.
    pub rss_embedded_idle: u64,
    /// Resident memory of the idle worker on an external broker, KiB.
    pub rss_idle: u64,
    /// (tasks, resident memory in KiB) on an external broker.
    pub rss_with_tasks: Vec<(usize, u64)>,
}

/// A child process whose CPU time and memory are read, killed when dropped.
pub struct Measured {
    child: Child,
}

impl Drop for Measured {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Measured {
    /// Measures `child` (and kills it when dropped).
    pub fn new(child: Child) -> Measured {
        Measured { child }
    }

    /// CPU time the process used so far (user and system), in seconds.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The fields after the command name (in parentheses, which may hold spaces): utime and
        // stime are the 12th and 13th of them, in clock ticks (100 a second on Linux).
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).ok_or_else(|| anyhow::anyhow!("no /proc stat"))?;
        let fields: Vec<u64> = after.split_whitespace().skip(11).take(2).filter_map(|f| f.parse().ok()).collect();
        anyhow::ensure!(fields.len() == 2, "no CPU times in /proc stat");
        Ok((fields[0] + fields[1]) as f64 / 100.0)
    }

    /// Resident set size in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no VmRSS"))
    }
}

/// A worker process, killed when dropped.
pub struct WorkerProcess {
    /// The process.
    pub process: Measured,
    /// Its REST listener.
    pub rest: SocketAddr,
}

impl WorkerProcess {
    /// Starts `connect-worker standalone` with `args`; returns it with the time its REST API took to answer.
    fn start(data_dir: &Path, args: &[String]) -> anyhow::Result<(WorkerProcess, Duration)> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_connect-worker"));
        command.env("RUST_LOG", "error").stderr(Stdio::null());
        WorkerProcess::spawn(command, data_dir, args)
    }

    /// Like [`start`](Self::start), at the worker's default log level, its log written to `log`.
    pub fn start_logging(data_dir: &Path, args: &[String], log: &Path) -> anyhow::Result<(WorkerProcess, Duration)> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_connect-worker"));
        command.env_remove("RUST_LOG").stderr(std::fs::File::create(log)?);
        WorkerProcess::spawn(command, data_dir, args)
    }

    /// A member of cluster `cluster` on the name server `namesrv`, at the worker's default log
    /// level, its log written to `log`.
    pub fn start_member(data_dir: &Path, cluster: &str, namesrv: &str, log: &Path) -> anyhow::Result<(WorkerProcess, Duration)> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_connect-worker"));
        command.env_remove("RUST_LOG").stderr(std::fs::File::create(log)?);
        let args = ["--cluster-name", cluster, "--namesrv", namesrv].map(str::to_owned);
        WorkerProcess::spawn_mode(command, "cluster", data_dir, &args)
    }

    fn spawn(command: Command, data_dir: &Path, args: &[String]) -> anyhow::Result<(WorkerProcess, Duration)> {
        WorkerProcess::spawn_mode(command, "standalone", data_dir, args)
    }

    fn spawn_mode(mut command: Command, mode: &str, data_dir: &Path, args: &[String]) -> anyhow::Result<(WorkerProcess, Duration)> {
        let rest: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let started = Instant::now();
        let child = command
            .arg(mode)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--rest-addr")
            .arg(rest.to_string())
            .args(args)
            .stdout(Stdio::null())
            .spawn()?;
        let mut process = WorkerProcess { process: Measured::new(child), rest };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if crate::support::try_http_text(rest, "GET", "/connectors", None).is_ok_and(|(status, _)| status == 200) {
                return Ok((process, started.elapsed()));
            }
            anyhow::ensure!(process.process.child.try_wait()?.is_none(), "the worker exited during start-up");
            anyhow::ensure!(Instant::now() < deadline, "the worker's REST API did not answer");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Creates a connector through the REST API.
    pub fn create(&self, name: &str, config: serde_json::Value) -> anyhow::Result<()> {
        let body = json!({"name": name, "config": config}).to_string();
        let (status, answer) = http(self.rest, "POST", "/connectors", Some(&body));
        anyhow::ensure!(status == 201, "creating {name}: {status} {answer}");
        Ok(())
    }

    /// Waits until the worker reports `tasks` running tasks.
    fn wait_running(&self, names: &[&str], tasks: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let running: usize = names
                .iter()
                .map(|name| {
                    let (_, status) = http(self.rest, "GET", &format!("/connectors/{name}/status"), None);
                    status["tasks"].as_array().map_or(0, |t| t.iter().filter(|t| t["state"] == "RUNNING").count())
                })
                .sum();
            if running >= tasks {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "{running} of {tasks} tasks running");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// How long a worker is left alone before its memory is read.
const SETTLE: Duration = Duration::from_secs(3);

/// Start-up times and memory, each worker a fresh process; `namesrv` is a running name server.
pub async fn measure(namesrv: &str, dir: &Path, task_counts: &[usize]) -> anyhow::Result<Processes> {
    let external = vec!["--namesrv".to_owned(), namesrv.to_owned()];
    let (worker, startup_external) = WorkerProcess::start(&dir.join("idle"), &external)?;
    tokio::time::sleep(SETTLE).await;
    let rss_idle = worker.process.rss_kib()?;
    drop(worker);

    let embedded = ["--embedded-namesrv-port", "0", "--embedded-broker-port", "0"].map(str::to_owned).to_vec();
    let (worker, startup_embedded) = WorkerProcess::start(&dir.join("embedded"), &embedded)?;
    tokio::time::sleep(SETTLE).await;
    let rss_embedded_idle = worker.process.rss_kib()?;
    drop(worker);

    let mut rss_with_tasks = Vec::new();
    for &tasks in task_counts {
        let (worker, _) = WorkerProcess::start(&dir.join(format!("tasks-{tasks}")), &external)?;
        // Half sources, half sinks (one source for a single task); each source 100 records/s of 512 B.
        let sources = tasks.div_ceil(2);
        let sinks = tasks - sources;
        let topic = format!("bench-process-{tasks}");
        worker.create(
            "load",
            json!({"connector.class": "datagen-source", "topic": topic, "tasks.max": sources, "records.per.second": 100, "payload.bytes": 512}),
        )?;
        let mut names = vec!["load"];
        if sinks > 0 {
            worker.create("drain", json!({"connector.class": "log-sink", "topics": topic, "tasks.max": sinks, "quiet": true}))?;
            names.push("drain");
        }
        worker.wait_running(&names, tasks)?;
        tokio::time::sleep(SETTLE).await;
        rss_with_tasks.push((tasks, worker.process.rss_kib()?));
    }
    Ok(Processes { startup_external, startup_embedded, rss_embedded_idle, rss_idle, rss_with_tasks })
}
