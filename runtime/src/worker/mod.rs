//! The [`Worker`]: runs connectors and their tasks over RocketMQ, keeps their configs and
//! offsets, and answers what the REST API asks.

mod connectors;
mod error;
pub mod views;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use connect_sdk::converter::ConverterDefaults;
use tokio::sync::Mutex;

pub use connectors::{OffsetsChange, PluginInfo};
pub use error::WorkerError;

use crate::embedded::{EmbeddedConfig, EmbeddedRocketMq};
use crate::metrics::WorkerMetrics;
use crate::mq::{MqClient, Producer};
use crate::store::StandaloneStore;
use crate::task::RunnerSettings;
use connectors::ConnectorRuntime;

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

/// Builds a [`Worker`].
///
/// ```no_run
/// # async fn run() -> anyhow::Result<()> {
/// use connect_runtime::worker::Worker;
/// let worker = Worker::builder().standalone("./connect-data").build().await?;
/// worker
///     .create_connector("lines", serde_json::json!({"connector.class": "file-source", "file": "in.txt", "topic": "lines"}))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct WorkerBuilder {
    data_dir: PathBuf,
    broker: Broker,
    worker_id: Option<String>,
    converters: ConverterDefaults,
    settings: RunnerSettings,
}

impl Default for WorkerBuilder {
    fn default() -> WorkerBuilder {
        WorkerBuilder {
            data_dir: PathBuf::from("connect-data"),
            broker: Broker::Embedded { namesrv_port: 9876, broker_port: 10911 },
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

    /// The id shown as `worker_id` in statuses (default: `<host>:<pid>`).
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

    /// Starts the worker: the embedded broker if asked for, the RocketMQ client, and every
    /// stored connector.
    pub async fn build(self) -> Result<Worker, WorkerError> {
        let registry = connect_sdk::registry::Registry::global();
        registry.check().map_err(|e| WorkerError::Internal(e.to_string()))?;
        let store = Arc::new(StandaloneStore::open(&self.data_dir)?);
        let (embedded, namesrv_addr) = match &self.broker {
            Broker::External(addr) => (None, addr.clone()),
            Broker::Embedded { namesrv_port, broker_port } => {
                let config =
                    EmbeddedConfig { data_dir: self.data_dir.join("rocketmq"), namesrv_port: *namesrv_port, broker_port: *broker_port };
                let mq = EmbeddedRocketMq::start(&config).await.map_err(|e| WorkerError::Internal(e.to_string()))?;
                let addr = mq.namesrv_addr().to_owned();
                (Some(mq), addr)
            }
        };
        let id = self.worker_id.unwrap_or_else(|| format!("{}:{}", hostname(), std::process::id()));
        let mq = MqClient::new(&namesrv_addr, &id.replace(':', "-")).map_err(|e| WorkerError::Internal(e.to_string()))?;
        let producer = Arc::new(
            mq.producer(&format!("connect-worker-{}", id.replace(':', "-"))).await.map_err(|e| WorkerError::Internal(e.to_string()))?,
        );
        tracing::info!(namesrv = %namesrv_addr, worker = %id, "worker connected to RocketMQ");
        let worker = Worker {
            inner: Arc::new(WorkerInner {
                id,
                namesrv_addr,
                store,
                mq,
                producer: Mutex::new(Some(producer)),
                metrics: Arc::new(WorkerMetrics::default()),
                converters: self.converters,
                settings: self.settings,
                connectors: Mutex::new(BTreeMap::new()),
                embedded: Mutex::new(embedded),
            }),
        };
        worker.start_stored_connectors().await;
        Ok(worker)
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".to_owned())
}

struct WorkerInner {
    id: String,
    namesrv_addr: String,
    store: Arc<StandaloneStore>,
    mq: MqClient,
    producer: Mutex<Option<Arc<Producer>>>,
    metrics: Arc<WorkerMetrics>,
    converters: ConverterDefaults,
    settings: RunnerSettings,
    connectors: Mutex<BTreeMap<String, ConnectorRuntime>>,
    embedded: Mutex<Option<EmbeddedRocketMq>>,
}

/// A running worker; cheap to clone (the REST server holds one).
#[derive(Clone)]
pub struct Worker {
    inner: Arc<WorkerInner>,
}

impl Worker {
    /// A builder with the defaults: embedded broker on the standard ports, `./connect-data`.
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

    /// Prometheus text of every metric.
    pub async fn metrics_text(&self) -> String {
        let (connectors, tasks) = {
            let connectors = self.inner.connectors.lock().await;
            (connectors.len(), connectors.values().map(|c| c.tasks.len()).sum::<usize>())
        };
        self.inner.metrics.render(&[
            ("connect_worker_connector_count", "Connectors on this worker.", connectors as f64),
            ("connect_worker_task_count", "Tasks on this worker.", tasks as f64),
        ])
    }

    /// Stops every task (each flushes and commits), then the client and the embedded broker.
    pub async fn shutdown(self) {
        let names: Vec<String> = self.inner.connectors.lock().await.keys().cloned().collect();
        for name in names {
            self.stop_tasks(&name).await;
            tracing::debug!(connector = %name, "tasks stopped");
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
