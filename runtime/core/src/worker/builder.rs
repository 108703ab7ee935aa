//! [`WorkerBuilder`]: how a worker is configured and started, in both modes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use connect_sdk::converter::ConverterDefaults;
use connect_sdk::host::registry::Registry;
use tokio::sync::{Mutex, watch};

#[cfg(not(feature = "embedded"))]
use super::EmbeddedRocketMq;
use super::herder::{Herder, HerderSettings};
use super::launcher::Launcher;
use super::{Worker, WorkerError, WorkerInner};
use crate::allowlist::AllowedPaths;
use crate::cluster::lease::Lease;
use crate::cluster::membership::{MemberSettings, Membership};
#[cfg(feature = "embedded")]
use crate::embedded::{EmbeddedConfig, EmbeddedRocketMq, NameServer};
use crate::memory::MemoryBudget;
use crate::metrics::Metrics;
use crate::mq::{MqClient, Producer};
use crate::schema_registry::{SchemaRegistry, first_write_wins};
use crate::secrets::ConfigProviders;
use crate::state::configs::{self, Configs};
use crate::state::log::{Merge, StateLog, last_write_wins};
use crate::state::offsets::SourceOffsets;
use crate::state::statuses::{self, Statuses};
use crate::state::topic::{SnapshotPolicy, TopicLogConfig};
use crate::state::view::{LogCause, LogError};
use crate::task::RunnerSettings;
use crate::topics::TopicRules;

/// How long a standalone worker's offset commits gather before they are written: commits
/// wait on no task's loop, and a thousand tasks committing every few seconds share a few
/// writes and fsyncs instead of making one each.
const OFFSET_WRITE_GATHER: Duration = Duration::from_millis(50);

/// How to reach RocketMQ.
#[derive(Clone, Debug)]
enum Broker {
    /// An external cluster's name server (`host:port`).
    External(String),
    /// Start a name server and broker in-process on these ports (0 = free ports).
    #[cfg(feature = "embedded")]
    Embedded { namesrv_port: u16, broker_port: u16 },
}

/// What makes several workers one cluster: a name, and the topics they share.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// The cluster's name: workers with the same name (and name server) form one cluster.
    pub name: String,
    /// Topic of connector configs (default `<name>-configs`).
    pub config_topic: String,
    /// Topic of source offsets (default `<name>-offsets`).
    pub offset_topic: String,
    /// Topic of statuses (default `<name>-statuses`).
    pub status_topic: String,
    /// Topic of the schema registry's records (default `<name>-schemas`).
    pub schema_topic: String,
    /// How often the group's member list is read, on top of the broker's notifications.
    pub member_poll_interval: Duration,
    /// How long a worker must be missing from the member list before others take its units
    /// over (a worker that just joined is missing from the others' lists for a moment).
    pub takeover_delay: Duration,
    /// How often each worker writes its heartbeat to the status topic.
    pub heartbeat_interval: Duration,
    /// How long a worker's heartbeat may stand still (it hangs, or cannot reach the broker)
    /// before it is no longer a member; its units move `takeover_delay` later.
    pub member_timeout: Duration,
    /// When the internal topics get snapshots.
    pub snapshots: SnapshotPolicy,
}

impl ClusterSettings {
    /// Settings for cluster `name`, with the default topic names.
    pub fn new(name: &str) -> ClusterSettings {
        ClusterSettings {
            name: name.to_owned(),
            config_topic: format!("{name}-configs"),
            offset_topic: format!("{name}-offsets"),
            status_topic: format!("{name}-statuses"),
            schema_topic: format!("{name}-schemas"),
            member_poll_interval: Duration::from_millis(500),
            takeover_delay: Duration::from_secs(2),
            heartbeat_interval: Duration::from_secs(1),
            member_timeout: Duration::from_secs(8),
            snapshots: SnapshotPolicy::default(),
        }
    }

