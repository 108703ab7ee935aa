//! Herders on shared in-memory logs, with a fake launcher and tokio's paused clock: the
//! claim/release protocol between workers, the takeover delay, and the guarantee that no unit
//! runs on two workers at once, without a broker or real time.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use connect_sdk::context::BoxFuture;
use serde_json::json;

use super::*;
use crate::cluster::lease::Lease;
use crate::state::configs::TargetState;
use crate::state::statuses;
use crate::task::{Control, StatusCell};

const TASKS: usize = 4;
const TAKEOVER: Duration = Duration::from_secs(2);

/// Plans `TASKS` tasks per connector; its tasks record where they run, and every time one
/// started while another copy of it still ran.
#[derive(Default)]
struct FakeLauncher {
    running: Arc<StdMutex<BTreeSet<Unit>>>,
    ran_twice: Arc<StdMutex<Vec<Unit>>>,
    /// How often each task was opened.
    opens: Arc<StdMutex<std::collections::BTreeMap<Unit, u32>>>,
}

/// Automatic restarts of the fake connectors: three at most.
const RESTARTS: u32 = 3;

impl Launch for FakeLauncher {
    async fn plan(&self, spec: &ConnectorSpec) -> Result<TaskPlan<ConfigMap>, Error> {
        assert!(spec.name != "panics-planning", "a bug in planning");
        Ok(TaskPlan::new((0..TASKS).map(|i| json!({"task": i}).as_object().cloned().unwrap_or_default()).collect()))
    }

    async fn open_task(&self, spec: &ConnectorSpec, id: u32, _generation: u64) -> Result<Box<dyn TaskRunner>, Error> {
        assert!(!(spec.name == "panics-opening" && id == 1), "a bug in opening task {id}");
        let opened = {
            let mut opens = self.opens.lock().unwrap_or_else(PoisonError::into_inner);
            let count = opens.entry(Unit::task(&spec.name, id)).or_default();
            *count += 1;
            *count
        };
        if id == 0 && (spec.name == "always-fails" || (spec.name == "fails-twice" && opened <= 2)) {
            return Err(Error::other(format!("the system is away (open {opened})")));
        }
        if id == 0 && spec.name == "refuses-its-data" {
            return Err(crate::task::stage::Stage::ValueConverter.stop(Error::other("the avro converter needs a schema")));
        }
        Ok(Box::new(FakeTask { unit: Unit::task(&spec.name, id), running: self.running.clone(), ran_twice: self.ran_twice.clone() }))
    }

    fn errors(&self, _spec: &ConnectorSpec) -> ErrorHandling {
        ErrorHandling { restart_max_attempts: RESTARTS, ..ErrorHandling::default() }
    }
}

struct FakeTask {
    unit: Unit,
    running: Arc<StdMutex<BTreeSet<Unit>>>,
    ran_twice: Arc<StdMutex<Vec<Unit>>>,
}

impl TaskRunner for FakeTask {
    fn run(self: Box<Self>, mut control: Control, _status: StatusCell) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async move {
            if self.unit == Unit::task("panics-running", 2) {
                panic!("{}", String::from("a bug in the task loop"));
            }
            if !self.running.lock().unwrap_or_else(PoisonError::into_inner).insert(self.unit.clone()) {
                self.ran_twice.lock().unwrap_or_else(PoisonError::into_inner).push(self.unit.clone());
            }
            // Runs until asked to stop, or until its worker is gone (the sender dropped).
            while *control.borrow_and_update() != TargetState::Stopped {
                if control.changed().await.is_err() {
                    break;
                }
            }
            self.running.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.unit);
            Ok(())
        })
    }
}

/// The logs a cluster shares, its member list and the fake launcher of all its workers.
struct Cluster {
    configs: Configs,
    statuses: Statuses,
    offsets: StateLog,
    members: watch::Sender<Vec<String>>,
    launcher: Arc<FakeLauncher>,
}

