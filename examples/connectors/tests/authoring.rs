//! The authoring workflow: each example connector tested with the SDK's harness and
//! compliance suite, no broker involved.

use std::path::PathBuf;

use connect_examples::counter::CounterSource;
use connect_examples::lines::LinesSource;
use connect_examples::log_sink::LogSink;
use connect_sdk::prelude::*;
use connect_sdk::serde_json::json;
use connect_sdk::testing::compliance::{SinkCompliance, SourceCompliance};
use connect_sdk::testing::{SinkHarness, SourceHarness, block_on};

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-examples-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn numbered_lines(count: usize) -> String {
    (0..count).map(|i| format!("line {i}\n")).collect()
}

#[test]
fn lines_source_emits_each_line_once_across_a_restart() {
    block_on(async {
        let path = temp_file("restart.txt", &numbered_lines(10));
        let config = json!({"file": path, "topic": "lines", "batch.size": "4"});
        let mut harness = SourceHarness::<LinesSource>::new(config).await.unwrap();
        let first = harness.poll().await.unwrap();
        assert_eq!(first.len(), 4);
        harness.restart().await.unwrap();
        let rest = harness.poll_at_least(6).await.unwrap();
        let values: Vec<Value> = first.iter().chain(&rest).map(|r| r.value.clone()).collect();
        let expected: Vec<Value> = (0..10).map(|i| Value::from(format!("line {i}"))).collect();
        assert_eq!(values, expected);
    });
}

#[test]
fn lines_source_waits_for_the_end_of_a_partial_line() {
    block_on(async {
        let path = temp_file("partial.txt", "complete\nparti");
        let mut harness = SourceHarness::<LinesSource>::new(json!({"file": path, "topic": "t"})).await.unwrap();
        assert_eq!(harness.poll().await.unwrap().len(), 1);
        assert!(harness.poll().await.unwrap().is_empty());
        std::fs::OpenOptions::new().append(true).open(&path).and_then(|mut f| std::io::Write::write_all(&mut f, b"al\n")).unwrap();
        assert_eq!(harness.poll().await.unwrap()[0].value, Value::from("partial"));
    });
}