    fn check(&self) -> Result<(), WorkerError> {
        let valid = |s: &str| !s.is_empty() && s.len() <= 120 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        for (what, value) in [
            ("cluster name", &self.name),
            ("config topic", &self.config_topic),
            ("offset topic", &self.offset_topic),
            ("status topic", &self.status_topic),
            ("schema topic", &self.schema_topic),
        ] {
            if !valid(value) {
                return Err(WorkerError::InvalidSetting(format!(
                    "{what} \"{value}\" is invalid: use 1 to 120 ASCII letters, digits, '-' or '_'"
                )));
            }
        }
        if self.heartbeat_interval.is_zero() || self.member_timeout < self.heartbeat_interval * 3 {
            return Err(WorkerError::InvalidSetting(format!(
                "member timeout {:?} is invalid: it must be at least three heartbeat intervals ({:?}, not zero)",
                self.member_timeout, self.heartbeat_interval
            )));
        }
        Ok(())
    }
}

/// Builds a [`Worker`].
///
/// ```no_run
/// # async fn run() -> anyhow::Result<()> {
/// use connect_runtime::Worker;
/// // A standalone worker with an embedded RocketMQ, state in ./connect-data (where its file
/// // connectors may read and write, unless `allowed_paths` says otherwise):
/// let worker = Worker::builder().standalone("./connect-data").build().await?;
/// let lines = serde_json::json!({"connector.class": "file-source", "file": "connect-data/in.txt", "topic": "lines"});
/// worker.create_connector("lines", lines).await?;
/// // A member of cluster "prod" on an external RocketMQ:
/// let member = Worker::builder().cluster("prod").namesrv("10.0.0.5:9876").worker_id("10.0.0.7:8083").build().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct WorkerBuilder {
    data_dir: PathBuf,
    broker: Broker,
    cluster: Option<ClusterSettings>,
    worker_id: Option<String>,
    registry: &'static Registry,
    converters: ConverterDefaults,
    settings: RunnerSettings,
    allowed_paths: Option<AllowedPaths>,
    config_providers: ConfigProviders,
    memory_limit: Option<usize>,
    schema_registry_url: Option<String>,
}

impl Default for WorkerBuilder {
    fn default() -> WorkerBuilder {
        WorkerBuilder {
            data_dir: PathBuf::from("connect-data"),
            #[cfg(feature = "embedded")]
            broker: Broker::Embedded { namesrv_port: 9876, broker_port: 10911 },
            #[cfg(not(feature = "embedded"))]
            broker: Broker::External("127.0.0.1:9876".to_owned()),
            cluster: None,
            worker_id: None,
            registry: Registry::global(),
            converters: ConverterDefaults::default(),
            settings: RunnerSettings::default(),
            allowed_paths: None,
            config_providers: ConfigProviders::none(),
            memory_limit: None,
            schema_registry_url: None,
        }
    }
}

impl WorkerBuilder {
    /// A standalone worker keeping its state in `data_dir`.
    pub fn standalone(mut self, data_dir: impl Into<PathBuf>) -> WorkerBuilder {
        self.data_dir = data_dir.into();
        self.cluster = None;
        self
    }

    /// A member of cluster `name`: its state lives in the cluster's topics.
    pub fn cluster(self, name: &str) -> WorkerBuilder {
        self.cluster_settings(ClusterSettings::new(name))
    }

    /// A member of a cluster with these settings.
    pub fn cluster_settings(mut self, settings: ClusterSettings) -> WorkerBuilder {
        self.cluster = Some(settings);
        self
    }

    /// Where the embedded broker keeps its data (and a standalone worker its state).
    pub fn data_dir(mut self, data_dir: impl Into<PathBuf>) -> WorkerBuilder {
        self.data_dir = data_dir.into();
        self
    }

    /// Uses an external RocketMQ cluster instead of the embedded one.
    pub fn namesrv(mut self, addr: impl Into<String>) -> WorkerBuilder {
        self.broker = Broker::External(addr.into());
        self
    }

