//! An application embedding a worker: it starts one on the embedded broker inside its own
//! tokio runtime, counts to `N` through RocketMQ into a file, prints the file, and stops.
//!
//! `cargo run -p embedding -- /tmp/embedded 100`

use std::time::{Duration, Instant};

use connect_examples as _;
use connect_file as _;
use connect_runtime::{AllowedPaths, Worker};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "embedded-data".to_owned()));
    let count: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(100);
    let output = dir.join("numbers.txt");

    // Connectors may name files under `dir` (by default only under the worker's data directory).
    std::fs::create_dir_all(&dir)?;
    let files = AllowedPaths::under(std::slice::from_ref(&dir))?;
    let worker = Worker::builder().standalone(dir.join("worker")).embedded(0, 0).allowed_paths(files).build().await?;
    worker.create_connector("count", json!({"connector.class": "counter-source", "topic": "numbers", "max.records": count})).await?;
    worker.create_connector("write", json!({"connector.class": "file-sink", "topics": "numbers", "file": output})).await?;

    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::read_to_string(&output).map(|t| t.lines().count()).unwrap_or(0) < count {
        anyhow::ensure!(Instant::now() < deadline, "the pipeline did not finish in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    print!("{}", std::fs::read_to_string(&output)?);
    worker.shutdown().await;
    Ok(())
}
