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

/// The `(queue, offset)` of each record a log-sink logged with `prefix` in `log`.
fn logged_positions(log: &std::path::Path, prefix: &str) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let field = |line: &str, name: &str| -> Option<u64> {
        let at = line.find(&format!(" {name}="))? + name.len() + 2;
        line[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    };
    text.lines().filter(|l| l.contains(prefix)).filter_map(|l| Some((field(l, "queue")?, field(l, "offset")?))).collect()
}

/// Three tasks of one sink on one worker: the first registers under the sink's consumer group,
/// the others under pull groups of their own, and all commit as the sink's group. Stopped and
/// started again, the worker reads each record once: what every task committed is where each
/// resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_tasks_of_one_sink_on_one_worker_commit_as_its_group_and_resume_there() {
    const PREFIX: &str = "three-drained";
    let broker = Broker::start("three").await;
    let dir = broker.dir.join("workers");
    let strings = json!({"key.converter": "string", "value.converter": "string"});
    let source = |records: u64| {
        let mut config = json!({"connector.class": "datagen-source", "topic": "three-topic", "tasks.max": 8, "max.records": records,
            "records.per.second": 500});
        config.as_object_mut().unwrap().extend(strings.as_object().unwrap().clone());
        config
    };
    let mut sink = json!({"connector.class": "log-sink", "topics": "three-topic", "tasks.max": 3, "prefix": PREFIX});
    sink.as_object_mut().unwrap().extend(strings.as_object().unwrap().clone());
    let create = |worker: &WorkerProcess, name: &str, config: &serde_json::Value| {
        let (code, body) = worker.call("POST", "/connectors", Some(&json!({"name": name, "config": config})));
        assert_eq!(code, 201, "{body}");
    };

    let mut first = WorkerProcess::start("three", &broker.namesrv(), &dir);
    create(&first, "three-gen", &source(100));
    create(&first, "three-sink", &sink);
    let read_all = |worker: &WorkerProcess, n: usize| logged_positions(&worker.log, PREFIX).len() >= n;
    assert!(wait_until(Duration::from_secs(120), || read_all(&first, 800)).await, "{}", first.log_tail());
    // Committed with the next poll, as the sink's group: its committed offsets (what
    // `GET /connectors/<name>/offsets` reads from the broker) cover every record read.
    let committed = |worker: &WorkerProcess| {
        let (_, offsets) = worker.call("GET", "/connectors/three-sink/offsets", None);
        offsets["offsets"].as_array().map(|o| o.iter().filter_map(|e| e["offset"]["rocketmq_offset"].as_u64()).sum::<u64>()).unwrap_or(0)
    };
    let all_committed = wait_until(Duration::from_secs(60), || committed(&first) == 800).await;
    assert!(all_committed, "the sink's group committed {} of 800", committed(&first));
    first.stop();
    let before = logged_positions(&first.log, PREFIX);
    let tasks_that_read: BTreeSet<u64> = before.iter().map(|(queue, _)| queue % 3).collect();
    assert!(tasks_that_read.len() >= 2, "the records reached one task only: queues {tasks_that_read:?}");

    let second = WorkerProcess::start("three", &broker.namesrv(), &dir);
    create(&second, "three-more", &source(50));
    assert!(wait_until(Duration::from_secs(120), || read_all(&second, 400)).await, "{}", second.log_tail());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = logged_positions(&second.log, PREFIX);
    let all: Vec<(u64, u64)> = before.iter().chain(&after).copied().collect();
    let distinct: BTreeSet<(u64, u64)> = all.iter().copied().collect();
    println!(
        "MEASURED three sink tasks across a restart: {} records read before, {} after, {} distinct",
        before.len(),
        after.len(),
        distinct.len()
    );
    assert_eq!(distinct.len(), 1_200, "every record read");
    assert_eq!(all.len(), 1_200, "no record read twice ({} before the restart, {} after)", before.len(), after.len());
    drop(second);
    broker.shutdown().await;
}
