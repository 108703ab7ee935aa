//! `ctl` against a cluster: any member answers for the whole cluster, and `ctl cluster` shows
//! every worker with the tasks it runs.

mod fixture;

use std::process::Command;
use std::time::Duration;

use fixture::{Broker, WorkerProcess, all_running_on, task_owners, wait_until};
use serde_json::{Value as Json, json};

fn ctl(worker: &WorkerProcess, args: &[&str]) -> Json {
    let output = Command::new(env!("CARGO_BIN_EXE_test-worker"))
        .args(["ctl", "--url", &format!("http://{}", worker.rest), "-o", "json"])
        .args(args)
        .output()
        .expect("test-worker runs");
    assert!(output.status.success(), "ctl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_member_shows_the_whole_cluster() {
    let broker = Broker::start("ctl-cluster").await;
    let dir = broker.dir.join("workers");
    let workers: Vec<WorkerProcess> = (0..2).map(|_| WorkerProcess::start("ctl-cluster", &broker.namesrv(), &dir)).collect();
    let locks = dir.join("locks");
    let file = dir.join("spread.json");
    let config = json!({"connector.class": "exclusive-source", "dir": locks, "topic": "unused", "tasks.max": 4});
    std::fs::write(&file, json!({"name": "spread", "config": config}).to_string()).unwrap();
    ctl(&workers[0], &["create", "-f", file.to_str().unwrap()]);
    let ids: Vec<&str> = workers.iter().map(|w| w.id.as_str()).collect();
    let spread = wait_until(Duration::from_secs(90), || all_running_on(&task_owners(&workers[1], "spread"), 4, &ids)).await;
    assert!(spread, "{:?}", task_owners(&workers[1], "spread"));
    let spread_evenly = wait_until(Duration::from_secs(60), || {
        let members = ctl(&workers[1], &["cluster"]);
        let members = members.as_array().unwrap();
        members.len() == 2 && members.iter().all(|m| m["tasks"].as_array().unwrap().len() == 2)
    })
    .await;
    assert!(spread_evenly, "{}", ctl(&workers[1], &["cluster"]));
    let listed = ctl(&workers[1], &["list", "--rate-window-ms", "0"]);
    assert_eq!((listed[0]["name"].clone(), listed[0]["tasks_total"].clone()), (json!("spread"), json!(4)), "{listed}");
    ctl(&workers[1], &["delete", "spread"]);
    let gone = wait_until(Duration::from_secs(30), || ctl(&workers[0], &["list", "--rate-window-ms", "0"]) == json!([])).await;
    assert!(gone, "the delete reached the other member");
    drop(workers);
    broker.shutdown().await;
}
