//! One connector cannot sink the worker: connector code that blocks every thread of the
//! worker's runtime does not take the REST API with it (the API answers, and says the worker is
//! unhealthy, while the tasks block; the watchdog names the calls in the log), and a task that
//! allocates without bound is failed at the worker's `--memory-limit` while the others run on,
//! a limit judged on the heap the worker holds (not on reservations of its RocketMQ client).

mod fixture;

use std::time::{Duration, Instant};

use fixture::{Broker, WorkerProcess};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_blocking_every_runtime_thread_leave_the_rest_api_answering() {
    let broker = Broker::start("isolation").await;
    let worker = WorkerProcess::start("isolation", &broker.namesrv(), &broker.dir);
    // More blocking tasks than the worker's runtime has threads (one per core).
    let tasks = std::thread::available_parallelism().map_or(2, |n| n.get()) + 2;
    // They block 5 s after they start, once the create has been answered.
    let config = json!({"connector.class": "blocking-source", "after.ms": 5_000, "block.ms": 45_000, "tasks.max": tasks});
    let (code, body) = worker.call("POST", "/connectors", Some(&json!({"name": "blocker", "config": config})));
    assert_eq!(code, 201, "{body}");
    let created = Instant::now();
    // The herder cannot answer the health check while every thread is held: the API, on threads
    // of its own, says so instead of hanging until the calls return.
    let mut unhealthy = None;
    while created.elapsed() < Duration::from_secs(45) && unhealthy.is_none() {
        let (code, health) = worker.call("GET", "/health", None);
        if code == 500 {
            unhealthy = Some(health);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let health = unhealthy.unwrap_or_else(|| panic!("the API never said the worker was unhealthy:\n{}", worker.log_tail()));
    assert_eq!(health["status"], "unhealthy", "{health}");
    assert_eq!(worker.call("GET", "/connectors", None), (200, json!(["blocker"])), "reads are answered meanwhile");
    let named = fixture::wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&worker.log).is_ok_and(|log| log.contains("a task blocks its threads") && log.contains("blocker/0 in poll"))
    })
    .await;
    assert!(named, "the watchdog did not name the blocking calls:\n{}", worker.log_tail());
    // Once the calls return the worker is healthy again.
    let healthy = fixture::wait_until(Duration::from_secs(90), || worker.call("GET", "/health", None).0 == 200).await;
    assert!(healthy, "{}", worker.log_tail());
    drop(worker);
    broker.shutdown().await;
}

