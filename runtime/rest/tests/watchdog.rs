//! A task whose connector call does not return (here: a `poll` that blocks its thread) is
//! named in its status and counted, while the worker goes on answering; once the call returns
//! the note goes away.

mod support;

use std::time::Duration;

use connect_sdk::prelude::*;
use serde_json::json;
use support::{TestWorker, temp_dir, wait_until};

/// Blocks its thread for `block_ms` in its first poll, then polls nothing.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "blocking-source", task = BlockingTask)]
pub struct BlockingSource {
    /// How long the first poll blocks its thread, in milliseconds.
    pub block_ms: u64,
}

/// See [`BlockingSource`].
pub struct BlockingTask {
    block: Option<Duration>,
}

impl SourceTask for BlockingTask {
    type Config = BlockingSource;

    async fn open(config: BlockingSource, _ctx: SourceContext) -> Result<Self> {
        Ok(BlockingTask { block: Some(Duration::from_millis(config.block_ms)) })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        if let Some(block) = self.block.take() {
            // What a connector calling a synchronous client does.
            std::thread::sleep(block);
        }
        connect_sdk::tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(Vec::new())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_that_does_not_return_is_named_in_the_task_status() {
    let dir = temp_dir("watchdog");
    let worker = TestWorker::start(&dir.join("data")).await;
    let (code, body) = worker.call(
        "POST",
        "/connectors",
        Some(&json!({"name": "stuck", "config": {"connector.class": "blocking-source", "block.ms": 16_000}})),
    );
    assert_eq!(code, 201, "{body}");
    let trace = || worker.call("GET", "/connectors/stuck/status", None).1["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    let named = wait_until(Duration::from_secs(15), || trace().contains("inside poll for")).await;
    assert!(named, "the status does not name the stuck call: {}", worker.call("GET", "/connectors/stuck/status", None).1);
    let (_, metrics) = support::http_text(worker.rest, "GET", "/metrics", None);
    assert!(metrics.lines().any(|l| l.starts_with("connect_worker_stuck_calls_total ") && !l.ends_with(" 0")), "{metrics}");
    let cleared = wait_until(Duration::from_secs(30), || trace().is_empty()).await;
    assert!(cleared, "the note stays after the call returned: {}", trace());
    assert_eq!(worker.call("GET", "/connectors/stuck/status", None).1["tasks"][0]["state"], "RUNNING");
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
