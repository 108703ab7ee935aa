//! Many slow tasks on a cluster: `workers` worker processes of one cluster on the benchmark's
//! broker, `connectors` datagen connectors of `tasks` tasks each at 1 record/s. How long until
//! all run, what each worker then costs (CPU of one core, resident memory, tasks), how fast the
//! status of all is answered, how long a joining and a leaving (killed) worker take to settle
//! and how many tasks move, and how many running tasks stop or move when one connector is
//! created or deleted (the answer wanted is 0).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::processes::WorkerProcess;
use crate::support::http;

/// What was measured of a cluster running many slow tasks.
#[derive(Debug)]
pub struct ClusterTasks {
    pub workers: usize,
    pub connectors: usize,
    pub tasks: usize,
    /// First create to every task RUNNING.
    pub all_running: Duration,
    pub window: Duration,
    /// Per worker: CPU over the window (1.0 = one core), resident memory (KiB), tasks it runs.
    pub per_worker: Vec<(f64, u64, usize)>,
    /// p50 and p99 of `GET /connectors?expand=status` on one worker.
    pub status_p50: Duration,
    pub status_p99: Duration,
    /// A worker joins: time until the placement settles, tasks moved, tasks the joiner runs.
    pub join: (Duration, usize, usize),
    /// A worker is killed: time until every task runs again, tasks moved.
    pub leave: (Duration, usize),
    /// Running tasks of other connectors that stopped or moved while one connector was
    /// created, and while one was deleted.
    pub stopped_on_create: usize,
    pub stopped_on_delete: usize,
}

/// Where each task runs (`connector/task` → worker id) and whether it is RUNNING.
type Placement = BTreeMap<String, (String, bool)>;

fn placement(rest: std::net::SocketAddr) -> Placement {
    let (_, all) = http(rest, "GET", "/connectors?expand=status", None);
    let mut placement = Placement::new();
    for (name, connector) in all.as_object().into_iter().flatten() {
        for task in connector["status"]["tasks"].as_array().into_iter().flatten() {
            let worker = task["worker_id"].as_str().unwrap_or_default().to_owned();
            placement.insert(format!("{name}/{}", task["id"]), (worker, task["state"] == "RUNNING"));
        }
    }
    placement
}

fn running(placement: &Placement) -> usize {
    placement.values().filter(|(_, running)| *running).count()
}

/// Tasks of `before` that run elsewhere, or not at all, in `after`.
fn moved(before: &Placement, after: &Placement) -> usize {
    before.iter().filter(|(task, (worker, _))| after.get(*task).is_none_or(|(now, running)| now != worker || !running)).count()
}

/// Polls the placement until it stays the same for `quiet` with `total` tasks running; returns
/// when it settled (from `since`) and the placement.
async fn settle(rest: std::net::SocketAddr, total: usize, quiet: Duration, since: Instant) -> anyhow::Result<(Duration, Placement)> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let (mut last, mut last_change) = (placement(rest), Instant::now());
    let mut settled_at = since.elapsed();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = placement(rest);
        if now != last {
            (last, last_change, settled_at) = (now, Instant::now(), since.elapsed());
        } else if running(&last) == total && last_change.elapsed() >= quiet {
            return Ok((settled_at, last));
        }
        anyhow::ensure!(Instant::now() < deadline, "{} of {total} tasks running after 5 minutes", running(&last));
    }
}

/// Tasks of `before` seen stopped or elsewhere at any sample over `watch`.
async fn disturbed(rest: std::net::SocketAddr, before: &Placement, watch: Duration) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    let until = Instant::now() + watch;
    while Instant::now() < until {
        let now = placement(rest);
        for (task, (worker, _)) in before {
            if now.get(task).is_none_or(|(w, running)| w != worker || !running) {
                seen.insert(task.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen.len()
}

fn datagen(topic: &str, tasks: usize) -> serde_json::Value {
    json!({"connector.class": "datagen-source", "topic": topic, "tasks.max": tasks, "records.per.second": 1, "payload.bytes": 100})
}

/// Runs the scenario on the broker at `namesrv`.
pub async fn measure(
    namesrv: &str,
    dir: &Path,
    workers: usize,
    connectors: usize,
    tasks: usize,
    window: Duration,
) -> anyhow::Result<ClusterTasks> {
    std::fs::create_dir_all(dir)?;
    let run = std::process::id();
    let cluster = format!("bench-cluster-{run}");
    let start =
        |i: usize| WorkerProcess::start_member(&dir.join(format!("data-{i}")), &cluster, namesrv, &dir.join(format!("worker-{i}.log")));
    let mut members: Vec<WorkerProcess> = Vec::new();
    for i in 0..workers {
        members.push(start(i)?.0);
    }
    let rest = members[0].rest;
    let started = Instant::now();
    for c in 0..connectors {
        members[c % workers].create(&format!("many-{c}"), datagen(&format!("bench-cluster-{run}-{}", c % 20), tasks))?;
    }
    let total = connectors * tasks;
    let (all_running, settled) = settle(rest, total, Duration::from_secs(3), started).await?;

    let before: Vec<f64> = members.iter().map(|m| m.process.cpu_seconds()).collect::<anyhow::Result<_>>()?;
    let at = Instant::now();
    tokio::time::sleep(window).await;
    let window = at.elapsed();
    let ids: Vec<String> = members.iter().map(|m| format!("127.0.0.1:{}", m.rest.port())).collect();
    let mut per_worker = Vec::new();
    for (member, (cpu_before, id)) in members.iter().zip(before.iter().zip(&ids)) {
        let cpu = (member.process.cpu_seconds()? - cpu_before) / window.as_secs_f64();
        let tasks_here = settled.values().filter(|(w, _)| w == id).count();
        per_worker.push((cpu, member.process.rss_kib()?, tasks_here));
    }
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let at = Instant::now();
            let _ = http(rest, "GET", "/connectors?expand=status", None);
            at.elapsed()
        })
        .collect();
    times.sort();

    // One connector created, then deleted: what happens to the tasks already running.
    let before_create = placement(rest);
    members[1 % workers].create("extra", datagen(&format!("bench-cluster-{run}-extra"), tasks))?;
    let stopped_on_create = disturbed(rest, &before_create, Duration::from_secs(10)).await;
    let before_delete: Placement = placement(rest).into_iter().filter(|(task, _)| !task.starts_with("extra/")).collect();
    http(rest, "DELETE", "/connectors/extra", None);
    let stopped_on_delete = disturbed(rest, &before_delete, Duration::from_secs(10)).await;

    // A worker joins.
    let before_join = placement(rest);
    let joined_at = Instant::now();
    members.push(start(workers)?.0);
    let joiner = format!("127.0.0.1:{}", members[workers].rest.port());
    let (join_time, after_join) = settle(rest, total, Duration::from_secs(5), joined_at).await?;
    let join = (join_time, moved(&before_join, &after_join), after_join.values().filter(|(w, _)| *w == joiner).count());

    // A worker is killed (its connections close; the others take its tasks over).
    let victim = members.remove(workers - 1);
    let left_at = Instant::now();
    drop(victim);
    let (leave_time, after_leave) = settle(rest, total, Duration::from_secs(5), left_at).await?;
    let leave = (leave_time, moved(&after_join, &after_leave));
    drop(members);

    Ok(ClusterTasks {
        workers,
        connectors,
        tasks: total,
        all_running,
        window,
        per_worker,
        status_p50: times[times.len() / 2],
        status_p99: times[times.len() * 99 / 100],
        join,
        leave,
        stopped_on_create,
        stopped_on_delete,
    })
}