    /// Starts the embedded name server and broker on these ports (0 = free ports).
    #[cfg(feature = "embedded")]
    pub fn embedded(mut self, namesrv_port: u16, broker_port: u16) -> WorkerBuilder {
        self.broker = Broker::Embedded { namesrv_port, broker_port };
        self
    }

    /// The id shown as `worker_id` in statuses (default: `<host>:<pid>`); unique in a cluster.
    pub fn worker_id(mut self, id: impl Into<String>) -> WorkerBuilder {
        self.worker_id = Some(id.into());
        self
    }

    /// The plugins this worker runs (default: every plugin linked into the binary,
    /// [`Registry::global`]).
    pub fn registry(mut self, registry: &'static Registry) -> WorkerBuilder {
        self.registry = registry;
        self
    }

    /// Converters used when a connector names none.
    pub fn converters(mut self, defaults: ConverterDefaults) -> WorkerBuilder {
        self.converters = defaults;
        self
    }

    /// Task loop tuning (offset flush interval, batch sizes, in-flight bound).
    pub fn settings(mut self, settings: RunnerSettings) -> WorkerBuilder {
        self.settings = settings;
        self
    }

    /// The files connectors (their keys marked `#[config(path)]`) and `${file:...}` placeholders
    /// may name (default: those under the data directory); a config naming another is refused
    /// with a 400 naming its key. The worker's own state files are refused in any case.
    pub fn allowed_paths(mut self, allowed: AllowedPaths) -> WorkerBuilder {
        self.allowed_paths = Some(allowed);
        self
    }

    /// The placeholders connector configs may hold (`${env:...}`, `${file:...}`; default:
    /// none, and a config holding one is refused naming its key).
    pub fn config_providers(mut self, providers: ConfigProviders) -> WorkerBuilder {
        self.config_providers = providers;
        self
    }

    /// Keeps the worker's heap under `bytes`: near it, the task holding the most is failed
    /// (see [`crate::memory`]; the binary's global allocator must be
    /// [`memory::Allocator`](crate::memory::Allocator), or [`build`](Self::build) says so).
    pub fn memory_limit(mut self, bytes: usize) -> WorkerBuilder {
        self.memory_limit = Some(bytes);
        self
    }

    /// Where this worker's schema registry is served (`http://127.0.0.1:8083/registry`): a
    /// converter that reads `schema.registry.url` (`avro`, `json-schema`) and is given none
    /// gets this one. `connect-worker` sets it from its REST listener.
    pub fn schema_registry_url(mut self, url: impl Into<String>) -> WorkerBuilder {
        self.schema_registry_url = Some(url.into());
        self
    }

