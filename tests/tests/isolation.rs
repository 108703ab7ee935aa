//! Connector code that blocks every thread of the worker's runtime does not take the REST API
//! with it: the API answers (and says the worker is unhealthy) while the tasks block, and the
//! watchdog names the calls in the log.

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
