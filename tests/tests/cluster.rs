//! Cluster mode end to end: `test-worker` processes sharing one real name server and broker.
//! Each test prints what it measured (`MEASURED ...` lines; run with `--nocapture` to see them).

mod fixture;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fixture::sequence::{create, create_sequence, metric, repeated, sequence_gaps, verdict};
use fixture::{Broker, WorkerProcess, all_running_on, loads, overlaps, task_owners, time_until, wait_until};
use serde_json::json;

/// One scenario at a time: a broker and three or four workers is what two cores hold.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SETTLE: Duration = Duration::from_secs(90);

fn ids(workers: &[&WorkerProcess]) -> Vec<String> {
    workers.iter().map(|w| w.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_spread_evenly_and_a_joining_worker_takes_at_most_its_share() {
    let _serial = SERIAL.lock().await;
    let broker = Broker::start("cluster-spread").await;
    let dir = broker.dir.clone();
    let mut workers: Vec<WorkerProcess> = (0..3).map(|_| WorkerProcess::start("spread", &broker.namesrv(), &dir)).collect();
    let locks = dir.join("locks");
    create(&workers[0], "spread", json!({"connector.class": "exclusive-source", "dir": locks, "topic": "unused", "tasks.max": 6}));

    // Six tasks on three workers: two each, and every worker reports the same.
    let members = ids(&workers.iter().collect::<Vec<_>>());
    let member_refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let balanced = |owners: &BTreeMap<u64, (String, String)>| {
        all_running_on(owners, 6, &member_refs) && loads(owners).values().all(|&n| n == 2) && loads(owners).len() == 3
    };
    assert!(
        wait_until(SETTLE, || balanced(&task_owners(&workers[0], "spread"))).await,
        "not balanced: {:?}\n{}",
        task_owners(&workers[0], "spread"),
        workers[0].log_tail()
    );
    assert!(
        wait_until(Duration::from_secs(10), || {
            let statuses: BTreeSet<String> =
                workers.iter().map(|w| w.call("GET", "/connectors/spread/status", None).1.to_string()).collect();
            statuses.len() == 1
        })
        .await,
        "workers disagree on the status"
    );
    let before = task_owners(&workers[0], "spread");
    for worker in &workers {
        let mine: Vec<u64> = worker.allocated_tasks().into_iter().map(|(_, task)| task).collect();
        let listed: Vec<u64> = before.iter().filter(|(_, (_, w))| *w == worker.id).map(|(id, _)| *id).collect();
        assert_eq!(mine, listed, "{} runs what the status says", worker.id);
    }

    // A fourth worker joins: at most ⌈6/4⌉ = 2 tasks move, to it, and none runs twice.
    let joined_at = Instant::now();
    workers.push(WorkerProcess::start("spread", &broker.namesrv(), &dir));
    let members = ids(&workers.iter().collect::<Vec<_>>());
    let member_refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let settled = time_until(SETTLE, Duration::from_millis(20), || {
        let owners = task_owners(&workers[1], "spread");
        all_running_on(&owners, 6, &member_refs) && loads(&owners).len() == 4 && loads(&owners).values().all(|&n| n <= 2)
    })
    .await;
    assert!(settled.is_some(), "not rebalanced: {:?}\n{}", task_owners(&workers[1], "spread"), workers[3].log_tail());
    let after = task_owners(&workers[1], "spread");
    let moved: Vec<u64> = after.iter().filter(|(id, (_, w))| before[id].1 != *w).map(|(id, _)| *id).collect();
    println!(
        "MEASURED join: {} of 6 tasks moved (bound 2), rebalanced {:?} after the 4th worker's REST API answered ({:?} after its start)",
        moved.len(),
        settled.unwrap(),
        joined_at.elapsed()
    );
    assert!(moved.len() <= 2, "moved {moved:?}: {before:?} → {after:?}");
    assert!(moved.iter().all(|id| after[id].1 == workers[3].id), "tasks only move to the new worker");
    assert_eq!(overlaps(&locks), Vec::<String>::new(), "a task ran on two workers at once");

    drop(workers);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_tasks_resume_on_the_survivors_and_no_record_is_lost() {
    let _serial = SERIAL.lock().await;
    const TASKS: u64 = 6;
    const PER_TASK: u64 = 3_000;
    let (broker, mut workers, output) = flowing_sequence("failover", TASKS, PER_TASK).await;

    // Kill the worker running the most source tasks.
    let owners = task_owners(&workers[0], "sequence");
    let victim = (0..3).max_by_key(|&i| owners.values().filter(|(_, w)| *w == workers[i].id).count()).unwrap();
    let victim_tasks = owners.values().filter(|(_, w)| *w == workers[victim].id).count();
    workers[victim].kill();
    let survivors: Vec<&WorkerProcess> = workers.iter().enumerate().filter(|(i, _)| *i != victim).map(|(_, w)| w).collect();
    let survivor_ids = ids(&survivors);
    let survivor_refs: Vec<&str> = survivor_ids.iter().map(String::as_str).collect();
    let members = |w: &WorkerProcess| w.call("GET", "/getClusterInfo", None).1["body"].clone();
    let mut expected = survivor_ids.clone();
    expected.sort();
    let detected = time_until(SETTLE, Duration::from_millis(5), || survivors.iter().all(|w| members(w) == json!(expected))).await;
    assert!(detected.is_some(), "the survivors still list the killed worker: {}", members(survivors[0]));
    let recovered =
        time_until(SETTLE, Duration::from_millis(10), || all_running_on(&task_owners(survivors[0], "sequence"), 6, &survivor_refs)).await;
    assert!(recovered.is_some(), "tasks did not move: {:?}\n{}", task_owners(survivors[0], "sequence"), survivors[0].log_tail());
    let recovered = recovered.unwrap();
    assert!(
        wait_until(SETTLE, || task_owners(survivors[1], "sequence-sink")
            .values()
            .all(|(s, w)| s == "RUNNING" && survivor_refs.contains(&w.as_str())))
        .await
    );

    // Every sequence number arrives.
    let complete = || {
        let (missing, _) = sequence_gaps(&output, TASKS, PER_TASK);
        missing == 0
    };
    let arrived = wait_until(Duration::from_secs(180), complete).await;
    assert!(arrived, "{}", verdict(survivors[0], &output, TASKS, PER_TASK));
    let (missing, duplicates) = sequence_gaps(&output, TASKS, PER_TASK);
    println!(
        "MEASURED failover: {victim_tasks} source tasks on the killed worker; both survivors listed it gone {:?} after kill -9, \
         all 6 RUNNING on the survivors {:?} after kill -9; {} records: {missing} lost, {duplicates} duplicated",
        detected.unwrap(),
        recovered + detected.unwrap(),
        TASKS * PER_TASK
    );
    assert_eq!((missing, duplicates), (0, 0), "a failover neither loses nor repeats a record");
    drop(workers);
    broker.shutdown().await;
}

/// A worker that hangs (SIGSTOP) keeps its connections, so the broker keeps listing it; its
/// heartbeats stop, and the others take its units over while it is still stopped. Resumed a
/// minute later, it finds its lease lapsed and writes nothing for the units it lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_worker_is_replaced_while_it_hangs_and_writes_nothing_once_it_resumes() {
    let _serial = SERIAL.lock().await;
    const TASKS: u64 = 6;
    const PER_TASK: u64 = 20_000;
    let (broker, workers, output) = flowing_sequence("hung", TASKS, PER_TASK).await;

    // Hang the worker that runs the sink.
    let sink_owner = task_owners(&workers[0], "sequence-sink")[&0].1.clone();
    let victim = workers.iter().position(|w| w.id == sink_owner).expect("the sink runs on a worker");
    let held = task_owners(&workers[0], "sequence").values().filter(|(_, w)| *w == sink_owner).count();
    workers[victim].pause();
    let paused = Instant::now();
    let survivors: Vec<&WorkerProcess> = workers.iter().enumerate().filter(|(i, _)| *i != victim).map(|(_, w)| w).collect();
    let survivor_ids = ids(&survivors);
    let survivor_refs: Vec<&str> = survivor_ids.iter().map(String::as_str).collect();
    let taken_over = time_until(Duration::from_secs(55), Duration::from_millis(20), || {
        all_running_on(&task_owners(survivors[0], "sequence"), 6, &survivor_refs)
            && all_running_on(&task_owners(survivors[0], "sequence-sink"), 1, &survivor_refs)
    })
    .await;
    assert!(
        taken_over.is_some(),
        "the hung worker's units did not move while it hung: {:?} {:?}\n{}",
        task_owners(survivors[0], "sequence"),
        task_owners(survivors[0], "sequence-sink"),
        survivors[0].log_tail()
    );
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(paused.elapsed())).await;
    workers[victim].resume();

    let complete = || sequence_gaps(&output, TASKS, PER_TASK).0 == 0;
    let arrived = wait_until(Duration::from_secs(240), complete).await;
    assert!(arrived, "{}", verdict(survivors[0], &output, TASKS, PER_TASK));
    fixture::settled(Duration::from_secs(60), Duration::from_secs(2), async || fixture::lines(&output).len()).await;
    let (missing, duplicates) = sequence_gaps(&output, TASKS, PER_TASK);
    let fenced = metric(&workers[victim], "connect_worker_fenced_units_total ");
    println!(
        "MEASURED hung worker: its {held} source tasks and the sink ran on the survivors {:?} after SIGSTOP (it stayed stopped 60 s); \
         {fenced} of its units fenced after SIGCONT; {} records: {missing} lost, {duplicates} duplicated",
        taken_over.unwrap(),
        TASKS * PER_TASK
    );
    assert_eq!((missing, duplicates), (0, 0), "a hung worker neither loses nor repeats a record: {}", repeated(&output));
    assert!(fenced >= 1.0, "the resumed worker counts the units it lost as fenced ({fenced})");
    drop(workers);
    broker.shutdown().await;
}

/// Five `kill -9`s of a random worker at seeded random moments, each replaced by a new one:
/// the datagen → file-sink pipeline neither loses nor repeats a record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_kills_at_random_moments_neither_lose_nor_repeat_a_record() {
    let _serial = SERIAL.lock().await;
    let mut moments = fixture::KillMoments::new("cluster kill test");
    let seed = moments.seed;
    let broker = Broker::start("cluster-kills").await;
    let dir = broker.dir.clone();
    let mut workers: Vec<WorkerProcess> = (0..3).map(|_| WorkerProcess::start("kills", &broker.namesrv(), &dir)).collect();
    const TASKS: u64 = 6;
    const PER_TASK: u64 = 6_000;
    let output = dir.join("sequence.txt");
    create_sequence(&workers, &output, TASKS, PER_TASK);
    assert!(wait_until(SETTLE, || fixture::lines(&output).len() >= 1_000).await, "the pipeline does not flow");
    for kill in 0..5 {
        let delay = moments.below(2_000);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let victim = moments.below(workers.len() as u64) as usize;
        let mut killed = workers.remove(victim);
        killed.kill();
        println!("kill {kill}: worker {} {delay} ms after the last, {} lines written", killed.id, fixture::lines(&output).len());
        workers.push(WorkerProcess::start("kills", &broker.namesrv(), &dir));
    }
    let complete = || sequence_gaps(&output, TASKS, PER_TASK).0 == 0;
    let arrived = wait_until(Duration::from_secs(240), complete).await;
    assert!(arrived, "seed {seed}: {}", verdict(&workers[0], &output, TASKS, PER_TASK));
    // Anything still in flight lands: the output stops growing.
    fixture::settled(Duration::from_secs(60), Duration::from_secs(2), async || fixture::lines(&output).len()).await;
    let (missing, duplicates) = sequence_gaps(&output, TASKS, PER_TASK);
    println!("MEASURED five kills: {} records: {missing} lost, {duplicates} duplicated", TASKS * PER_TASK);
    assert_eq!((missing, duplicates), (0, 0), "seed {seed}");
    drop(workers);
    broker.shutdown().await;
}