    /// Starts the worker: the embedded broker if asked for, the RocketMQ client, the state
    /// logs (replayed), the cluster membership, and the herder, which starts the connectors.
    pub async fn build(self) -> Result<Worker, WorkerError> {
        let id = self.checked()?;
        let memory = self.memory_limit.map(MemoryBudget::new).transpose().map_err(|e| WorkerError::InvalidSetting(e.to_string()))?;
        let allowed_paths = self.checked_allowed_paths()?;
        let (embedded, namesrv_addr) = match &self.broker {
            Broker::External(addr) => (None::<EmbeddedRocketMq>, addr.clone()),
            #[cfg(feature = "embedded")]
            Broker::Embedded { namesrv_port, broker_port } => {
                let config = EmbeddedConfig::new(self.data_dir.join("rocketmq"), NameServer::Start { port: *namesrv_port }, *broker_port);
                let mq = EmbeddedRocketMq::start(&config).await?;
                let addr = mq.namesrv_addr().to_owned();
                (Some(mq), addr)
            }
        };
        // RocketMQ group and instance names take letters, digits, '-' and '_' only.
        let instance: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
        // A cluster member's clients share the instance its membership is told by.
        let client_instance = if self.cluster.is_some() { crate::cluster::membership::instance_name(&id) } else { instance.clone() };
        let mq = MqClient::new(&namesrv_addr, &client_instance)?;
        let producer = Arc::new(mq.producer(&format!("connect-worker-{instance}")).await?);
        tracing::info!(namesrv = %namesrv_addr, worker = %id, cluster = ?self.cluster.as_ref().map(|c| &c.name), "worker connected to RocketMQ");

        let state = match &self.cluster {
            None => self.standalone_state()?,
            Some(cluster) => open_cluster_state(mq.clone(), producer.clone(), cluster.clone(), id.clone()).await?,
        };
        let (membership, lease) = state.membership.map_or((None, None), |(membership, lease)| (Some(membership), Some(lease)));
        let members = membership.as_ref().map_or_else(|| watch::channel(vec![id.clone()]).1, Membership::members);
        let calls = crate::watchdog::Calls::default();
        calls.watch();
        let metrics = worker_metrics(&calls, memory.as_ref());
        let (configs, offsets, statuses, schemas) =
            (Configs::new(state.configs), SourceOffsets::new(state.offsets), Statuses::new(state.statuses), state.schemas);
        let launcher = Arc::new(
            Launcher::new(self.registry, self.converters, self.settings, mq.clone(), producer, offsets.clone(), metrics.clone())
                .with_lease(lease.clone())
                .with_allowed_paths(allowed_paths)
                .with_topic_rules(TopicRules::new(
                    self.cluster
                        .iter()
                        .flat_map(|c| [c.config_topic.clone(), c.offset_topic.clone(), c.status_topic.clone(), c.schema_topic.clone()]),
                ))
                .with_config_providers(self.config_providers)
                .with_calls(calls)
                .with_memory(memory)
                .with_schema_registry_url(self.schema_registry_url),
        );
        let settings = HerderSettings {
            id: id.clone(),
            takeover_delay: self.cluster.as_ref().map_or(Duration::ZERO, |c| c.takeover_delay),
            cluster: self.cluster.is_some(),
            lease,
            other_logs: vec![{
                let schemas = schemas.clone();
                Arc::new(move || schemas.log().cloned())
            }],
        };
        let herder = Herder::new(settings, configs.clone(), statuses.clone(), offsets.log().clone(), members.clone(), launcher.clone());
        register_gauges(&metrics, &herder, &members, [configs.log().clone(), offsets.log().clone(), statuses.log().clone()]);
        let inner = WorkerInner {
            id,
            namesrv_addr,
            cluster: self.cluster,
            configs,
            offsets,
            statuses,
            herder,
            launcher,
            membership,
            members,
            schemas,
            mq,
            metrics,
            embedded: Mutex::new(embedded),
            config_writes: tokio::sync::Mutex::new(()),
        };
        let worker = Worker { inner: Arc::new(inner) };
        worker.inner.herder.start().await;
        Ok(worker)
    }
}

/// The logs a worker keeps its state in, replayed, and in a cluster its membership.
struct StateLogs {
    configs: StateLog,
    offsets: StateLog,
    statuses: StateLog,
    schemas: SchemaRegistry,
    membership: Option<(Membership, Arc<Lease>)>,
}

/// A cluster's state topics replayed and its membership joined, on a task of its own: the
/// future of [`WorkerBuilder::build`] then holds the task's handle only. Awaited inline, the
/// RocketMQ push consumer's types nest so deep that proving an embedding application's future
/// `Send` overflows rustc's recursion limit (E0275).
async fn open_cluster_state(mq: MqClient, producer: Arc<Producer>, cluster: ClusterSettings, id: String) -> Result<StateLogs, WorkerError> {
    let mut opening = AbortOnDrop(tokio::spawn(async move {
        let mut logs = Vec::new();
        for (name, topic, merge) in [
            ("configs", &cluster.config_topic, configs::expected_revision as Merge),
            ("offsets", &cluster.offset_topic, last_write_wins),
            ("statuses", &cluster.status_topic, statuses::fenced),
        ] {
            let reader_group = reader_group(&cluster, name);
            let config = TopicLogConfig { name, topic, reader_group: &reader_group, policy: cluster.snapshots, merge };
            logs.push(StateLog::open_topic(&mq, producer.clone(), config).await?);
        }
        let (Some(statuses), Some(offsets), Some(configs)) = (logs.pop(), logs.pop(), logs.pop()) else {
            unreachable!("three logs were opened above")
        };
        let schemas = schemas_on_first_use(&mq, &producer, &cluster);
        let lease = Lease::new(cluster.takeover_delay);
        let settings = MemberSettings {
            group: format!("{}-members", cluster.name),
            topic: cluster.status_topic.clone(),
            worker_id: id,
            poll_interval: cluster.member_poll_interval,
            heartbeat_interval: cluster.heartbeat_interval,
            member_timeout: cluster.member_timeout,
            takeover_delay: cluster.takeover_delay,
        };
        let membership = Membership::join(&mq, settings, statuses.clone(), Some(lease.clone())).await?;
        Ok(StateLogs { configs, offsets, statuses, schemas, membership: Some((membership, lease)) })
    }));
    match (&mut opening.0).await {
        Ok(state) => state,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(WorkerError::InvalidSetting(format!("the worker stopped while it opened the cluster's state: {e}"))),
    }
}