impl Cluster {
    fn new(members: &[&str]) -> Cluster {
        Cluster {
            configs: Configs::new(StateLog::memory("configs")),
            statuses: Statuses::new(StateLog::memory_with("statuses", statuses::fenced)),
            offsets: StateLog::memory("offsets"),
            members: watch::channel(members.iter().map(|m| m.to_string()).collect()).0,
            launcher: Arc::default(),
        }
    }

    async fn worker(&self, id: &str) -> Arc<Herder<FakeLauncher>> {
        self.worker_seeing(id, None, self.members.subscribe()).await
    }

    /// A worker with its own view of the members and, optionally, a lease.
    async fn worker_seeing(&self, id: &str, lease: Option<Arc<Lease>>, members: watch::Receiver<Vec<String>>) -> Arc<Herder<FakeLauncher>> {
        let settings = HerderSettings { id: id.to_owned(), takeover_delay: TAKEOVER, cluster: true, lease, other_logs: Vec::new() };
        let herder =
            Herder::new(settings, self.configs.clone(), self.statuses.clone(), self.offsets.clone(), members, self.launcher.clone());
        herder.start().await;
        herder
    }

    async fn create(&self, name: &str) {
        let config = json!({"connector.class": "fake"}).as_object().cloned().unwrap_or_default();
        self.configs.put(name, &config, Some(TargetState::Started)).await.expect("a memory log takes it");
    }

    fn set_members(&self, members: &[&str]) {
        self.members.send_replace(members.iter().map(|m| m.to_string()).collect());
    }