#[test]
fn lines_source_goes_through_configured_transforms_and_converters() {
    block_on(async {
        let path = temp_file("transforms.txt", "hello\n");
        let config = json!({
            "file": path, "topic": "raw",
            "transforms": "wrap,route",
            "transforms.wrap.type": "HoistField$Value", "transforms.wrap.field": "line",
            "transforms.route.type": "RegexRouter", "transforms.route.regex": "raw", "transforms.route.replacement": "clean",
            "value.converter": "json", "value.converter.schemas.enable": "false",
        });
        let mut harness = SourceHarness::<LinesSource>::new(config).await.unwrap();
        harness.poll_at_least(1).await.unwrap();
        let sent = &harness.sent()[0];
        assert_eq!(sent.topic, "clean");
        assert_eq!(sent.value.as_deref(), Some(&br#"{"line":"hello"}"#[..]));
    });
}

#[test]
fn lines_source_is_compliant() {
    block_on(async {
        let path = temp_file("compliance.txt", &numbered_lines(50));
        let report =
            SourceCompliance::new(json!({"file": path, "topic": "t", "batch.size": 3})).records(30).run::<LinesSource>().await.unwrap();
        assert_eq!(report.passed.len(), 5, "{report}");
    });
}

#[test]
fn lines_source_rejects_a_missing_file_and_a_typo() {
    block_on(async {
        let err = SourceHarness::<LinesSource>::new(json!({"file": "/no/such/file", "topic": "t"})).await.err().unwrap();
        assert!(err.to_string().contains("No such file"), "{err}");
        let err = SourceHarness::<LinesSource>::new(json!({"file": "x", "topic": "t", "batch.szie": 3})).await.err().unwrap();
        assert!(err.to_string().contains("batch.szie: unknown configuration key; did you mean \"batch.size\"?"), "{err}");
    });
}

#[test]
fn counter_source_splits_into_one_sequence_per_task() {
    block_on(async {
        let config = json!({"topic": "numbers", "tasks.max": "3", "batch": 2, "max.records": 4});
        let mut harness = SourceHarness::<CounterSource>::new(config).await.unwrap();
        assert_eq!(harness.task_count(), 3);
        let mut values: Vec<String> = harness.poll_at_least(12).await.unwrap().iter().map(|r| r.value.to_string()).collect();
        values.sort();
        let mut expected: Vec<String> = (0..3).flat_map(|t| (0..4).map(move |s| format!("{t}-{s}"))).collect();
        expected.sort();
        assert_eq!(values, expected);
        assert!(harness.poll().await.unwrap().is_empty(), "max.records stops each task");
    });
}

#[test]
fn counter_source_is_compliant() {
    block_on(async {
        let report = SourceCompliance::new(json!({"topic": "t", "tasks.max": 2, "batch": 3})).run::<CounterSource>().await.unwrap();
        assert_eq!(report.passed.len(), 5, "{report}");
    });
}

#[test]
fn log_sink_is_compliant() {
    block_on(async {
        let path = temp_file("log-sink.txt", "");
        let config = json!({"output": path, "prefix": "> "});
        let report = SinkCompliance::new(config)
            .run::<LogSink>(async || {
                std::fs::read_to_string(&path).unwrap().lines().map(|l| l.rsplit(' ').next().unwrap().to_owned()).collect()
            })
            .await
            .unwrap();
        assert_eq!(report.passed.len(), 3, "{report}");
    });
}

#[test]
fn log_sink_dead_letters_unreadable_records_when_tolerated() {
    block_on(async {
        let path = temp_file("log-dlq.txt", "");
        let config = json!({"output": path, "topics": "in", "errors.tolerance": "all", "value.converter": "json"});
        let mut harness = SinkHarness::<LogSink>::new(config).await.unwrap();
        harness.send_raw("in", None, Some(b"not json".to_vec()), Default::default(), None);
        harness.send("in", Value::Null, "fine").unwrap();
        assert_eq!(harness.deliver().await.unwrap(), 1);
        harness.flush().await.unwrap();
        let dead = harness.dead_letters();
        assert_eq!((dead.len(), dead[0].offset), (1, 0));
        assert!(dead[0].error.contains("not valid JSON"), "{}", dead[0].error);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "in null fine\n");
    });
}

#[test]
fn log_sink_fails_on_unreadable_records_by_default() {
    block_on(async {
        let path = temp_file("log-strict.txt", "");
        let mut harness = SinkHarness::<LogSink>::new(json!({"output": path, "topics": "in"})).await.unwrap();
        harness.send_raw("in", None, Some(b"{bad".to_vec()), Default::default(), None);
        assert!(harness.deliver().await.is_err());
        assert!(harness.committed().is_empty());
    });
}

#[test]
fn the_readme_shows_the_example_files_as_they_are() {
    // Each `<!-- path -->` line of README.md is followed by a copy of that file (relative to
    // this crate); `<!-- doc of path -->` by a part of that file's compiled module doc.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    let readme = std::fs::read_to_string(format!("{root}../../README.md")).unwrap();
    let mut shown = 0;
    for block in readme.split("<!-- ").skip(1) {
        let Some((path, rest)) = block.split_once(" -->\n```rust\n") else { continue };
        let copy = rest.split("```\n").next().unwrap();
        let (path, doc) = path.strip_prefix("doc of ").map_or((path, false), |p| (p, true));
        let file = std::fs::read_to_string(format!("{root}{path}")).unwrap_or_else(|e| panic!("README.md shows {path}: {e}"));
        if doc {
            let doc: String =
                file.lines().filter_map(|l| l.strip_prefix("//!")).map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l))).collect();
            assert!(doc.contains(copy), "README.md's part of {path}'s documentation differs from it");
        } else {
            assert_eq!(copy, file, "README.md's copy of {path} differs from the file");
        }
        shown += 1;
    }
    assert!(shown >= 4, "README.md shows the source, its tests, the sink and the key groups ({shown} shown)");
}