/// The consumer group of the reader of the cluster's state log `name` (one group per log: the
/// readers share the worker's client instance, which holds one consumer per group).
fn reader_group(cluster: &ClusterSettings, name: &str) -> String {
    format!("{}-{name}-reader", cluster.name)
}

/// The schema registry of a cluster, its topic read from its first use on: its reader is a
/// RocketMQ consumer (and a replay) a worker without schemas need not run.
///
/// It holds the worker's producer weakly: a stopping worker stops its producer whether or not
/// a schema was ever used.
fn schemas_on_first_use(mq: &MqClient, producer: &Arc<Producer>, cluster: &ClusterSettings) -> SchemaRegistry {
    let (mq, producer, topic, group, policy) =
        (mq.clone(), Arc::downgrade(producer), cluster.schema_topic.clone(), reader_group(cluster, "schemas"), cluster.snapshots);
    SchemaRegistry::opened_on_first_use(Arc::new(move || {
        let (mq, producer, topic, group) = (mq.clone(), producer.upgrade(), topic.clone(), group.clone());
        Box::pin(async move {
            let producer = producer.ok_or_else(|| LogError::new("schemas", LogCause::Closed))?;
            let config = TopicLogConfig { name: "schemas", topic: &topic, reader_group: &group, policy, merge: first_write_wins };
            StateLog::open_topic(&mq, producer, config).await
        })
    }))
}

/// A task aborted when its handle is dropped (a dropped [`WorkerBuilder::build`] leaves no
/// half-opened state behind).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The worker's gauges of stuck calls and of its memory budget.
fn worker_metrics(calls: &crate::watchdog::Calls, memory: Option<&MemoryBudget>) -> Arc<Metrics> {
    let metrics = Arc::new(Metrics::default());
    let watched = calls.clone();
    metrics.gauge(
        "connect_worker_stuck_calls_total",
        "Calls into connector code found running longer than 10 s (named in their task's status while they run).",
        move || watched.stuck_total() as f64,
    );
    if let Some(budget) = memory {
        let (counted, limit) = (budget.clone(), budget.limit());
        metrics.gauge("connect_worker_heap_bytes", "The worker's heap, as counted.", || crate::memory::heap_bytes() as f64);
        metrics.gauge(
            "connect_worker_memory_held_bytes",
            "What --memory-limit is judged on: the counted heap, or the resident anonymous memory when less (heap allocated and never touched holds nothing).",
            || crate::memory::held_bytes() as f64,
        );
        metrics.gauge("connect_worker_memory_limit_bytes", "The worker's --memory-limit.", move || limit as f64);
        metrics.gauge(
            "connect_worker_memory_budget_failed_tasks_total",
            "Tasks failed because they held the most heap when the worker neared its --memory-limit.",
            move || counted.failed_total() as f64,
        );
    }
    metrics
}

