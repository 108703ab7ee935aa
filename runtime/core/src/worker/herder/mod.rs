//! The herder: makes what runs on this worker match what the logs and the membership say.
//!
//! It wakes whenever the config log, the status log or the member list changes (and every few
//! seconds), and then, in one pass:
//! 1. computes the assignment of every unit from the sorted members, the units the configs
//!    define and their owners in the status log ([`assigned_to`]);
//! 2. stops the units it runs but was not assigned, and **releases** them (a status with no
//!    owner), so a unit moves only once its old owner has flushed, committed and let go;
//! 3. **claims** the free units it was assigned (owned by nobody, by itself, or by a worker
//!    that left): it writes a status naming itself, reads the status log to its end, and keeps
//!    the units whose latest record is its own claim (the record's position is the claim's
//!    generation; of two claims the later one wins);
//! 4. starts what it won, and follows changes to what it runs (new task configs, target
//!    states, restart requests).
//!
//! Every worker evaluates the same function on the same logs, so they agree without a leader.

#[cfg(test)]
mod tests;
mod units;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use connect_sdk::config::{ConfigMap, ErrorHandling};
use connect_sdk::{Error, TaskPlan};
use futures_util::StreamExt;
use futures_util::future::join_all;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub(crate) use units::Running;
use units::{RunningTask, RunningUnit, Schedule};

use super::status_writer::{StatusWriteError, StatusWriter};
use crate::cluster::assign::assigned_to;
use crate::state::configs::{Configs, ConnectorSpec, RestartRequest};
use crate::state::log::{LogError, StateLog};
use crate::state::statuses::{Statuses, UnitStatus};
use crate::state::unit::Unit;
use crate::task::{State, TaskRunner};

/// How often the herder looks again without being woken (snapshots, leftover statuses).
const HOUSEKEEPING: Duration = Duration::from_secs(5);
/// How long a REST call waits for this worker to apply what it wrote.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Passes run back to back while a pass itself changes the configs (a new connector's task configs).
const MAX_PASSES: usize = 4;
/// Units a pass opens at once.
const OPENED_AT_ONCE: usize = 16;

/// What the herder needs to run units: planning a connector's tasks and opening a task.
/// The [`Launcher`](super::launcher::Launcher) does it for real; tests of the herder use a fake.
pub(crate) trait Launch: Send + Sync + 'static {
    /// Plans the tasks of `spec`'s connector.
    fn plan(&self, spec: &ConnectorSpec) -> impl Future<Output = Result<TaskPlan<ConfigMap>, Error>> + Send;
    /// Opens task `id` of `spec` (its task configs exist) for its run under claim
    /// `generation`, ready to run.
    fn open_task(&self, spec: &ConnectorSpec, id: u32, generation: u64) -> impl Future<Output = Result<Box<dyn TaskRunner>, Error>> + Send;
    /// The connector's `errors.*` keys (automatic restarts of its failed tasks).
    fn errors(&self, _spec: &ConnectorSpec) -> ErrorHandling {
        ErrorHandling::default()
    }
    /// `text` (a failure trace) with `spec`'s secrets put back as their placeholders.
    fn redact(&self, _spec: &ConnectorSpec, text: &str) -> String {
        text.to_owned()
    }
    /// Counts an automatic restart of task `id` of `connector`.
    fn count_auto_restart(&self, _connector: &str, _id: u32) {}
}

/// Who a herder is and how it behaves in its cluster.
#[derive(Clone)]
pub(crate) struct HerderSettings {
    /// This worker's id.
    pub id: String,
    /// How long an owner must be missing from the member list before its units are taken over.
    pub takeover_delay: Duration,
    /// Whether this worker is part of a cluster: releases its units when it stops, and when
    /// first in the member list writes snapshots and removes statuses nobody cleans up.
    pub cluster: bool,
    /// This worker's lease in its cluster: after a lapse every task stops, and those still
    /// this worker's start again.
    pub lease: Option<Arc<crate::cluster::lease::Lease>>,
    /// Logs besides the herder's own that the first member snapshots (the schema registry's,
    /// once it is open).
    pub other_logs: Vec<Arc<dyn Fn() -> Option<StateLog> + Send + Sync>>,
}