/// The value of `metric` (a line `metric{...} value` or `metric value`) in `/metrics`.
fn metric(worker: &WorkerProcess, line_start: &str) -> Option<f64> {
    let (_, text) = fixture::http_text(worker.rest, "GET", "/metrics", None);
    text.lines().find(|l| l.starts_with(line_start)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_allocating_without_bound_fails_at_the_memory_limit_and_the_worker_runs_on() {
    let broker = Broker::start("memory").await;
    // Capped: without the budget this worker would take the machine's memory.
    let worker = WorkerProcess::start_with("memory", &broker.namesrv(), &broker.dir, &["--memory-limit", "384MiB"], Some("3221225472"));
    let steady = json!({"connector.class": "datagen-source", "topic": "memory-steady", "records.per.second": 200});
    let (code, body) = worker.call("POST", "/connectors", Some(&json!({"name": "steady", "config": steady})));
    assert_eq!(code, 201, "{body}");
    // 8 MiB every 20 ms; no automatic restart, so it stays failed.
    let hoarder = json!({"connector.class": "hoarding-source", "mib.per.poll": 8, "errors.restart.max.attempts": 0});
    let (code, body) = worker.call("POST", "/connectors", Some(&json!({"name": "hoarder", "config": hoarder})));
    assert_eq!(code, 201, "{body}");

    let failed = fixture::wait_until(Duration::from_secs(60), || {
        worker.call("GET", "/connectors/hoarder/status", None).1["tasks"][0]["state"] == "FAILED"
    })
    .await;
    let (_, status) = worker.call("GET", "/connectors/hoarder/status", None);
    assert!(failed, "{status}\n{}", worker.log_tail());
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("--memory-limit of 384.0 MiB") && trace.contains("held the most"), "{trace}");
    assert_eq!(metric(&worker, "connect_worker_memory_budget_failed_tasks_total"), Some(1.0));
    // Its heap was released: the worker is well under the limit again.
    let released = fixture::wait_until(Duration::from_secs(20), || {
        metric(&worker, "connect_worker_heap_bytes").is_some_and(|b| b < 200.0 * 1048576.0)
    })
    .await;
    assert!(released, "heap {:?}\n{}", metric(&worker, "connect_worker_heap_bytes"), worker.log_tail());

    // The worker and its other connector run on.
    let (_, steady) = worker.call("GET", "/connectors/steady/status", None);
    assert_eq!(steady["tasks"][0]["state"], "RUNNING", "{steady}");
    let written = || metric(&worker, "connect_source_records_written_total{connector=\"steady\"").unwrap_or(0.0);
    let before = written();
    assert!(fixture::wait_until(Duration::from_secs(30), || written() > before).await, "the other connector stopped writing");
    assert_eq!(worker.call("GET", "/health", None).0, 200);
    drop(worker);
    broker.shutdown().await;
}

/// Each RocketMQ client instance allocates a 32 MiB request table: a worker runs one, whatever
/// its tasks (the tasks of one sink too), so the budget counts what tasks hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_counts_under_40_mib_and_every_task_shares_its_client_instance() {
    let broker = Broker::start("heap").await;
    let worker = WorkerProcess::start_with("heap", &broker.namesrv(), &broker.dir, &["--memory-limit", "1GiB"], None);
    let heap = || metric(&worker, "connect_worker_heap_bytes").unwrap_or(f64::MAX) / 1048576.0;
    let idle = heap();
    assert!(idle < 40.0, "an idle cluster worker counts {idle:.1} MiB\n{}", worker.log_tail());
    let mut counted = Vec::new();
    for name in ["heap-a", "heap-b"] {
        let config = json!({"connector.class": "log-sink", "topics": "heap-topic", "tasks.max": 3, "quiet": true});
        let (code, body) = worker.call("POST", "/connectors", Some(&json!({"name": name, "config": config})));
        assert_eq!(code, 201, "{body}");
        let running = fixture::wait_until(Duration::from_secs(60), || {
            let (_, status) = worker.call("GET", &format!("/connectors/{name}/status"), None);
            status["tasks"].as_array().is_some_and(|t| t.len() == 3 && t.iter().all(|t| t["state"] == "RUNNING"))
        })
        .await;
        assert!(running, "{}", worker.log_tail());
        counted.push(heap());
    }
    // Every consumer runs on the worker's one instance: three tasks of one sink add their
    // buffers, not a 32 MiB request table each.
    let first = counted[0] - idle;
    let second = counted[1] - counted[0];
    assert!(first < 3.0 && second < 3.0, "3 sink tasks added {first:.1} MiB, 3 more {second:.1} MiB (idle {idle:.1}, then {counted:?})");
    // The instance's request table is allocated and hardly touched: the limit is judged on
    // what the worker holds (the counted heap, or its resident anonymous memory when less).
    let held = metric(&worker, "connect_worker_memory_held_bytes").unwrap_or(f64::MAX) / 1048576.0;
    println!(
        "MEASURED idle cluster worker: {idle:.1} MiB counted; with two sink connectors of 3 tasks: {counted:.1?} MiB counted, {held:.1} MiB held"
    );
    assert!(held < 40.0 && held <= counted[1], "the budget judges {held:.1} MiB held of {:.1} MiB counted", counted[1]);
    drop(worker);
    broker.shutdown().await;
}
