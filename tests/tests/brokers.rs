//! A cluster on several brokers of one name server: `test-worker broker --namesrv ...`
//! processes joining the test's name server, killed and restarted under running workers.
//! Each test prints what it measured (`MEASURED ...` lines; run with `--nocapture` to see them).

mod fixture;

use std::time::{Duration, Instant};

use fixture::sequence::{create, create_sequence, repeated, sequence_gaps, verdict};
use fixture::{Broker, BrokerProcess, WorkerProcess, all_running_on, task_owners, wait_until};
use serde_json::json;

/// One scenario at a time: two brokers and up to three workers is what two cores hold.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SETTLE: Duration = Duration::from_secs(90);

/// The state topics of cluster `name` (its schema registry's is created on first use).
fn state_topics(name: &str) -> Vec<String> {
    ["configs", "offsets", "statuses"].iter().map(|log| format!("{name}-{log}")).collect()
}

/// The sum of the values of `worker`'s metric lines starting with `prefix`.
fn metric_sum(worker: &WorkerProcess, prefix: &str) -> f64 {
    let text = fixture::http_text(worker.rest, "GET", "/metrics", None).1;
    text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

/// A datagen connector of `tasks` slow tasks writing to `topic`.
fn datagen(topic: &str, tasks: u64) -> serde_json::Value {
    json!({"connector.class": "datagen-source", "topic": topic, "tasks.max": tasks, "records.per.second": 5,
        "key.converter": "string", "value.converter": "string"})
}

/// Every topic gets queues on both brokers, the state topics included; the state logs stay on
/// the broker recorded for them when the cluster first opened them. While that broker is
/// down, a config write fails with a 503 and a worker starting meanwhile waits for it (it
/// does not start an empty log on the other broker); once it is back, both see every
/// connector, and the write goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_get_queues_on_every_broker_and_a_state_log_waits_for_its_own_broker() {
    let _serial = SERIAL.lock().await;
    let broker = Broker::start("brokers-home").await;
    let dir = broker.dir.clone();
    // Named to sort first: the state logs are opened while both brokers run, so they live on it.
    let mut home = BrokerProcess::join(&broker.namesrv(), &dir, "a-broker");
    let first = WorkerProcess::start("home", &broker.namesrv(), &dir);
    create(&first, "spread", datagen("spread-topic", 2));
    assert!(wait_until(SETTLE, || all_running_on(&task_owners(&first, "spread"), 2, &[first.id.as_str()])).await, "{}", first.log_tail());
    let both = vec!["a-broker".to_owned(), "connect-broker".to_owned()];
    for topic in state_topics("home").iter().chain([&"spread-topic".to_owned()]) {
        let deadline = Instant::now() + SETTLE;
        while broker.topic_brokers(topic).await.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(broker.topic_brokers(topic).await, both, "queues of {topic}");
    }

    home.kill();
    let killed = Instant::now();
    let (code, body) = first.call("POST", "/connectors", Some(&json!({"name": "while-down", "config": datagen("down-topic", 1)})));
    let refused_after = killed.elapsed();
    assert!(
        code == 503 && body["message"].as_str().unwrap_or_default().contains("on broker a-broker"),
        "a config write while the state logs' broker is down: {code} {body}"
    );
    let mut second = WorkerProcess::spawn("home", &broker.namesrv(), &dir, &[], None);
    let starting = |worker: &WorkerProcess| {
        std::net::TcpStream::connect(worker.rest).is_ok()
            && worker.call("GET", "/health", None)
                == (
                    503,
                    json!({"status": "starting",
            "message": "the worker is starting: it connects to RocketMQ and reads its state (its log says what it waits for)"}),
                )
    };
    assert!(wait_until(Duration::from_secs(30), || starting(&second)).await, "a worker waiting for its state logs answers 503 starting");
    assert!(!second.ready(Duration::from_secs(10)), "a worker started without its cluster's state logs");
    home.restart();
    let restarted = Instant::now();
    assert!(second.ready(Duration::from_secs(150)), "the second worker did not start once the broker was back:\n{}", second.log_tail());
    let second_ready = restarted.elapsed();
    let listed = |worker: &WorkerProcess| worker.call("GET", "/connectors", None).1;
    assert_eq!(listed(&second), json!(["spread"]), "the second worker reads the cluster's configs, not an empty log");
    assert!(
        wait_until(SETTLE, || first.call("POST", "/connectors", Some(&json!({"name": "after", "config": datagen("after-topic", 1)}))).0
            == 201)
        .await,
        "config writes do not resume once the broker is back:\n{}",
        first.log_tail()
    );
    assert!(wait_until(SETTLE, || listed(&second) == json!(["after", "spread"])).await, "{}", listed(&second));
    println!(
        "MEASURED state logs' broker down: a config write answered 503 after {refused_after:?}: {body}; a worker started meanwhile \
         waited, and served {second_ready:?} after the broker was back, with the cluster's connectors"
    );
    drop((first, second, home));
    broker.shutdown().await;
}