/// A reconcile pass failed; the herder tries again.
#[derive(Debug, thiserror::Error)]
enum PassError {
    #[error(transparent)]
    Statuses(#[from] StatusWriteError),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// Makes what runs on this worker match what the logs and the membership say.
pub(crate) struct Herder<L> {
    settings: HerderSettings,
    configs: Configs,
    statuses: Statuses,
    /// Source offsets: caught up before a task starts, so it resumes where its previous owner committed.
    offsets: StateLog,
    status_writer: StatusWriter,
    members: watch::Receiver<Vec<String>>,
    launcher: Arc<L>,
    running: Mutex<Running>,
    /// The config log position (the next record's) seen by the last completed pass; `None`
    /// before the first.
    passes: watch::Sender<Option<u64>>,
    /// Reconcile passes made so far (a metric: it grows only when something changes).
    pass_count: AtomicU64,
    /// Units stopped because this worker was cut off from its cluster (it left its own member
    /// list, or its lease lapsed).
    fenced_count: AtomicU64,
    /// Connectors and tasks running here after the last pass.
    counts: [AtomicU64; 2],
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Health checks: each is answered by the reconcile loop between two passes.
    pings: tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
    ping_inbox: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<tokio::sync::oneshot::Sender<()>>>>,
}

/// The next health check, if this loop answers them (the first loop started does).
async fn next_ping(
    pings: &mut Option<tokio::sync::mpsc::Receiver<tokio::sync::oneshot::Sender<()>>>,
) -> Option<tokio::sync::oneshot::Sender<()>> {
    match pings {
        Some(pings) => pings.recv().await,
        None => std::future::pending().await,
    }
}

/// Whether a restart request covers a unit.
pub(super) fn restart_covers(request: &RestartRequest, unit: &Unit, failed: bool) -> bool {
    match (request.task, unit) {
        (Some(id), Unit::Task(_, task)) => id == *task,
        (Some(_), Unit::Connector(_)) => false,
        (None, Unit::Connector(_)) => !request.only_failed || failed,
        (None, Unit::Task(..)) => request.include_tasks && (!request.only_failed || failed),
    }
}

impl<L: Launch> Herder<L> {
    /// A herder over these logs; [`start`](Herder::start) runs it.
    pub(crate) fn new(
        settings: HerderSettings,
        configs: Configs,
        statuses: Statuses,
        offsets: StateLog,
        members: watch::Receiver<Vec<String>>,
        launcher: Arc<L>,
    ) -> Arc<Herder<L>> {
        let (pings, ping_inbox) = tokio::sync::mpsc::channel(16);
        Arc::new(Herder {
            status_writer: StatusWriter::spawn(statuses.clone()),
            settings,
            configs,
            statuses,
            offsets,
            members,
            launcher,
            running: Mutex::default(),
            passes: watch::channel(None).0,
            pass_count: AtomicU64::new(0),
            fenced_count: AtomicU64::new(0),
            counts: Default::default(),
            stop: watch::channel(false).0,
            task: Mutex::default(),
            pings,
            ping_inbox: std::sync::Mutex::new(Some(ping_inbox)),
        })
    }

    /// Starts the reconcile loop; a standalone worker returns once its stored connectors run.
    pub(crate) async fn start(self: &Arc<Self>) {
        {
            // Restart requests already in the log are history.
            let mut running = self.running.lock().await;
            for name in self.configs.names() {
                if let Some((at, _)) = self.configs.restart_request(&name) {
                    running.restarts_seen.insert(name, at);
                }
            }
        }
        let herder = self.clone();
        *self.task.lock().await = Some(tokio::spawn(async move { herder.herd().await }));
        if !self.settings.cluster {
            self.sync_to(self.configs.log().next()).await;
        }
    }

    /// Stops the reconcile loop (the units keep running until released).
    pub(crate) async fn stop(&self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }

    /// Whether the reconcile loop answers within `timeout` (Kafka's KIP-1017 health check: a
    /// loop stuck in a pass, a task that will not stop, answers late or not at all).
    pub(crate) async fn responsive(&self, timeout: Duration) -> bool {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let asked = tokio::time::timeout(timeout, self.pings.send(reply)).await.is_ok_and(|sent| sent.is_ok());
        asked && tokio::time::timeout(timeout, answer).await.is_ok_and(|answered| answered.is_ok())
    }

    /// Whether the first reconcile pass is done (the stored connectors were looked at).
    pub(crate) fn started(&self) -> bool {
        self.passes.borrow().is_some()
    }

    /// What runs here.
    pub(crate) fn running(&self) -> &Mutex<Running> {
        &self.running
    }

    /// Reconcile passes made so far.
    pub(crate) fn pass_count(&self) -> u64 {
        self.pass_count.load(Ordering::Relaxed)
    }

    /// Units stopped so far because this worker was cut off from its cluster.
    pub(crate) fn fenced_count(&self) -> u64 {
        self.fenced_count.load(Ordering::Relaxed)
    }

    /// (connectors, tasks) running here, as of the last pass.
    pub(crate) fn unit_counts(&self) -> (u64, u64) {
        (self.counts[0].load(Ordering::Relaxed), self.counts[1].load(Ordering::Relaxed))
    }

    fn count(&self, running: &Running) {
        let (connectors, tasks) = running.counts();
        self.counts[0].store(connectors as u64, Ordering::Relaxed);
        self.counts[1].store(tasks as u64, Ordering::Relaxed);
    }

    /// Waits (bounded) until this worker applied the config record at `position`, and its
    /// statuses are written.
    pub(crate) async fn sync(&self, position: u64) {
        self.sync_to(position + 1).await;
    }

    /// Waits (bounded) until a pass of this worker saw the config log up to `next`.
    async fn sync_to(&self, next: u64) {
        let mut passes = self.passes.subscribe();
        if tokio::time::timeout(SYNC_TIMEOUT, passes.wait_for(|seen| seen.is_some_and(|seen| seen >= next))).await.is_err() {
            tracing::warn!(next, "this worker has not applied a config change within {SYNC_TIMEOUT:?}");
        }
        self.status_writer.flush().await;
    }

    async fn herd(self: Arc<Self>) {
        let mut configs = self.configs.log().changes();
        let mut statuses = self.statuses.log().changes();
        let mut members = self.members.clone();
        let mut stop = self.stop.subscribe();
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        let mut lapses = self.settings.lease.as_ref().map(|lease| lease.lapses());
        let mut members_open = true;
        let mut pings = self.ping_inbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        loop {
            if *stop.borrow_and_update() {
                break;
            }
            configs.borrow_and_update();
            statuses.borrow_and_update();
            members.borrow_and_update();
            let mut seen = self.configs.log().next();
            let mut look_again = None;
            for _ in 0..MAX_PASSES {
                self.pass_count.fetch_add(1, Ordering::Relaxed);
                match self.reconcile().await {
                    Ok(at) => look_again = at,
                    Err(error) => {
                        tracing::warn!(%error, "reconciling failed; trying again");
                        look_again = Some(Instant::now() + Duration::from_millis(500));
                    }
                }
                let now = self.configs.log().next();
                if now == seen {
                    break;
                }
                seen = now;
            }
            self.passes.send_replace(Some(seen));
            let statuses_seen = self.statuses.revision();
            // A channel whose sender is gone (a standalone worker's fixed member list) would
            // answer `changed` at once, forever: it is no longer listened to.
            // A health check is answered without a pass: nothing changed.
            loop {
                tokio::select! {
                    _ = stop.changed() => {}
                    _ = configs.changed() => {}
                    // The members' heartbeats change the status log every second or so,
                    // and change nothing a pass looks at.
                    _ = statuses.changed() => if self.statuses.revision() == statuses_seen { continue },
                    changed = members.changed(), if members_open => members_open = changed.is_ok(),
                    _ = lapsed(&mut lapses) => {}
                    _ = tokio::time::sleep_until(look_again.unwrap_or_else(Instant::now)), if look_again.is_some() => {}
                    _ = housekeeping.tick() => self.housekeeping().await,
                    Some(reply) = next_ping(&mut pings) => {
                        let _ = reply.send(());
                        continue;
                    }
                }
                break;
            }
        }
    }

    /// After a lapse of the lease (this worker was missing from its cluster longer than the
    /// takeover delay), stops every running unit without releasing it: the pass that follows
    /// starts again, under a new generation, the units the status log still gives this worker,
    /// and never those another worker took over meanwhile. The tasks had fenced themselves.
    async fn restart_after_lapse(&self, running: &mut Running) {
        let Some(lease) = &self.settings.lease else { return };
        let epoch = lease.epoch();
        if epoch == running.lease_epoch {
            return;
        }
        running.lease_epoch = epoch;
        self.fenced_count.fetch_add(running.units.len() as u64, Ordering::Relaxed);
        tracing::warn!(units = running.units.len(), "the lease lapsed: stopping every unit; those still this worker's start again");
        let stopping: Vec<_> =
            std::mem::take(&mut running.units).into_iter().map(|(unit, stopped)| async move { stopped.stop(&unit).await }).collect();
        join_all(stopping).await;
    }

    /// One pass: see the module documentation. Returns when to look again at the latest
    /// (a missing worker's units become free then).
    async fn reconcile(&self) -> Result<Option<Instant>, PassError> {
        let me = self.settings.id.as_str();
        let members = self.members.borrow().clone();
        let connectors = self.configs.all();
        let specs = &connectors.specs;
        let listed: HashSet<&str> = members.iter().map(String::as_str).collect();
        // What this pass needs of the owners, taken before the first await: a snapshot of
        // every status held across the pass's awaits lives as long as the pass, and a
        // simulated cluster runs a thousand passes at once.
        let (mine, owners_of_mine, owned_before, absent) = {
            let statuses = self.statuses.current();
            let owners = &statuses.owners;
            let mine = if listed.contains(me) { assigned_to(me, &members, &connectors.units, owners) } else { BTreeSet::new() };
            let owners_of_mine: BTreeMap<Unit, String> = mine.iter().filter_map(|u| Some((u.clone(), owners.get(u)?.clone()))).collect();
            let owned_before: Vec<Unit> = owners.iter().filter(|(_, owner)| *owner == me).map(|(unit, _)| unit.clone()).collect();
            let absent: BTreeSet<String> = owners.values().filter(|o| !listed.contains(o.as_str())).cloned().collect();
            (mine, owners_of_mine, owned_before, absent)
        };

        let mut running = self.running.lock().await;
        self.follow_log_levels(&mut running);
        self.restart_after_lapse(&mut running).await;
        let lost: Vec<Unit> = running.units.keys().filter(|u| !mine.contains(*u)).cloned().collect();
        if self.settings.cluster && !listed.contains(me) {
            // Cut off: this worker does not see its own heartbeat, so the others will take over.
            self.fenced_count.fetch_add(lost.len() as u64, Ordering::Relaxed);
        }
        let stopping = lost.into_iter().map(|unit| {
            let stopped = running.units.remove(&unit).expect("listed above");
            async move {
                let generation = stopped.stop(&unit).await;
                (unit, generation)
            }
        });
        let release = |unit: &Unit, generation: u64| (unit.clone(), connectors.defines(unit).then(|| UnitStatus::released(generation)));
        let mut released: Vec<(Unit, Option<UnitStatus>)> =
            join_all(stopping.collect::<Vec<_>>()).await.iter().map(|(unit, generation)| release(unit, *generation)).collect();
        // What a previous life of this worker owned and this one does not run.
        for unit in &owned_before {
            if !running.units.contains_key(unit) && !mine.contains(unit) {
                let generation = self.statuses.get(unit).map_or(0, |(status, _)| status.generation);
                released.push(release(unit, generation));
            }
        }
        if !released.is_empty() {
            tracing::debug!(units = released.len(), "releasing units");
            self.status_writer.write(released).await?;
        }

        // A worker missing from the member list is gone once it has been missing for the
        // takeover delay: the lists of workers that just joined or left briefly differ.
        let now = Instant::now();
        let delay = self.settings.takeover_delay;
        running.absent_since.retain(|worker, _| absent.contains(worker));
        for owner in absent {
            running.absent_since.entry(owner).or_insert(now);
        }
        let gone: BTreeSet<&String> = running.absent_since.iter().filter(|(_, since)| now - **since >= delay).map(|(w, _)| w).collect();
        let look_again = running.absent_since.values().map(|since| *since + delay).filter(|at| *at > now).min();
        let free = |unit: &Unit| owners_of_mine.get(unit).is_none_or(|owner| owner == me || gone.contains(owner));
        let wanted: Vec<Unit> = mine.iter().filter(|u| !running.units.contains_key(*u) && free(u)).cloned().collect();
        let won = self.claim(wanted).await?;
        if won.iter().any(|(unit, _)| matches!(unit, Unit::Task(..))) {
            // A task resumes from the offsets its previous owner committed.
            self.offsets.catch_up().await?;
        }
        // Opened a few at a time: opening a task may wait on the broker (an exactly-once
        // source's scan of what it already holds), and one at a time a worker taking over a
        // hundred tasks took minutes.
        let starting = won.into_iter().map(|(unit, generation)| async move {
            let started = match &unit {
                Unit::Connector(name) => RunningUnit::Connector(self.run_connector(&specs[name], generation, None).await),
                Unit::Task(name, id) => RunningUnit::Task(self.start_task(&specs[name], *id, generation, None).await),
            };
            tracing::info!(%unit, generation, "started");
            (unit, started)
        });
        let started: Vec<(Unit, RunningUnit)> = futures_util::stream::iter(starting).buffer_unordered(OPENED_AT_ONCE).collect().await;
        running.units.extend(started);

        self.follow_changes(specs, &mut running).await;
        self.handle_restarts(specs, &mut running).await;
        let recovery_due = self.recover_failed_tasks(specs, &mut running).await;
        self.count(&running);
        let replans = running.units.values().filter_map(|u| match u {
            RunningUnit::Connector(connector) => connector.replan_at,
            RunningUnit::Task(_) => None,
        });
        Ok(look_again.into_iter().chain(replans).chain(recovery_due).min())
    }

    /// Claims `units`; returns those won, with their generation.
    async fn claim(&self, units: Vec<Unit>) -> Result<Vec<(Unit, u64)>, PassError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let claims =
            units.iter().map(|u| (u.clone(), Some(UnitStatus::claim(&self.settings.id, self.statuses.get(u).map(|(_, at)| at))))).collect();
        let first = self.status_writer.write(claims).await?;
        self.statuses.log().catch_up().await?;
        let mut won = Vec::new();
        for (i, unit) in units.into_iter().enumerate() {
            let position = first + i as u64;
            match self.statuses.get(&unit) {
                Some((_, at)) if at == position => won.push((unit, position)),
                _ => tracing::info!(%unit, "another worker claimed it first"),
            }
        }
        Ok(won)
    }

    /// Restarts tasks whose task configs changed, plans again connectors whose config or
    /// target changed or whose plan is due, and passes target states on to tasks.
    async fn follow_changes(&self, specs: &BTreeMap<String, ConnectorSpec>, running: &mut Running) {
        let units: Vec<Unit> = running.units.keys().cloned().collect();
        let now = Instant::now();
        for unit in units {
            let spec = &specs[unit.connector()];
            let restart = match running.units.get_mut(&unit) {
                Some(RunningUnit::Connector(connector)) => {
                    if connector.outdated(spec, now) {
                        *connector = self.run_connector(spec, connector.generation, Some(connector)).await;
                    }
                    false
                }
                Some(RunningUnit::Task(task)) => {
                    let changed = spec.tasks.as_ref().is_some_and(|t| t.revision != task.tasks_revision);
                    if !changed {
                        task.set_target(spec.target);
                    }
                    changed
                }
                None => false,
            };
            if restart {
                running.recoveries.remove(&unit);
                self.restart_unit(spec, &unit, running).await;
            }
        }
    }

    /// Acts on restart requests newer than the last one seen, for the units running here.
    async fn handle_restarts(&self, specs: &BTreeMap<String, ConnectorSpec>, running: &mut Running) {
        running.restarts_seen.retain(|name, _| specs.contains_key(name));
        for (name, spec) in specs {
            let Some((at, request)) = self.configs.restart_request(name) else { continue };
            if running.restarts_seen.get(name).is_some_and(|seen| *seen >= at) {
                continue;
            }
            running.restarts_seen.insert(name.clone(), at);
            let covered: Vec<Unit> = running
                .units
                .iter()
                .filter(|(unit, r)| unit.connector() == name && restart_covers(&request, unit, r.failed()))
                .map(|(unit, _)| unit.clone())
                .collect();
            for unit in covered {
                tracing::info!(%unit, "restarting on request");
                running.recoveries.remove(&unit);
                self.restart_unit(spec, &unit, running).await;
            }
        }
    }

    /// Applies the log levels set for the whole cluster since the last pass (all of them at
    /// start-up), when this process's log is the worker's.
    fn follow_log_levels(&self, running: &mut Running) {
        let Some(levels) = crate::logging::levels() else { return };
        for (logger, level, at) in self.configs.log_levels() {
            if running.log_levels_seen.is_some_and(|seen| at <= seen) {
                continue;
            }
            match levels.set(&logger, &level) {
                Ok(_) => tracing::info!(%logger, %level, "log level set for the cluster"),
                Err(e) => tracing::warn!(%logger, error = %e, "a cluster log level could not be applied"),
            }
            running.log_levels_seen = Some(at);
        }
    }

    /// Restarts failed tasks by themselves (`errors.restart.*`): a task that failed is started
    /// again after a backoff that doubles per attempt, until the attempts are used up (the task
    /// then stays failed, as it says). Returns when the next restart is due.
    async fn recover_failed_tasks(&self, specs: &BTreeMap<String, ConnectorSpec>, running: &mut Running) -> Option<Instant> {
        let now = Instant::now();
        let Running { units, recoveries, .. } = &mut *running;
        recoveries.retain(|unit, _| units.contains_key(unit));
        let mut due = Vec::new();
        let mut next = None;
        for (unit, running_unit) in units.iter() {
            let RunningUnit::Task(task) = running_unit else { continue };
            let status = task.status.get();
            if status.state != State::Failed {
                continue;
            }
            let spec = &specs[unit.connector()];
            let errors = self.launcher.errors(spec);
            let recovery = recoveries.entry(unit.clone()).or_default();
            match recovery.schedule(&errors, status.trace, task.status.curable(), now) {
                Schedule::Due => due.push(unit.clone()),
                Schedule::At(at, note) => {
                    if let Some(note) = note {
                        tracing::warn!(%unit, "{note}");
                        task.status.note(&note);
                    }
                    next = next.into_iter().chain([at]).min();
                }
                Schedule::GaveUp(note) => {
                    if let Some(note) = note {
                        tracing::error!(%unit, "{note}");
                        task.status.note(&note);
                    }
                }
            }
        }
        for unit in due {
            let (Unit::Task(name, id), Some(spec)) = (&unit, specs.get(unit.connector())) else { continue };
            if let Some(recovery) = running.recoveries.get_mut(&unit) {
                recovery.restarted(now);
                tracing::info!(%unit, attempt = recovery.attempts, "restarting the failed task automatically");
            }
            self.launcher.count_auto_restart(name, *id);
            self.restart_unit(spec, &unit, running).await;
        }
        next
    }

    /// Restarts a unit in place (it stays with this worker, same generation).
    async fn restart_unit(&self, spec: &ConnectorSpec, unit: &Unit, running: &mut Running) {
        let Some(current) = running.units.remove(unit) else { return };
        let generation = current.generation();
        let restarted = match (unit, current) {
            (Unit::Task(_, id), RunningUnit::Task(task)) => {
                task.status.set(State::Restarting);
                RunningTask::stop(task, unit).await;
                RunningUnit::Task(self.start_task(spec, *id, generation, running.recoveries.get(unit)).await)
            }
            (_, _) => RunningUnit::Connector(self.run_connector(spec, generation, None).await),
        };
        running.units.insert(unit.clone(), restarted);
    }

    /// Snapshots of the state topics and removal of statuses nobody will clean up (units
    /// gone while their owner was away): done by the first member only.
    async fn housekeeping(&self) {
        if !self.settings.cluster || self.members.borrow().first().map(String::as_str) != Some(self.settings.id.as_str()) {
            return;
        }
        let others: Vec<StateLog> = self.settings.other_logs.iter().filter_map(|log| log()).collect();
        for log in [self.configs.log(), &self.offsets, self.statuses.log()].into_iter().chain(&others) {
            if let Err(error) = log.snapshot_if_due().await {
                tracing::warn!(%error, "writing a snapshot failed");
            }
        }
        let members: HashSet<String> = self.members.borrow().iter().cloned().collect();
        let connectors = self.configs.all();
        let stale: Vec<(Unit, Option<UnitStatus>)> = self
            .statuses
            .current()
            .all
            .iter()
            .filter(|(unit, (status, _))| !connectors.defines(unit) && !members.contains(&status.worker_id))
            .map(|(unit, _)| (unit.clone(), None))
            .collect();
        if !stale.is_empty() {
            self.status_writer.report(stale);
        }
    }

    /// Stops every unit running here and, in a cluster, releases it (at shutdown).
    pub(crate) async fn release_all(&self) {
        let units = {
            let mut running = self.running.lock().await;
            let units = std::mem::take(&mut running.units);
            self.count(&running);
            units
        };
        let stopping = units.into_iter().map(|(unit, running)| async move {
            let generation = running.stop(&unit).await;
            (unit, generation)
        });
        let stopped = join_all(stopping).await;
        if self.settings.cluster {
            let released = stopped.into_iter().map(|(unit, generation)| (unit, Some(UnitStatus::released(generation)))).collect();
            if let Err(error) = self.status_writer.write(released).await {
                tracing::warn!(%error, "releasing units at shutdown failed; the others take them over when this worker leaves");
            }
        }
        self.status_writer.flush().await;
    }
}

/// The next lapse of a lease; never, without one.
async fn lapsed(lapses: &mut Option<watch::Receiver<u64>>) {
    let open = match lapses {
        Some(lapses) => lapses.changed().await.is_ok(),
        None => false,
    };
    if !open {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod restart_tests {
    use super::*;

    #[test]
    fn restart_requests_cover_what_kafka_s_flags_say() {
        let request = |include_tasks, only_failed, task| RestartRequest { include_tasks, only_failed, task };
        let connector = Unit::Connector("c".to_owned());
        let task = Unit::task("c", 1);
        assert!(restart_covers(&request(false, false, None), &connector, false));
        assert!(!restart_covers(&request(false, false, None), &task, true));
        assert!(restart_covers(&request(true, false, None), &task, false));
        assert!(!restart_covers(&request(true, true, None), &task, false));
        assert!(restart_covers(&request(true, true, None), &task, true));
        assert!(!restart_covers(&request(true, true, None), &connector, false));
        assert!(restart_covers(&request(false, false, Some(1)), &task, false));
        assert!(!restart_covers(&request(false, false, Some(2)), &task, true));
        assert!(!restart_covers(&request(false, false, Some(1)), &connector, true));
    }
}
