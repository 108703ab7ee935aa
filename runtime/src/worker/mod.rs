//! The [`Worker`]: runs connectors and their tasks over RocketMQ, keeps their configs,
//! offsets and statuses, and answers what the REST API asks.
//!
//! A worker has one shape in both modes. What should run lives in the config log, what runs
//! where in the status log, and source offsets in the offset log (see [`crate::state`]). The
//! REST calls write to these logs; the [`herder`] of every worker reacts to what the logs and
//! the cluster's membership say: it computes the assignment, stops what this worker lost,
//! claims and starts what it won. A standalone worker is a cluster of one whose logs live in
//! its data directory (configs, offsets) and in memory (statuses); a cluster worker's logs
//! are RocketMQ topics shared by every worker of the cluster.

mod connectors;
mod error;
mod herder;
mod status_writer;
mod units;
pub mod views;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use connect_sdk::converter::ConverterDefaults;
use tokio::sync::{Mutex, watch};

pub use connectors::{OffsetsChange, PluginInfo};
pub use error::WorkerError;

use crate::cluster::membership::Membership;
use crate::embedded::{EmbeddedConfig, EmbeddedRocketMq};
use crate::metrics::WorkerMetrics;
use crate::mq::{MqClient, Producer};
use crate::state::configs::Configs;
use crate::state::log::{Merge, StateLog, last_write_wins};
use crate::state::offsets::SourceOffsets;
use crate::state::statuses::{self, Statuses};
use crate::state::topic::{self, SnapshotPolicy, TopicLogConfig};
use crate::task::RunnerSettings;
use herder::Herder;
use status_writer::StatusWriter;
use units::Running;

/// How to reach RocketMQ.
#[derive(Clone, Debug)]
pub enum Broker {
    /// An external cluster's name server (`host:port`).
    External(String),
    /// Start a name server and broker in-process.
    Embedded {
        /// Name server port (0 = free port).
        namesrv_port: u16,
        /// Broker port (0 = free port pair).
        broker_port: u16,
    },
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
    /// How often the group's member list is read, on top of the broker's notifications.
    pub member_poll_interval: Duration,
    /// How long a worker must be missing from the member list before others take its units
    /// over (a worker that just joined is missing from the others' lists for a moment).
    pub takeover_delay: Duration,
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
            member_poll_interval: Duration::from_millis(500),
            takeover_delay: Duration::from_secs(2),
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
        ] {
            if !valid(value) {
                return Err(WorkerError::BadRequest(format!(
                    "{what} \"{value}\" is invalid: use 1 to 120 ASCII letters, digits, '-' or '_'"
                )));
            }
        }
        Ok(())
    }
}

/// Builds a [`Worker`].
///
/// ```no_run
/// # async fn run() -> anyhow::Result<()> {
/// use connect_runtime::worker::Worker;
/// // A standalone worker with an embedded RocketMQ, state in ./connect-data:
/// let worker = Worker::builder().standalone("./connect-data").build().await?;
/// worker
///     .create_connector("lines", serde_json::json!({"connector.class": "file-source", "file": "in.txt", "topic": "lines"}))
///     .await?;
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
    converters: ConverterDefaults,
    settings: RunnerSettings,
}

