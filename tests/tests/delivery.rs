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

/// A dead-letter replay cut short by `kill -9` and run again on a new worker sends each
/// record back exactly once: what the first run sent and did not commit is found by its
/// markers, not sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_replay_killed_part_way_and_run_again_sends_each_record_once() {
    const RECORDS: usize = 10_000;
    let broker = Broker::start("replay").await;
    let dir = broker.dir.join("workers");
    let output = broker.dir.join("replayed.txt");
    let mut worker = WorkerProcess::start("replay", &broker.namesrv(), &dir);
    // Plain strings, refused by the sink's JSON converter: all dead-lettered.
    let source = json!({"connector.class": "datagen-source", "topic": "replay-raw", "max.records": RECORDS, "value.converter": "string"});
    let sink = |converter: &str| {
        json!({"name": "orders", "connector.class": "file-sink", "topics": "replay-raw", "file": output, "value.converter": converter,
               "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "replay-dlq"})
    };
    for (name, config) in [("gen", source), ("orders", sink("json"))] {
        let (code, body) = worker.call("POST", "/connectors", Some(&json!({"name": name, "config": config})));
        assert_eq!(code, 201, "{body}");
    }
    let dead_lettered = "connect_dlq_records_total{connector=\"orders\",task=\"0\"}";
    let all = wait_until(Duration::from_secs(120), || fixture::sequence::metric(&worker, dead_lettered) >= RECORDS as f64).await;
    assert!(all, "{} of {RECORDS} dead-lettered:\n{}", fixture::sequence::metric(&worker, dead_lettered), worker.log_tail());

    // Fixed, then replayed; the worker is killed once the replay has sent some batches.
    assert_eq!(worker.call("PUT", "/connectors/orders/config", Some(&sink("string"))).0, 200);
    let rest = worker.rest;
    let first = std::thread::spawn(move || fixture::http(rest, "POST", "/connectors/orders/dlq/replay", None));
    let log = worker.log.clone();
    let sending = || std::fs::read_to_string(&log).unwrap_or_default().matches("dead-lettered records replayed").count() >= 10;
    assert!(wait_until(Duration::from_secs(60), sending).await, "the replay sent nothing:\n{}", worker.log_tail());
    worker.kill();
    let (cut_code, _) = first.join().unwrap();
    assert_ne!(cut_code, 200, "the replay finished before the kill: it was not cut short");
    let sent_before = lines(&output).len();

    let worker = WorkerProcess::start("replay", &broker.namesrv(), &dir);
    let mut second = (0, serde_json::Value::Null);
    for _ in 0..120 {
        second = worker.call("POST", "/connectors/orders/dlq/replay", None);
        if second.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(second.0, 200, "{}", second.1);
    let written = wait_until(Duration::from_secs(120), || lines(&output).len() >= RECORDS).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // anything written twice would come now
    let values = lines(&output);
    let distinct: BTreeSet<&String> = values.iter().collect();
    let expected: BTreeSet<String> = (0..RECORDS).map(|i| format!("0-{i}")).collect();
    let lost = expected.iter().filter(|v| !distinct.contains(v)).count();
    let duplicated = values.len() - distinct.len();
    println!(
        "MEASURED dead-letter replay across kill -9: {RECORDS} records, the first run cut after {sent_before} reached the sink; the second \
         replayed {} and found {} already sent by the first; {lost} lost, {duplicated} duplicated",
        second.1["replayed"], second.1["already_replayed"]
    );
    assert!(written && lost == 0 && duplicated == 0, "{lost} lost, {duplicated} duplicated of {RECORDS}:\n{}", worker.log_tail());
    drop(worker);
    broker.shutdown().await;
}