/// `kill -9` of one broker of two for a minute under three workers running a datagen →
/// file-sink pipeline: config writes go on (the state logs are on the other broker), the
/// tasks whose queues are on the killed broker wait, and once it is back every record arrives
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_for_a_minute_under_a_running_cluster_loses_and_repeats_nothing() {
    killed_for_a_minute(false).await;
}

/// The same with the broker holding the state logs: config writes answer 503 naming it, the
/// workers' leases lapse (their heartbeats cannot be written), and once it is back the tasks
/// start again and every record arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_logs_broker_killed_for_a_minute_under_a_running_cluster_loses_and_repeats_nothing() {
    killed_for_a_minute(true).await;
}

/// A cluster of three workers on two brokers, the second a process killed for a minute under
/// the `sequence` pipeline; `holding_state`: whether that broker holds the state logs.
async fn killed_for_a_minute(holding_state: bool) {
    let _serial = SERIAL.lock().await;
    const TASKS: u64 = 4;
    const PER_TASK: u64 = 24_000;
    let broker = Broker::start(if holding_state { "brokers-kill-state" } else { "brokers-kill" }).await;
    let dir = broker.dir.clone();
    // Named to sort first or last: the state logs live on the first broker by name.
    let name = if holding_state { "a-broker" } else { "z-broker" };
    let mut other = BrokerProcess::join(&broker.namesrv(), &dir, name);
    let workers: Vec<WorkerProcess> = (0..3).map(|_| WorkerProcess::start("kill-one", &broker.namesrv(), &dir)).collect();
    let output = dir.join("sequence.txt");
    create_sequence(&workers, &output, TASKS, PER_TASK);
    assert!(wait_until(SETTLE, || fixture::lines(&output).len() >= 3_000).await, "the pipeline does not flow\n{}", workers[0].log_tail());
    let mut both = vec!["connect-broker".to_owned(), name.to_owned()];
    both.sort();
    assert_eq!(broker.topic_brokers("sequence").await, both);

    other.kill();
    let killed = Instant::now();
    let at_kill = fixture::lines(&output).len();
    let (code, body) = workers[2].call("POST", "/connectors", Some(&json!({"name": "while-down", "config": datagen("down-topic", 1)})));
    if holding_state {
        let message = body["message"].as_str().unwrap_or_default();
        assert!(code == 503 && message.contains(name), "a config write while the state logs' broker is down: {code} {body}");
    } else {
        assert_eq!(code, 201, "a config write while a broker without state logs is down: {body}");
    }
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(killed.elapsed())).await;
    let while_down = fixture::lines(&output).len() - at_kill;
    let statuses: Vec<(String, String)> = task_owners(&workers[0], "sequence").into_values().collect();
    let outages: f64 = workers.iter().map(|w| metric_sum(w, "connect_task_broker_outages_total{connector=\"sequence\"")).sum();
    other.restart();

    let complete = || sequence_gaps(&output, TASKS, PER_TASK).0 == 0;
    let arrived = wait_until(Duration::from_secs(240), complete).await;
    assert!(arrived, "{}", verdict(&workers[0], &output, TASKS, PER_TASK));
    fixture::settled(Duration::from_secs(60), Duration::from_secs(2), async || fixture::lines(&output).len()).await;
    let (missing, duplicates) = sequence_gaps(&output, TASKS, PER_TASK);
    let fenced: f64 = workers.iter().map(|w| metric_sum(w, "connect_worker_fenced_units_total")).sum();
    println!(
        "MEASURED {name} (holding the state logs: {holding_state}) killed for 60 s: {while_down} records reached the sink \
         meanwhile, source tasks then {statuses:?}, {outages} broker outages counted, {fenced} units fenced; a config write \
         answered {code}; {} records: {missing} lost, {duplicates} duplicated",
        TASKS * PER_TASK
    );
    assert!(holding_state || outages >= 1.0, "the tasks whose queues were on the killed broker waited, and counted it");
    assert_eq!((missing, duplicates), (0, 0), "a broker's outage neither loses nor repeats a record: {}", repeated(&output));
    drop(workers);
    drop(other);
    broker.shutdown().await;
}