impl Default for WorkerBuilder {
    fn default() -> WorkerBuilder {
        WorkerBuilder {
            data_dir: PathBuf::from("connect-data"),
            broker: Broker::Embedded { namesrv_port: 9876, broker_port: 10911 },
            cluster: None,
            worker_id: None,
            converters: ConverterDefaults::default(),
            settings: RunnerSettings::default(),
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
    pub fn embedded(mut self, namesrv_port: u16, broker_port: u16) -> WorkerBuilder {
        self.broker = Broker::Embedded { namesrv_port, broker_port };
        self
    }

    /// The id shown as `worker_id` in statuses (default: `<host>:<pid>`); unique in a cluster.
    pub fn worker_id(mut self, id: impl Into<String>) -> WorkerBuilder {
        self.worker_id = Some(id.into());
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

    /// Starts the worker: the embedded broker if asked for, the RocketMQ client, the state
    /// logs (replayed), the cluster membership, and the herder, which starts the connectors.
    pub async fn build(self) -> Result<Worker, WorkerError> {
        let registry = connect_sdk::registry::Registry::global();
        registry.check().map_err(|e| WorkerError::Internal(e.to_string()))?;
        if let Some(cluster) = &self.cluster {
            cluster.check()?;
        }
        let id = self.worker_id.clone().unwrap_or_else(|| format!("{}:{}", hostname(), std::process::id()));
        if id.is_empty() || id.contains(['@', ' ', '/']) {
            return Err(WorkerError::BadRequest(format!(
                "worker id \"{id}\" is invalid: it must be non-empty, without '@', '/' or spaces"
            )));
        }
        let internal = |e: &dyn std::fmt::Display| WorkerError::Internal(e.to_string());
        let (embedded, namesrv_addr) = match &self.broker {
            Broker::External(addr) => (None, addr.clone()),
            Broker::Embedded { namesrv_port, broker_port } => {
                let config =
                    EmbeddedConfig { data_dir: self.data_dir.join("rocketmq"), namesrv_port: *namesrv_port, broker_port: *broker_port };
                let mq = EmbeddedRocketMq::start(&config).await.map_err(|e| internal(&e))?;
                let addr = mq.namesrv_addr().to_owned();
                (Some(mq), addr)
            }
        };
        // RocketMQ group and instance names take letters, digits, '-' and '_' only.
        let instance: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
        let mq = MqClient::new(&namesrv_addr, &instance).map_err(|e| internal(&e))?;
        let producer = Arc::new(mq.producer(&format!("connect-worker-{instance}")).await.map_err(|e| internal(&e))?);
        tracing::info!(namesrv = %namesrv_addr, worker = %id, cluster = ?self.cluster.as_ref().map(|c| &c.name), "worker connected to RocketMQ");

        let (configs, offsets, statuses, membership) = match &self.cluster {
            None => {
                let configs = StateLog::file("configs", &self.data_dir.join("connectors.json")).map_err(|e| internal(&e))?;
                let offsets = StateLog::file("offsets", &self.data_dir.join("offsets.json")).map_err(|e| internal(&e))?;
                (configs, offsets, StateLog::memory_with("statuses", statuses::fenced), None)
            }
            Some(cluster) => {
                let reader_group = format!("{}-readers", cluster.name);
                let mut logs = Vec::new();
                for (name, topic, merge) in [
                    ("configs", &cluster.config_topic, last_write_wins as Merge),
                    ("offsets", &cluster.offset_topic, last_write_wins),
                    ("statuses", &cluster.status_topic, statuses::fenced),
                ] {
                    let config = TopicLogConfig { name, topic, reader_group: &reader_group, policy: cluster.snapshots, merge };
                    logs.push(topic::open(&mq, producer.clone(), config).await.map_err(|e| internal(&e))?);
                }
                let [configs, offsets, statuses]: [StateLog; 3] = logs.try_into().map_err(|_| internal(&"three state logs"))?;
                let group = format!("{}-members", cluster.name);
                let membership = Membership::join(&mq, &group, &cluster.status_topic, &id, cluster.member_poll_interval)
                    .await
                    .map_err(|e| internal(&e))?;
                (configs, offsets, statuses, Some(membership))
            }
        };
        let members = match &membership {
            Some(membership) => membership.members(),
            None => watch::channel(vec![id.clone()]).1,
        };
        let statuses = Statuses::new(statuses);
        let worker = Worker {
            inner: Arc::new(WorkerInner {
                id,
                namesrv_addr,
                cluster: self.cluster,
                configs: Configs::new(configs),
                offsets: SourceOffsets::new(offsets),
                status_writer: StatusWriter::spawn(statuses.clone()),
                statuses,
                membership,
                members,
                mq,
                producer: Mutex::new(Some(producer)),
                metrics: Arc::new(WorkerMetrics::default()),
                converters: self.converters,
                settings: self.settings,
                running: Mutex::new(Running::default()),
                herder: Herder::default(),
                embedded: Mutex::new(embedded),
            }),
        };
        worker.start_herder().await;
        Ok(worker)
    }
}

/// This machine's name (`$HOSTNAME`, else `localhost`).
pub(crate) fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".to_owned())
}

struct WorkerInner {
    id: String,
    namesrv_addr: String,
    cluster: Option<ClusterSettings>,
    configs: Configs,
    offsets: SourceOffsets,
    statuses: Statuses,
    status_writer: StatusWriter,
    membership: Option<Membership>,
    members: watch::Receiver<Vec<String>>,
    mq: MqClient,
    producer: Mutex<Option<Arc<Producer>>>,
    metrics: Arc<WorkerMetrics>,
    converters: ConverterDefaults,
    settings: RunnerSettings,
    running: Mutex<Running>,
    herder: Herder,
    embedded: Mutex<Option<EmbeddedRocketMq>>,
}

/// A running worker; cheap to clone (the REST server holds one).
#[derive(Clone)]
pub struct Worker {
    inner: Arc<WorkerInner>,
}

impl Worker {
    /// A builder with the defaults: standalone, embedded broker on the standard ports, `./connect-data`.
    pub fn builder() -> WorkerBuilder {
        WorkerBuilder::default()
    }

    /// This worker's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The name server address in use.
    pub fn namesrv_addr(&self) -> &str {
        &self.inner.namesrv_addr
    }

    /// The cluster's name (`None` for a standalone worker).
    pub fn cluster_name(&self) -> Option<&str> {
        self.inner.cluster.as_ref().map(|c| c.name.as_str())
    }

    /// The ids of the cluster's workers, sorted (a standalone worker is alone).
    pub fn members(&self) -> Vec<String> {
        self.inner.members.borrow().clone()
    }

    /// Prometheus text of every metric.
    pub async fn metrics_text(&self) -> String {
        use std::fmt::Write;
        let (connectors, tasks) = self.inner.running.lock().await.counts();
        let mut text = self.inner.metrics.render(&[
            ("connect_worker_connector_count", "Connectors on this worker.", connectors as f64),
            ("connect_worker_task_count", "Tasks on this worker.", tasks as f64),
            ("connect_worker_members", "Workers in this worker's cluster, as it sees them.", self.members().len() as f64),
            (
                "connect_worker_reconcile_passes",
                "Passes the herder made over the configs, statuses and members (it passes only when they change).",
                self.inner.herder.pass_count.load(std::sync::atomic::Ordering::Relaxed) as f64,
            ),
        ]);
        let logs = [self.inner.configs.log(), self.inner.offsets.log(), self.inner.statuses.log()];
        let _ = writeln!(text, "# HELP connect_state_log_keys Live keys of a state log.\n# TYPE connect_state_log_keys gauge");
        for log in logs {
            let _ = writeln!(text, "connect_state_log_keys{{log=\"{}\"}} {}", log.name(), log.len());
        }
        let _ = writeln!(
            text,
            "# HELP connect_state_log_replayed_records Records a state topic's replay read at start-up.\n# TYPE connect_state_log_replayed_records gauge"
        );
        for log in logs {
            if let Some(replayed) = log.replayed() {
                let _ = writeln!(text, "connect_state_log_replayed_records{{log=\"{}\"}} {replayed}", log.name());
            }
        }
        text
    }

    /// Stops every task (each flushes and commits, and its unit is released for the other
    /// workers), leaves the cluster, then stops the client and the embedded broker.
    pub async fn shutdown(self) {
        self.stop_herder().await;
        self.release_all().await;
        self.inner.status_writer.flush().await;
        if let Some(membership) = &self.inner.membership {
            membership.leave().await;
        }
        for log in [self.inner.configs.log(), self.inner.offsets.log(), self.inner.statuses.log()] {
            log.close().await;
        }
        if let Some(producer) = self.inner.producer.lock().await.take()
            && !Producer::shutdown_shared(producer).await
        {
            tracing::warn!("the producer is still in use; not stopping it");
        }
        self.inner.mq.clone().shutdown().await;
        tracing::debug!("RocketMQ client stopped");
        if let Some(mq) = self.inner.embedded.lock().await.take() {
            mq.shutdown().await;
            tracing::debug!("embedded broker stopped");
        }
    }
}
