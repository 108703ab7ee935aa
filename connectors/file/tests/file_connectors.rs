//! The file connectors keep the SDK's guarantees (compliance suite) and Kafka's keys.

use std::path::PathBuf;

use connect_file::{FileSink, FileSource};
use connect_sdk::serde_json::json;
use connect_sdk::testing::compliance::{SinkCompliance, SourceCompliance};
use connect_sdk::testing::{SourceHarness, block_on};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-file-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_lines(path: &PathBuf, count: usize) {
    std::fs::write(path, (0..count).map(|i| format!("{}-line-{i}\n", path.file_name().unwrap().to_string_lossy())).collect::<String>())
        .unwrap();
}

#[test]
fn file_source_is_compliant() {
    block_on(async {
        let dir = temp_dir("source-compliance");
        let file = dir.join("a.txt");
        write_lines(&file, 100);
        let report =
            SourceCompliance::new(json!({"file": file, "topic": "t", "batch.size": 7})).records(60).run::<FileSource>().await.unwrap();
        assert_eq!(report.passed.len(), 5, "{report}");
    });
}

#[test]
fn file_source_spreads_files_over_tasks() {
    block_on(async {
        let dir = temp_dir("spread");
        let files: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("f{i}.txt"))).collect();
        files.iter().for_each(|f| write_lines(f, 5));
        let list = files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(",");
        let mut harness = SourceHarness::<FileSource>::new(json!({"files": list, "topic": "t", "tasks.max": "2"})).await.unwrap();
        assert_eq!(harness.task_count(), 2);
        let records = harness.poll_at_least(15).await.unwrap();
        assert_eq!(records.len(), 15);
        let partitions: std::collections::BTreeSet<String> =
            records.iter().map(|r| r.source_partition.get_str("filename").unwrap().to_owned()).collect();
        assert_eq!(partitions.len(), 3);
    });
}

#[test]
fn file_source_needs_a_file() {
    block_on(async {
        let err = SourceHarness::<FileSource>::new(json!({"topic": "t"})).await.err().unwrap();
        assert!(err.to_string().contains("file: set \"file\" or \"files\""), "{err}");
    });
}

#[test]
fn file_sink_is_compliant() {
    block_on(async {
        let dir = temp_dir("sink-compliance");
        let file = dir.join("out.txt");
        let report = SinkCompliance::new(json!({"file": file}))
            .run::<FileSink>(async || std::fs::read_to_string(&file).unwrap_or_default().lines().map(str::to_owned).collect())
            .await
            .unwrap();
        assert_eq!(report.passed.len(), 3, "{report}");
    });
}