    fn ran_twice(&self) -> Vec<Unit> {
        self.launcher.ran_twice.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The units `herder` runs.
async fn units(herder: &Herder<FakeLauncher>) -> BTreeSet<Unit> {
    herder.running().lock().await.units().cloned().collect()
}

/// Waits (in paused time) until `done` holds; false after a minute of virtual time.
async fn eventually(mut done: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..3000 {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A worker killed without releasing anything: its herder stops and its tasks die with it.
async fn kill(herder: &Herder<FakeLauncher>) {
    herder.stop().await;
    drop(std::mem::take(&mut herder.running().lock().await.units));
}

#[tokio::test(start_paused = true)]
async fn two_workers_split_the_units_and_a_missing_one_s_units_move_only_after_the_takeover_delay() {
    let cluster = Cluster::new(&["a", "b"]);
    cluster.create("orders").await;
    let (a, b) = (cluster.worker("a").await, cluster.worker("b").await);
    let all = 1 + TASKS;
    assert!(
        eventually(async || {
            let (on_a, on_b) = (units(&a).await, units(&b).await);
            on_a.len() + on_b.len() == all && on_a.is_disjoint(&on_b) && !on_a.is_empty() && !on_b.is_empty()
        })
        .await,
        "the units were not split: a runs {:?}, b runs {:?}",
        units(&a).await,
        units(&b).await
    );
    let on_b = units(&b).await;

    kill(&b).await;
    cluster.set_members(&["a"]);
    let left = tokio::time::Instant::now();
    tokio::time::sleep(TAKEOVER / 2).await;
    assert!(units(&a).await.is_disjoint(&on_b), "a took b's units before the takeover delay");
    assert!(eventually(async || units(&a).await.len() == all).await, "a runs {:?} of {all} units", units(&a).await);
    assert!(left.elapsed() >= TAKEOVER, "taken over after {:?}", left.elapsed());
    assert_eq!(cluster.ran_twice(), Vec::<Unit>::new());
}

#[tokio::test(start_paused = true)]
async fn a_joining_worker_takes_its_share_from_the_running_one_and_nothing_runs_twice() {
    let cluster = Cluster::new(&["a"]);
    cluster.create("orders").await;
    cluster.create("invoices").await;
    let a = cluster.worker("a").await;
    let all = 2 * (1 + TASKS);
    assert!(eventually(async || units(&a).await.len() == all).await, "a runs {:?}", units(&a).await);

    cluster.set_members(&["a", "b"]);
    let b = cluster.worker("b").await;
    assert!(
        eventually(async || {
            let (on_a, on_b) = (units(&a).await, units(&b).await);
            on_a.len() + on_b.len() == all && on_a.is_disjoint(&on_b) && on_b.len() >= all / 2 - 1
        })
        .await,
        "a runs {:?}, b runs {:?}",
        units(&a).await,
        units(&b).await
    );
    assert_eq!(cluster.ran_twice(), Vec::<Unit>::new());
}

#[tokio::test(start_paused = true)]
async fn a_deleted_connector_s_units_stop_and_are_not_claimed_again() {
    let cluster = Cluster::new(&["a"]);
    cluster.create("orders").await;
    let a = cluster.worker("a").await;
    assert!(eventually(async || units(&a).await.len() == 1 + TASKS).await);
    let position = cluster.configs.delete("orders").await.unwrap();
    a.sync(position).await;
    assert!(eventually(async || units(&a).await.is_empty()).await, "a still runs {:?}", units(&a).await);
    assert!(cluster.launcher.running.lock().unwrap_or_else(PoisonError::into_inner).is_empty(), "a task outlived its connector");
}

#[tokio::test(start_paused = true)]
async fn after_a_lapse_a_cut_off_worker_stops_its_units_and_never_runs_those_taken_over() {
    let cluster = Cluster::new(&["a", "b"]);
    cluster.create("orders").await;
    // a's own view of the members, which goes stale when it is cut off.
    let (a_view, a_members) = watch::channel(vec!["a".to_owned(), "b".to_owned()]);
    let lease = Lease::new(TAKEOVER);
    let a = cluster.worker_seeing("a", Some(lease.clone()), a_members).await;
    let b = cluster.worker("b").await;
    let all = 1 + TASKS;
    assert!(eventually(async || units(&a).await.len() + units(&b).await.len() == all && !units(&a).await.is_empty()).await);

    // b no longer sees a and takes its units over; a, cut off, neither knows nor renews its lease.
    cluster.set_members(&["b"]);
    assert!(eventually(async || units(&b).await.len() == all).await, "b runs {:?}", units(&b).await);
    assert!(!units(&a).await.is_empty(), "the zombie still runs its units (its tasks are fenced by the lease)");

    // a sees itself again, after longer than the takeover delay: a lapse.
    lease.renew();
    assert!(eventually(async || units(&a).await.is_empty()).await, "a still runs {:?}", units(&a).await);
    tokio::time::sleep(TAKEOVER * 2).await;
    assert!(units(&a).await.is_empty(), "a started again {:?}, which b took over", units(&a).await);
    assert_eq!(units(&b).await.len(), all);
    drop(a_view);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_connector_fails_alone_with_its_message_as_the_trace() {
    let cluster = Cluster::new(&["a"]);
    for name in ["panics-planning", "panics-opening", "panics-running", "fine"] {
        cluster.create(name).await;
    }
    let a = cluster.worker("a").await;
    let state = |unit: Unit| cluster.statuses.get(&unit).map(|(s, _)| (s.state, s.trace.unwrap_or_default()));
    let failed_with = |unit: Unit, message: &str| state(unit).is_some_and(|(s, trace)| s == State::Failed && trace.contains(message));
    assert!(
        eventually(async || {
            failed_with(Unit::Connector("panics-planning".into()), "panicked: a bug in planning")
                && failed_with(Unit::task("panics-opening", 1), "panicked: a bug in opening task 1")
                && failed_with(Unit::task("panics-running", 2), "panicked: a bug in the task loop")
                && (0..TASKS as u32).all(|id| state(Unit::task("fine", id)).is_some_and(|(s, _)| s == State::Running))
        })
        .await,
        "{:?}",
        cluster.statuses.current().all.clone()
    );
    assert_eq!(state(Unit::task("panics-opening", 0)).map(|(s, _)| s), Some(State::Running), "its other tasks run");
    assert!(units(&a).await.contains(&Unit::task("fine", 0)), "the worker goes on");
}

#[tokio::test(start_paused = true)]
async fn health_checks_are_answered_by_the_reconcile_loop_without_a_pass() {
    let cluster = Cluster::new(&["a"]);
    cluster.create("orders").await;
    let settings = HerderSettings { id: "a".to_owned(), takeover_delay: TAKEOVER, cluster: true, lease: None, other_logs: Vec::new() };
    let herder = Herder::new(
        settings,
        cluster.configs.clone(),
        cluster.statuses.clone(),
        cluster.offsets.clone(),
        cluster.members.subscribe(),
        cluster.launcher.clone(),
    );
    assert!(!herder.started());
    assert!(!herder.responsive(Duration::from_secs(10)).await, "nobody answers before the loop runs");
    herder.start().await;
    assert!(eventually(async || herder.started() && units(&herder).await.len() == 1 + TASKS).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let passes = herder.pass_count();
    for _ in 0..5 {
        assert!(herder.responsive(Duration::from_secs(10)).await);
    }
    assert_eq!(herder.pass_count(), passes, "a health check changes nothing, so it makes no pass");
}

#[tokio::test(start_paused = true)]
async fn a_failed_task_restarts_by_itself_with_backoff_until_its_attempts_are_used_up() {
    let cluster = Cluster::new(&["a"]);
    cluster.create("fails-twice").await;
    cluster.create("always-fails").await;
    let started = tokio::time::Instant::now();
    let _a = cluster.worker("a").await;
    let status = |name: &str| cluster.statuses.get(&Unit::task(name, 0)).map(|(s, _)| s);
    assert!(eventually(async || status("fails-twice").is_some_and(|s| s.state == State::Running)).await, "{:?}", status("fails-twice"));
    // Backoffs of 1 s and 2 s (errors.restart.backoff.ms doubled) came first.
    assert!(started.elapsed() >= Duration::from_secs(3), "restarted after {:?}", started.elapsed());
    let recovered = status("fails-twice").unwrap();
    assert_eq!(recovered.restarts, 2);
    assert!(recovered.last_error.as_deref().is_some_and(|e| e.contains("the system is away (open 2)")), "{recovered:?}");

    let gave_up = async || {
        status("always-fails")
            .is_some_and(|s| s.state == State::Failed && s.trace.unwrap_or_default().contains("left failed after 3 automatic restarts"))
    };
    assert!(eventually(gave_up).await, "{:?}", status("always-fails"));
    tokio::time::sleep(Duration::from_secs(120)).await;
    let opens = cluster.launcher.opens.lock().unwrap_or_else(PoisonError::into_inner).get(&Unit::task("always-fails", 0)).copied();
    assert_eq!(opens, Some(1 + RESTARTS), "opened once, then restarted {RESTARTS} times, then left failed");
    assert!(status("always-fails").unwrap().trace.unwrap().contains("the system is away (open 4)"));
    // Its other tasks never failed.
    assert_eq!(cluster.statuses.get(&Unit::task("always-fails", 1)).map(|(s, _)| s.state), Some(State::Running));
}

#[tokio::test(start_paused = true)]
async fn a_task_failed_on_its_data_is_not_restarted_by_itself() {
    let cluster = Cluster::new(&["a"]);
    cluster.create("refuses-its-data").await;
    let _a = cluster.worker("a").await;
    let status = || cluster.statuses.get(&Unit::task("refuses-its-data", 0)).map(|(s, _)| s);
    let left_failed =
        async || status().is_some_and(|s| s.state == State::Failed && s.trace.unwrap_or_default().contains("not restarted automatically"));
    assert!(eventually(left_failed).await, "{:?}", status());
    tokio::time::sleep(Duration::from_secs(120)).await;
    let opens = cluster.launcher.opens.lock().unwrap_or_else(PoisonError::into_inner).get(&Unit::task("refuses-its-data", 0)).copied();
    assert_eq!(opens, Some(1), "a restart would meet the same record: none is made");
    let trace = status().unwrap().trace.unwrap();
    assert!(trace.starts_with("the value converter refused a record: the avro converter needs a schema"), "{trace}");
}

mod scale;