impl WorkerBuilder {
    /// The plugins and the cluster's settings checked, and the worker's id (the host and
    /// process id by default).
    fn checked(&self) -> Result<String, WorkerError> {
        self.registry.check()?;
        if let Some(cluster) = &self.cluster {
            cluster.check()?;
        }
        let id = self.worker_id.clone().unwrap_or_else(|| format!("{}:{}", super::hostname(), std::process::id()));
        if id.is_empty() || id.contains(['@', ' ', '/']) {
            return Err(WorkerError::InvalidSetting(format!(
                "worker id \"{id}\" is invalid: it must be non-empty, without '@', '/' or spaces"
            )));
        }
        Ok(id)
    }

    /// A standalone worker's state: files in the data directory (statuses in memory).
    fn standalone_state(&self) -> Result<StateLogs, WorkerError> {
        Ok(StateLogs {
            configs: StateLog::file_with("configs", &self.data_dir.join("connectors.json"), configs::expected_revision)?,
            // Offsets are written beside the tasks' loops: a commit may wait a little for others.
            offsets: StateLog::file_gathering("offsets", &self.data_dir.join("offsets.json"), OFFSET_WRITE_GATHER)?,
            statuses: StateLog::memory_with("statuses", statuses::fenced),
            schemas: SchemaRegistry::new(StateLog::file_with("schemas", &self.data_dir.join("schemas.json"), first_write_wins)?),
            membership: None,
        })
    }
}

impl WorkerBuilder {
    /// The allowed paths (by default the data directory), never the worker's own state in it.
    fn checked_allowed_paths(&self) -> Result<AllowedPaths, WorkerError> {
        let unusable = |e: std::io::Error| WorkerError::InvalidSetting(format!("data directory {}: {e}", self.data_dir.display()));
        std::fs::create_dir_all(&self.data_dir).map_err(unusable)?;
        let allowed = match &self.allowed_paths {
            Some(allowed) => allowed.clone(),
            None => AllowedPaths::under(std::slice::from_ref(&self.data_dir)).map_err(unusable)?,
        };
        let logs = ["connectors.json", "offsets.json", "schemas.json"].map(|name| self.data_dir.join(name));
        let state: Vec<PathBuf> =
            logs.iter().flat_map(|log| crate::state::file::files(log)).chain([self.data_dir.join("rocketmq")]).collect();
        Ok(allowed.except(&state))
    }
}

/// The worker's own gauges, read when metrics are scraped.
fn register_gauges(metrics: &Metrics, herder: &Arc<Herder<Launcher>>, members: &watch::Receiver<Vec<String>>, logs: [StateLog; 3]) {
    let h = herder.clone();
    metrics.gauge("connect_worker_connector_count", "Connectors on this worker.", move || h.unit_counts().0 as f64);
    let h = herder.clone();
    metrics.gauge("connect_worker_task_count", "Tasks on this worker.", move || h.unit_counts().1 as f64);
    let m = members.clone();
    metrics.gauge("connect_worker_members", "Workers in this worker's cluster, as it sees them.", move || m.borrow().len() as f64);
    let h = herder.clone();
    metrics.gauge(
        "connect_worker_fenced_units_total",
        "Units this worker stopped because it was cut off from its cluster (hung, paused or partitioned: its own heartbeat unseen, or its lease lapsed); those another worker took over meanwhile never run here again.",
        move || h.fenced_count() as f64,
    );
    let h = herder.clone();
    metrics.gauge(
        "connect_worker_reconcile_passes",
        "Passes the herder made over the configs, statuses and members (it passes only when they change).",
        move || h.pass_count() as f64,
    );
    let l = logs.clone();
    metrics.labelled_gauge("connect_state_log_keys", "Live keys of a state log.", "log", move || {
        l.iter().map(|log| (log.name().to_owned(), log.len() as f64)).collect()
    });
    metrics.labelled_gauge("connect_state_log_replayed_records", "Records a state topic's replay read at start-up.", "log", move || {
        logs.iter().filter_map(|log| Some((log.name().to_owned(), log.replayed()? as f64))).collect()
    });
}
