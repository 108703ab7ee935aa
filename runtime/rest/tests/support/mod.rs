//! A worker on an embedded broker with free ports, a temporary data directory and its REST
//! API on a free port, for the integration tests of this crate.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use connect_datagen as _;
use connect_file as _;
use connect_runtime::{RunnerSettings, Worker};

use serde_json::Value as Json;

pub use connect_testkit::*;

/// Task settings that commit often, so tests see results quickly.
pub fn fast_settings() -> RunnerSettings {
    RunnerSettings { offset_flush_interval: Duration::from_millis(500), ..RunnerSettings::default() }
}

/// A worker on an embedded broker (free ports) with its REST API on a free port.
pub struct TestWorker {
    pub worker: Worker,
    pub rest: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestWorker {
    pub async fn start(data_dir: &std::path::Path) -> TestWorker {
        TestWorker::start_with(data_dir, fast_settings()).await
    }

    /// A worker with these task settings.
    pub async fn start_with(data_dir: &std::path::Path, settings: RunnerSettings) -> TestWorker {
        if let Ok(filter) = std::env::var("RUST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
        // The test's directory holds its input and output files beside the data directory.
        let files = data_dir.parent().unwrap_or(data_dir).to_path_buf();
        std::fs::create_dir_all(&files).expect("create the test's directory");
        let worker = Worker::builder()
            .standalone(data_dir)
            .embedded(0, 0)
            .worker_id("test-worker:1")
            .settings(settings)
            .allowed_paths(connect_runtime::AllowedPaths::under(&[files]).expect("the test's directory exists"))
            .config_providers(connect_runtime::ConfigProviders::none().with_env().with_file())
            .build()
            .await
            .expect("worker starts");
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(connect_rest::serve(worker.clone(), "127.0.0.1:0".parse().unwrap(), bound_tx, async move {
            let _ = stop_rx.await;
        }));
        let rest = bound_rx.await.expect("REST API binds");
        TestWorker { worker, rest, stop: Some(stop), server: Some(server) }
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.worker.clone().shutdown().await;
    }

    /// Calls the REST API; returns the status code and the JSON body (Null when empty).
    pub fn call(&self, method: &str, path: &str, body: Option<&Json>) -> (u16, Json) {
        http(self.rest, method, path, body.map(|b| b.to_string()).as_deref())
    }

    /// The value of a metric line `name{connector="c",task="t"}`.
    pub fn metric(&self, name: &str, connector: &str, task: u32) -> f64 {
        let (_, text) = http_text(self.rest, "GET", "/metrics", None);
        let prefix = format!("{name}{{connector=\"{connector}\",task=\"{task}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
    }
}
