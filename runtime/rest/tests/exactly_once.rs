//! `exactly.once.support=required` is refused, naming the key, where exactly-once cannot hold:
//! on a worker whose exactly-once sources are disabled, and for a source that cannot poll a
//! record again by its offset. (That a killed worker repeats nothing is `connect-worker`'s
//! crash test: it needs a process to kill.)

mod support;

use connect_sdk::prelude::*;
use serde_json::json;
use support::{TestWorker, fast_settings, temp_dir};

/// A source whose offsets are given on arrival, like a queue's delivery tags.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "arrival-source", task = ArrivalTask)]
pub struct ArrivalSource {
    /// Topic to write to.
    pub topic: String,
}

/// The task: nothing to poll.
pub struct ArrivalTask;

impl SourceTask for ArrivalTask {
    type Config = ArrivalSource;
    const REPEATABLE: bool = false;

    async fn open(_: ArrivalSource, _: SourceContext) -> Result<Self> {
        Ok(ArrivalTask)
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Ok(Vec::new())
    }
}

fn message(body: &serde_json::Value) -> String {
    body["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_is_refused_on_a_worker_without_exactly_once_sources() {
    let dir = temp_dir("eos-disabled");
    let worker = TestWorker::start_with(&dir, connect_runtime::RunnerSettings { exactly_once_source: false, ..fast_settings() }).await;
    let file = dir.join("in.txt");
    std::fs::write(&file, "a\n").unwrap();
    let config =
        |support: &str| json!({"connector.class": "file-source", "file": file, "topic": "eos-off", "exactly.once.support": support});
    let (status, body) = worker.call("PUT", "/connectors/off/config", Some(&config("required")));
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("exactly.once.support"), "{body}");
    assert!(message(&body).contains("exactly.once.source.support is disabled"), "{body}");
    let (status, body) = worker.call("PUT", "/connectors/off/config", Some(&config("requested")));
    assert_eq!(status, 201, "requested runs at least once: {body}");
    let (status, body) = worker.call("PUT", "/connectors/off/config", Some(&config("sometimes")));
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("exactly.once.support"), "{body}");
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_is_refused_for_a_source_that_cannot_poll_a_record_again() {
    let worker = TestWorker::start(&temp_dir("eos-arrival")).await;
    let config = |support: &str| json!({"connector.class": "arrival-source", "topic": "eos-arrival", "exactly.once.support": support});
    let (status, body) = worker.call("PUT", "/connectors/arrival/config", Some(&config("required")));
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("cannot poll a record again by its offset"), "{body}");
    let (status, body) = worker.call("PUT", "/connectors/arrival/config", Some(&config("requested")));
    assert_eq!(status, 201, "{body}");
    worker.shutdown().await;
}