/// A broker and three workers of cluster `name` running the sequence pipeline (`tasks`
/// sources of `per_task` records into a file sink), every source task running and records
/// arriving in the file.
async fn flowing_sequence(name: &str, tasks: u64, per_task: u64) -> (Broker, Vec<WorkerProcess>, std::path::PathBuf) {
    let broker = Broker::start(&format!("cluster-{name}")).await;
    let dir = broker.dir.clone();
    let workers: Vec<WorkerProcess> = (0..3).map(|_| WorkerProcess::start(name, &broker.namesrv(), &dir)).collect();
    let output = dir.join("sequence.txt");
    create_sequence(&workers, &output, tasks, per_task);
    let all: Vec<String> = ids(&workers.iter().collect::<Vec<_>>());
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    assert!(
        wait_until(SETTLE, || all_running_on(&task_owners(&workers[0], "sequence"), tasks as usize, &all_refs)).await,
        "{}",
        workers[0].log_tail()
    );
    assert!(wait_until(SETTLE, || fixture::lines(&output).len() >= 3_000).await, "the pipeline does not flow");
    (broker, workers, output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_on_any_worker_reaches_every_worker() {
    let _serial = SERIAL.lock().await;
    let broker = Broker::start("cluster-propagation").await;
    let dir = broker.dir.clone();
    let workers: Vec<WorkerProcess> = (0..3).map(|_| WorkerProcess::start("propagation", &broker.namesrv(), &dir)).collect();
    let (a, b, c) = (&workers[0], &workers[1], &workers[2]);
    let locks = dir.join("locks");

    let created_at = Instant::now();
    create(a, "shared", json!({"connector.class": "exclusive-source", "dir": locks, "topic": "unused", "tasks.max": 3}));
    let answered = created_at.elapsed();
    let visible =
        time_until(SETTLE, Duration::from_millis(2), || c.call("GET", "/connectors/shared", None).0 == 200).await.expect("visible on C");
    let all = ids(&workers.iter().collect::<Vec<_>>());
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let running = time_until(SETTLE, Duration::from_millis(5), || all_running_on(&task_owners(c, "shared"), 3, &all_refs)).await;
    assert!(running.is_some(), "{:?}", task_owners(c, "shared"));
    assert_eq!(c.call("GET", "/connectors/shared/config", None).1["tasks.max"], 3);

    // A config update through C reaches A.
    let (code, _) = c.call(
        "PUT",
        "/connectors/shared/config",
        Some(&json!({"connector.class": "exclusive-source", "dir": locks, "topic": "other", "tasks.max": 3})),
    );
    assert_eq!(code, 200);
    let update_seen =
        time_until(SETTLE, Duration::from_millis(2), || a.call("GET", "/connectors/shared/config", None).1["topic"] == "other")
            .await
            .expect("the update reaches A");

    // A connector that plans its tasks from the outside world: its owner plans again when
    // asked to, and the new tasks run across the cluster.
    let tasks_file = dir.join("planned-tasks");
    std::fs::write(&tasks_file, "2").unwrap();
    create(
        b,
        "planned",
        json!({"connector.class": "exclusive-source", "dir": dir.join("planned-locks"), "topic": "unused", "tasks.max": 6, "tasks.file": tasks_file}),
    );
    assert!(wait_until(SETTLE, || all_running_on(&task_owners(a, "planned"), 2, &all_refs)).await, "{:?}", task_owners(a, "planned"));
    std::fs::write(&tasks_file, "5").unwrap();
    let grown = time_until(SETTLE, Duration::from_millis(10), || all_running_on(&task_owners(c, "planned"), 5, &all_refs)).await;
    assert!(grown.is_some(), "the re-planned tasks do not run: {:?}", task_owners(c, "planned"));
    assert!(loads(&task_owners(c, "planned")).len() > 1, "the new tasks are spread: {:?}", task_owners(c, "planned"));
    std::fs::write(&tasks_file, "1").unwrap();
    assert!(
        wait_until(SETTLE, || all_running_on(&task_owners(a, "planned"), 1, &all_refs)).await,
        "shrinking the plan stops tasks: {:?}",
        task_owners(a, "planned")
    );
    println!("MEASURED re-plan: 2 → 5 tasks RUNNING {:?} after the external change (re-planned every 200 ms)", grown.unwrap());
    assert_eq!(b.call("DELETE", "/connectors/planned", None).0, 204);

    // Deleted through B: gone everywhere, and its tasks closed.
    let deleted_at = Instant::now();
    assert_eq!(b.call("DELETE", "/connectors/shared", None).0, 204);
    let gone =
        time_until(SETTLE, Duration::from_millis(2), || workers.iter().all(|w| w.call("GET", "/connectors/shared", None).0 == 404)).await;
    assert!(gone.is_some());
    let stopped = time_until(SETTLE, Duration::from_millis(10), || {
        workers.iter().all(|w| w.allocated_tasks().is_empty()) && std::fs::read_dir(&locks).map(|d| d.count()).unwrap_or(0) == 0
    })
    .await;
    let left: Vec<String> = std::fs::read_dir(&locks)
        .map(|d| d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned())).collect())
        .unwrap_or_default();
    assert!(
        stopped.is_some(),
        "tasks still run after the delete: allocated {:?}, files left in the lock directory {left:?} (an overlap-* file: a task opened twice)",
        workers.iter().map(|w| w.allocated_tasks()).collect::<Vec<_>>()
    );
    println!(
        "MEASURED propagation: create answered on A in {answered:?}, visible on C {visible:?} after A answered, 3 tasks RUNNING {:?} later; \
         update through C seen on A after {update_seen:?}; delete through B gone from all {:?}, all tasks closed after {:?}",
        running.unwrap(),
        gone.unwrap(),
        deleted_at.elapsed()
    );
    drop(workers);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_cluster_gets_its_connectors_and_offsets_back_from_the_topics() {
    let _serial = SERIAL.lock().await;
    let broker = Broker::start("cluster-restart").await;
    let dir = broker.dir.clone();
    let output = dir.join("restart.txt");
    let mut workers: Vec<WorkerProcess> = (0..2).map(|_| WorkerProcess::start("restart", &broker.namesrv(), &dir)).collect();
    create(
        &workers[0],
        "numbers",
        json!({"connector.class": "datagen-source", "topic": "numbers", "tasks.max": 2, "max.records": 500, "value.converter": "string"}),
    );
    create(
        &workers[1],
        "numbers-sink",
        json!({"connector.class": "file-sink", "topics": "numbers", "file": output, "value.converter": "string"}),
    );
    assert!(wait_until(SETTLE, || fixture::lines(&output).len() >= 1_000).await, "{}", workers[0].log_tail());
    let offsets_of = |w: &WorkerProcess| {
        let (_, body) = w.call("GET", "/connectors/numbers/offsets", None);
        let mut next: Vec<i64> =
            body["offsets"].as_array().map(|o| o.iter().filter_map(|e| e["offset"]["next"].as_i64()).collect()).unwrap_or_default();
        next.sort();
        next
    };
    assert!(wait_until(Duration::from_secs(30), || offsets_of(&workers[0]) == vec![500, 500]).await, "{:?}", offsets_of(&workers[0]));
    // The sink commits its consumer offsets every 500 ms: let it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let lines_before = fixture::lines(&output).len();
    for worker in &mut workers {
        worker.stop();
    }
    drop(workers);

    let started = Instant::now();
    let workers: Vec<WorkerProcess> = (0..2).map(|_| WorkerProcess::start("restart", &broker.namesrv(), &dir)).collect();
    let (_, names) = workers[1].call("GET", "/connectors", None);
    assert_eq!(names, json!(["numbers", "numbers-sink"]));
    assert_eq!(offsets_of(&workers[1]), vec![500, 500], "source offsets come back from the offsets topic");
    let all = ids(&workers.iter().collect::<Vec<_>>());
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let running = time_until(SETTLE, Duration::from_millis(10), || {
        all_running_on(&task_owners(&workers[0], "numbers"), 2, &all_refs)
            && all_running_on(&task_owners(&workers[0], "numbers-sink"), 1, &all_refs)
    })
    .await;
    assert!(running.is_some(), "{:?}\n{}", task_owners(&workers[0], "numbers"), workers[0].log_tail());
    let unchanged = fixture::holds_for(Duration::from_secs(3), || fixture::lines(&output).len() == lines_before).await;
    let lines_after = fixture::lines(&output).len();
    println!(
        "MEASURED restart: 2 new workers running every task {:?} after the first started; sink file {lines_before} lines before, {lines_after} after",
        running.unwrap() + started.elapsed().saturating_sub(running.unwrap())
    );
    assert!(unchanged, "nothing is produced or delivered again after a clean restart: {lines_before} lines before, {lines_after} after");
    drop(workers);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_joins_a_cluster_of_a_thousand_connectors() {
    let _serial = SERIAL.lock().await;
    let broker = Broker::start("cluster-scale").await;
    let dir = broker.dir.clone();
    let first = WorkerProcess::start("scale", &broker.namesrv(), &dir);
    const CONNECTORS: usize = 1_000;
    let created_at = Instant::now();
    for i in 0..CONNECTORS {
        let config = json!({"connector.class": "datagen-source", "topic": format!("scale-{i}"), "tasks.max": 2});
        let (code, body) =
            first.call("POST", "/connectors", Some(&json!({"name": format!("c{i:04}"), "config": config, "initial_state": "STOPPED"})));
        assert_eq!(code, 201, "{body}");
    }
    let create_time = created_at.elapsed();
    let started = Instant::now();
    let second = WorkerProcess::start("scale", &broker.namesrv(), &dir);
    let ready = started.elapsed();
    let (_, names) = second.call("GET", "/connectors", None);
    assert_eq!(names.as_array().map(Vec::len), Some(CONNECTORS));
    let replayed = metric(&second, "connect_state_log_replayed_records{log=\"configs\"}");
    let owned = time_until(SETTLE, Duration::from_millis(20), || {
        let stopped = |w: &WorkerProcess| w.call("GET", "/allocated/connectors", None).1["body"].as_object().map_or(0, |o| o.len());
        stopped(&first) == CONNECTORS / 2 && stopped(&second) == CONNECTORS / 2
    })
    .await;
    println!(
        "MEASURED scale: {CONNECTORS} connectors created in {create_time:?}; a joining worker answered REST {ready:?} after its start \
         (config log: {replayed} records replayed); the two workers owned {} connectors each after {:?} more",
        CONNECTORS / 2,
        owned
    );
    assert!(owned.is_some(), "connectors were not split between the two workers");
    drop((first, second));
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_patches_and_log_levels_on_several_workers_lose_nothing_and_reach_every_worker() {
    let _serial = SERIAL.lock().await;
    let broker = Broker::start("cluster-races").await;
    let workers: Vec<WorkerProcess> = (0..2).map(|_| WorkerProcess::start("races", &broker.namesrv(), &broker.dir)).collect();
    let rests: Vec<std::net::SocketAddr> = workers.iter().map(|w| w.rest).collect();

    // Ten creates of one name on each worker at once: one wins in the whole cluster.
    let creates: Vec<_> = (0..20)
        .map(|i| {
            let rest = rests[i % 2];
            std::thread::spawn(move || {
                let body = json!({"name": "raced", "config": {"connector.class": "datagen-source", "topic": format!("raced-{i}"), "records.per.second": 1}});
                fixture::http(rest, "POST", "/connectors", Some(&body.to_string())).0
            })
        })
        .collect();
    let mut codes: Vec<u16> = creates.into_iter().map(|c| c.join().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, [vec![201], vec![409; 19]].concat());

    // Patches of different keys, half through each worker at once: each applies over the
    // config it read, or reads again and retries; every key stays.
    let changes = [
        ("records.per.second", "2"),
        ("max.records", "1000"),
        ("payload.bytes", "16"),
        ("batch.size", "5"),
        ("errors.tolerance", "all"),
        ("errors.log.enable", "true"),
        ("errors.log.include.messages", "true"),
        ("errors.retry.timeout", "1000"),
        ("errors.retry.delay.max.ms", "500"),
        ("errors.restart.max.attempts", "3"),
        ("errors.restart.backoff.ms", "300"),
        ("errors.restart.backoff.max.ms", "900"),
    ];
    let patches: Vec<_> = changes
        .iter()
        .enumerate()
        .map(|(i, &(key, value))| {
            let rest = rests[i % 2];
            std::thread::spawn(move || fixture::http(rest, "PATCH", "/connectors/raced/config", Some(&json!({key: value}).to_string())))
        })
        .collect();
    for patch in patches {
        let (code, body) = patch.join().unwrap();
        assert_eq!(code, 200, "{body}");
    }
    for worker in &workers {
        let kept = fixture::wait_until(SETTLE, || {
            let (_, config) = worker.call("GET", "/connectors/raced/config", None);
            changes.iter().all(|(key, value)| config[key] == *value)
        })
        .await;
        assert!(kept, "a patch was lost: {}", worker.call("GET", "/connectors/raced/config", None).1);
    }

    // A log level set for the cluster reaches every worker, also one that starts later.
    let level = json!({"level": "debug"});
    assert_eq!(workers[0].call("PUT", "/admin/loggers/connect_runtime::task?scope=cluster", Some(&level)).0, 204);
    let late = WorkerProcess::start("races", &broker.namesrv(), &broker.dir);
    for worker in workers.iter().chain([&late]) {
        let set =
            fixture::wait_until(SETTLE, || worker.call("GET", "/admin/loggers/connect_runtime::task::sink", None).1["level"] == "DEBUG")
                .await;
        assert!(set, "{} logs {}", worker.id, worker.call("GET", "/admin/loggers/connect_runtime::task::sink", None).1);
    }
    let bad = workers[1].call("PUT", "/admin/loggers/x?scope=cluster", Some(&json!({"level": "loud"})));
    assert_eq!(bad.0, 400, "{}", bad.1);
    drop(late);
    drop(workers);
    broker.shutdown().await;
}

/// The registry's records live in `<cluster>-schemas`: a schema registered through one worker
/// is served with the same id by every worker; three workers registering versions of one
/// subject at the same moment get three distinct versions and ids that all workers agree on;
/// and all of it comes back after a restart of the whole cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_worker_serves_a_registered_schema_with_the_same_id_also_after_a_cluster_restart() {
    let _serial = SERIAL.lock().await;
    let broker = Broker::start("cluster-schemas").await;
    let dir = broker.dir.clone();
    let start = || (0..3).map(|_| WorkerProcess::start("schemas", &broker.namesrv(), &dir)).collect::<Vec<_>>();
    let record = |field: &str| {
        let schema = format!(
            r#"{{"type": "record", "name": "Event", "fields": [{{"name": "{field}", "type": ["null", "string"], "default": null}}]}}"#
        );
        json!({"schema": schema})
    };
    let mut workers = start();

    let (code, body) = workers[0].call("POST", "/registry/subjects/first-value/versions", Some(&record("a")));
    assert_eq!(code, 200, "{body}");
    let first = body["id"].clone();
    for worker in &workers {
        let served =
            wait_until(Duration::from_secs(30), || worker.call("GET", "/registry/subjects/first-value/versions/1", None).1["id"] == first)
                .await;
        assert!(served, "worker {} serves version 1 with id {first}", worker.id);
    }

    // Three registrations at once, one per worker: the log orders them.
    let ids: Vec<i64> = std::thread::scope(|scope| {
        let calls: Vec<_> = workers
            .iter()
            .enumerate()
            .map(|(i, worker)| {
                scope.spawn(move || worker.call("POST", "/registry/subjects/race-value/versions", Some(&record(&format!("f{i}")))))
            })
            .collect();
        calls
            .into_iter()
            .map(|call| call.join().unwrap())
            .map(|(code, body)| {
                assert_eq!(code, 200, "{body}");
                body["id"].as_i64().unwrap()
            })
            .collect()
    });
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 3, "distinct schemas, distinct ids: {ids:?}");
    let versions = |worker: &WorkerProcess| -> Vec<(i64, i64)> {
        (1..=3)
            .map(|v| worker.call("GET", &format!("/registry/subjects/race-value/versions/{v}"), None).1)
            .map(|b| (b["version"].as_i64().unwrap_or(-1), b["id"].as_i64().unwrap_or(-1)))
            .collect()
    };
    let agreed = versions(&workers[0]);
    assert_eq!(agreed.iter().map(|(_, id)| *id).collect::<BTreeSet<_>>(), ids.iter().copied().collect::<BTreeSet<_>>(), "{agreed:?}");
    for worker in &workers[1..] {
        assert!(wait_until(Duration::from_secs(30), || versions(worker) == agreed).await, "{} serves {:?}", worker.id, versions(worker));
    }

    for worker in &mut workers {
        worker.stop();
    }
    drop(workers);
    let workers = start();
    for worker in &workers {
        assert_eq!(worker.call("GET", "/registry/subjects/first-value/versions/1", None).1["id"], first);
        assert_eq!(versions(worker), agreed, "after the restart, on {}", worker.id);
    }
    // Ids keep growing past the restart: a new schema never takes an old one's id.
    let (_, body) = workers[2].call("POST", "/registry/subjects/first-value/versions", Some(&record("b")));
    let new = body["id"].as_i64().unwrap_or(-1);
    assert!(new > 0 && !ids.contains(&new) && body["id"] != first, "{body}");
    println!("MEASURED schemas: ids {first} and {ids:?} agreed by 3 workers, before and after a cluster restart");
    drop(workers);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_cluster_logs_no_warning_and_no_error() {
    let _serial = SERIAL.lock().await;
    let broker = Broker::start("cluster-quiet").await;
    let dir = broker.dir.clone();
    let mut workers: Vec<WorkerProcess> =
        (0..3).map(|_| WorkerProcess::start_at_default_levels("quiet", &broker.namesrv(), &dir)).collect();
    // Twenty connectors created across the workers: ten sources into topics that do not exist
    // yet, and a sink for each.
    for i in 0..10 {
        let topic = format!("quiet-{i}");
        let source = json!({"connector.class": "datagen-source", "topic": topic, "records.per.second": 5, "value.converter": "string"});
        create(&workers[i % 3], &format!("gen-{i}"), source);
        let sink = json!({"connector.class": "file-sink", "topics": topic, "file": dir.join(format!("quiet-{i}.txt")), "value.converter": "string"});
        create(&workers[(i + 1) % 3], &format!("sink-{i}"), sink);
    }
    let all = ids(&workers.iter().collect::<Vec<_>>());
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let flowing = wait_until(SETTLE, || {
        (0..10).all(|i| {
            all_running_on(&task_owners(&workers[0], &format!("gen-{i}")), 1, &all_refs)
                && all_running_on(&task_owners(&workers[0], &format!("sink-{i}")), 1, &all_refs)
                && !fixture::lines(&dir.join(format!("quiet-{i}.txt"))).is_empty()
        })
    })
    .await;
    assert!(flowing, "not every pipeline delivered:\n{}", workers[0].log_tail());
    for name in ["gen-0", "sink-0"] {
        let (code, body) = workers[1].call("DELETE", &format!("/connectors/{name}"), None);
        assert_eq!(code, 204, "{body}");
    }
    // Past the embedded name server's and the membership's periodic work.
    tokio::time::sleep(Duration::from_secs(35)).await;
    for worker in &mut workers {
        worker.stop();
    }
    let mut alarms = Vec::new();
    for worker in &workers {
        let log = std::fs::read_to_string(&worker.log).unwrap_or_default();
        alarms.extend(fixture::alarms(&log).into_iter().map(|line| format!("{}: {line}", worker.id)));
    }
    assert!(alarms.is_empty(), "{} WARN/ERROR lines from a healthy cluster:\n{}", alarms.len(), alarms.join("\n"));
    drop(workers);
    broker.shutdown().await;
}
