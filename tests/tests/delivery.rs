//! Exactly-once sources across a crash before their first offset commit: the records the
//! broker holds are the commit. A source like change data capture, killed after it sent its
//! snapshot and some changes but before any commit, resumes after what it sent instead of
//! taking its snapshot again (which would lose the changes between the two snapshots, and
//! write the rows twice).

mod fixture;

use std::collections::BTreeSet;
use std::time::Duration;

use fixture::{Broker, WorkerProcess, lines, wait_until};
use serde_json::json;

/// Flushing offsets only every ten minutes: no commit happens before the kill.
const NO_COMMIT: [&str; 2] = ["--offset-flush-interval-ms", "600000"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_killed_before_its_first_commit_resumes_after_what_the_broker_holds() {
    let broker = Broker::start("held").await;
    let dir = broker.dir.join("workers");
    let output = broker.dir.join("out.txt");
    let mut worker = WorkerProcess::start_with("held", &broker.namesrv(), &dir, &NO_COMMIT, None);
    let source = json!({"connector.class": "snapshotting-source", "topic": "held-changes", "snapshot.records": 10, "interval.ms": 20});
    let sink = json!({"connector.class": "file-sink", "topics": "held-changes", "file": output});
    for (name, config) in [("changes", source), ("copy", sink)] {
        let (code, body) = worker.call("POST", "/connectors", Some(&json!({"name": name, "config": config})));
        assert_eq!(code, 201, "{body}");
    }
    let streamed = |n: usize| lines(&output).iter().filter(|l| l.starts_with("stream-")).count() >= n;
    assert!(wait_until(Duration::from_secs(90), || streamed(30)).await, "nothing streamed:\n{}", worker.log_tail());
    worker.kill();
    let before = lines(&output).iter().filter(|l| l.starts_with("stream-")).count();

    let worker = WorkerProcess::start_with("held", &broker.namesrv(), &dir, &NO_COMMIT, None);
    assert!(wait_until(Duration::from_secs(90), || streamed(before + 30)).await, "the source did not resume:\n{}", worker.log_tail());
    let written = lines(&output);
    let generations: BTreeSet<&str> =
        written.iter().filter_map(|l| l.strip_prefix("snapshot-")).map(|rest| rest.split('-').next().unwrap_or_default()).collect();
    assert_eq!(generations.len(), 1, "the snapshot was taken again after the crash: {generations:?}");
    let stream: Vec<u64> = written.iter().filter_map(|l| l.strip_prefix("stream-")?.parse().ok()).collect();
    let expected: Vec<u64> = (0..stream.len() as u64).collect();
    assert_eq!(stream, expected, "every change once, in order");
    let log = std::fs::read_to_string(&worker.log).unwrap_or_default();
    assert!(log.contains("resuming after records the broker holds"), "{log}");
    drop(worker);
    broker.shutdown().await;
}
