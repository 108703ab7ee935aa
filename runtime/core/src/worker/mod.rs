//! The [`Worker`]: runs connectors and their tasks over RocketMQ, keeps their configs,
//! offsets and statuses, and answers what the REST API asks.
//!
//! A worker has one shape in both modes, cut into three parts by job:
//! - the **API** ([`Worker`]'s methods, `api.rs`): what REST calls. It validates, writes to
//!   the logs (see [`crate::state`]) and waits until this worker applied what it wrote;
//! - the **herder** (`herder/`): the reconcile loop. It reacts to what the logs and the
//!   cluster's membership say: computes the assignment, stops what this worker lost, claims
//!   and starts what it won;
//! - the **launcher** (`launcher/`): what starting a unit needs, by job: `check.rs` checks
//!   each connector config once per revision (placeholders, paths, keys, topics) into a
//!   revision that carries its secrets, `assemble.rs` opens tasks and makes their runners.
//!
//! A standalone worker is a cluster of one whose logs live in its data directory (configs,
//! offsets) and in memory (statuses); a cluster worker's logs are RocketMQ topics shared by
//! every worker of the cluster.

mod api;
mod builder;
mod error;
mod herder;
mod launcher;
mod status_writer;
pub(crate) mod views;

use std::sync::Arc;

use tokio::sync::{Mutex, watch};

pub use api::{OffsetsChange, PluginInfo};
pub use builder::{ClusterSettings, WorkerBuilder};
pub use error::WorkerError;

use crate::cluster::membership::Membership;
#[cfg(feature = "embedded")]
use crate::embedded::EmbeddedRocketMq;

/// Without the `embedded` feature no broker runs in the process: none is ever held.
#[cfg(not(feature = "embedded"))]
pub(crate) enum EmbeddedRocketMq {}

#[cfg(not(feature = "embedded"))]
impl EmbeddedRocketMq {
    async fn shutdown(self) {
        match self {}
    }
}
use crate::metrics::Metrics;
use crate::mq::{MqClient, Producer};
use crate::state::configs::Configs;
use crate::state::offsets::SourceOffsets;
use crate::state::statuses::Statuses;
use herder::Herder;
use launcher::Launcher;

/// This machine's name (`$HOSTNAME`, else `localhost`).
/// How long a health check waits for the reconcile loop (Kafka's default request timeout).
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// This machine's name as a worker id uses it by default: `$HOSTNAME`, else `localhost`.
pub fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".to_owned())
}

struct WorkerInner {
    id: String,
    namesrv_addr: String,
    cluster: Option<ClusterSettings>,
    configs: Configs,
    offsets: SourceOffsets,
    statuses: Statuses,
    herder: Arc<Herder<Launcher>>,
    launcher: Arc<Launcher>,
    membership: Option<Membership>,
    members: watch::Receiver<Vec<String>>,
    schemas: crate::schema_registry::SchemaRegistry,
    mq: MqClient,
    metrics: Arc<Metrics>,
    embedded: Mutex<Option<EmbeddedRocketMq>>,
    /// One config change at a time on this worker: a create's check that the name is free, a
    /// patch's read-modify-write and a pause's or restart's check that the connector exists
    /// see every change made before them (a pause racing a delete left a record behind).
    config_writes: tokio::sync::Mutex<()>,
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

    /// The levels of this process's log, when `connect-worker` set it up (an application
    /// embedding a worker logs its own way: `None`).
    pub fn log_levels(&self) -> Option<&'static crate::logging::LogLevels> {
        crate::logging::levels()
    }

    /// Sets `logger`'s level on every worker of the cluster (each applies it as it follows
    /// the config log, and a worker that starts later applies it too); returns once this
    /// worker applied it.
    pub async fn set_cluster_log_level(&self, logger: &str, level: &str) -> Result<(), WorkerError> {
        crate::logging::check_logger(logger).map_err(|e| WorkerError::InvalidSetting(e.to_string()))?;
        let level = crate::logging::check_level(level).map_err(|e| WorkerError::InvalidSetting(e.to_string()))?;
        let position = self.inner.configs.put_log_level(logger, &level).await?;
        self.inner.herder.sync(position).await;
        Ok(())
    }

    /// The schema registry this worker serves (`/registry` on its REST API): its records live
    /// where the worker's state does, so every worker of a cluster answers alike.
    pub fn schema_registry(&self) -> &crate::schema_registry::SchemaRegistry {
        &self.inner.schemas
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

    /// Kafka's KIP-1017 health: `starting` until the stored connectors were looked at (and, in
    /// a cluster, until this worker is listed among the members), `unhealthy` when its reconcile
    /// loop does not answer within 10 s, else `healthy`.
    pub async fn health(&self) -> views::WorkerHealth {
        let (status, message) = if !self.inner.herder.started() {
            ("starting", "Worker is still starting up.".to_owned())
        } else if self.inner.cluster.is_some() && !self.members().iter().any(|m| *m == self.inner.id) {
            ("starting", "Worker is not listed among its cluster's members yet (is RocketMQ reachable?).".to_owned())
        } else if !self.inner.herder.responsive(HEALTH_TIMEOUT).await {
            ("unhealthy", format!("Worker's reconcile loop did not answer within {HEALTH_TIMEOUT:?}."))
        } else {
            ("healthy", "Worker has completed startup and is ready to handle requests.".to_owned())
        };
        views::WorkerHealth { status, message }
    }

    /// Prometheus text of every metric.
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.render()
    }

    /// Stops every task (each flushes and commits, and its unit is released for the other
    /// workers), leaves the cluster, then stops the client and the embedded broker.
    pub async fn shutdown(self) {
        // Boxed: the future holds the RocketMQ client's, deep enough to overflow the layout
        // computation of callers' futures.
        Box::pin(self.stop_everything()).await
    }

    async fn stop_everything(self) {
        let inner = &self.inner;
        inner.herder.stop().await;
        inner.herder.release_all().await;
        if let Some(membership) = &inner.membership {
            membership.leave().await;
        }
        // Together: each waits for its reader's pull in flight to come back.
        let logs = [inner.configs.log(), inner.offsets.log(), inner.statuses.log()].into_iter().chain(inner.schemas.log());
        futures_util::future::join_all(logs.map(|log| log.close())).await;
        if let Some(producer) = inner.launcher.close()
            && !Producer::shutdown_shared(producer).await
        {
            tracing::warn!("the producer is still in use; not stopping it");
        }
        inner.mq.clone().shutdown().await;
        tracing::debug!("RocketMQ client stopped");
        if let Some(mq) = inner.embedded.lock().await.take() {
            mq.shutdown().await;
            tracing::debug!("embedded broker stopped");
        }
    }
}
