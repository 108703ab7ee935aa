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
            .exactly_once()
            .run::<FileSink>(async || std::fs::read_to_string(&file).unwrap_or_default().lines().map(str::to_owned).collect())
            .await
            .unwrap();
        assert_eq!(report.passed.len(), 5, "{report}");
    });
}

fn lines_of(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect()
}

#[test]
fn file_sink_cuts_lines_written_after_the_last_flush_and_writes_them_once() {
    block_on(async {
        let dir = temp_dir("sink-cut");
        let file = dir.join("out.txt");
        let mut harness = connect_sdk::testing::SinkHarness::<FileSink>::new(json!({"file": file})).await.unwrap();
        let expected: Vec<String> = (0..20).map(|i| format!("line-{i}")).collect();
        for line in &expected[..10] {
            harness.send("t", connect_sdk::data::Value::Null, line.as_str()).unwrap();
        }
        harness.deliver().await.unwrap();
        harness.flush().await.unwrap();
        for line in &expected[10..] {
            harness.send("t", connect_sdk::data::Value::Null, line.as_str()).unwrap();
        }
        harness.deliver().await.unwrap();
        assert_eq!(lines_of(&file).len(), 20, "put writes through");
        harness.crash_and_restart().await.unwrap();
        assert_eq!(lines_of(&file), expected[..10], "the unflushed lines are cut");
        assert_eq!(harness.next_offset("t"), 10, "and delivered again");
        harness.deliver().await.unwrap();
        harness.flush().await.unwrap();
        assert_eq!(lines_of(&file), expected);
        // A flush starts a sync; closing waits for it.
        harness.close().await.unwrap();
        let stored = std::fs::read_to_string(dir.join("out.txt.positions")).unwrap();
        assert!(stored.contains("\"queue_id\":0") && stored.contains(",20]"), "{stored}");
    });
}

#[test]
fn file_sink_resumes_from_the_committed_offsets_when_its_file_was_replaced() {
    block_on(async {
        let dir = temp_dir("sink-replaced");
        let file = dir.join("out.txt");
        let mut harness = connect_sdk::testing::SinkHarness::<FileSink>::new(json!({"file": file})).await.unwrap();
        for i in 0..10 {
            harness.send("t", connect_sdk::data::Value::Null, format!("line-{i}")).unwrap();
        }
        harness.deliver().await.unwrap();
        // Offsets are committed once a sync stored them: a restarted task (reading the
        // stored positions) commits them with its first flush.
        harness.restart().await.unwrap();
        harness.flush().await.unwrap();
        harness.close().await.unwrap();
        std::fs::write(&file, "another file\n").unwrap();
        harness.crash_and_restart().await.unwrap();
        assert_eq!(lines_of(&file), ["another file"], "a shorter file is not cut");
        assert_eq!(harness.next_offset("t"), 10, "the committed offsets still hold");
    });
}

#[test]
fn file_sink_syncs_beside_its_loop_and_commits_only_what_a_sync_stored() {
    block_on(async {
        let dir = temp_dir("sink-sync");
        let file = dir.join("out.txt");
        let mut harness = connect_sdk::testing::SinkHarness::<FileSink>::new(json!({"file": file})).await.unwrap();
        let mut committed = Vec::new();
        for batch in 0..50 {
            for i in 0..10 {
                harness.send("t", connect_sdk::data::Value::Null, format!("line-{batch}-{i}")).unwrap();
            }
            harness.deliver().await.unwrap();
            harness.flush().await.unwrap();
            committed.push(harness.committed().values().copied().max().unwrap_or(0));
            // Whatever is committed is durable: the positions file covers at least as much.
            let stored: connect_sdk::serde_json::Value = std::fs::read(dir.join("out.txt.positions"))
                .ok()
                .map(|text| connect_sdk::serde_json::from_slice(&text).unwrap())
                .unwrap_or_else(|| json!({"offsets": []}));
            let durable = stored["offsets"].as_array().unwrap().iter().map(|o| o[1].as_i64().unwrap()).max().unwrap_or(0);
            assert!(durable >= *committed.last().unwrap(), "committed {committed:?} beyond the stored {durable}");
        }
        assert!(committed.windows(2).all(|w| w[0] <= w[1]), "commits never go back: {committed:?}");
        assert!(harness.context().take_commit_request() || *committed.last().unwrap() == 500, "a pending sync asks to be flushed again");
        // Flushing again with nothing new takes in the last sync and commits everything.
        for _ in 0..100 {
            harness.flush().await.unwrap();
            if harness.committed().values().copied().max() == Some(500) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(harness.committed().values().copied().max(), Some(500));
        harness.close().await.unwrap();
        assert_eq!(lines_of(&file).len(), 500);
    });
}

/// Queues handed to the task again mid-run (a broker left or came back) go on from the lines
/// the file holds, not from the last sync's positions: syncs held up here by the test holding
/// the positions lock, the batch written since is not delivered a second time.
#[test]
fn file_sink_hands_over_queues_mid_run_where_the_file_is_while_its_syncs_lag() {
    block_on(async {
        let dir = temp_dir("sink-reassign");
        let file = dir.join("out.txt");
        let mut harness = connect_sdk::testing::SinkHarness::<FileSink>::new(json!({"file": file})).await.unwrap();
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("out.txt.positions.lock")).unwrap();
        lock.lock().unwrap();
        for i in 0..10 {
            harness.send("t", connect_sdk::data::Value::Null, format!("line-{i}")).unwrap();
        }
        harness.deliver().await.unwrap();
        harness.reassign().await.unwrap();
        assert!(harness.committed().is_empty(), "nothing is durable while the sync waits for the lock");
        assert_eq!(harness.next_offset("t"), 10, "the queue goes on after the lines the file holds");
        assert_eq!(harness.deliver().await.unwrap(), 0);
        lock.unlock().unwrap();
        harness.close().await.unwrap();
        assert_eq!(lines_of(&file), (0..10).map(|i| format!("line-{i}")).collect::<Vec<_>>());
    });
}

#[test]
fn file_sink_refuses_corrupt_positions_and_says_how_to_go_on() {
    block_on(async {
        let dir = temp_dir("sink-corrupt");
        let file = dir.join("out.txt");
        std::fs::write(dir.join("out.txt.positions"), "{not json").unwrap();
        let error = connect_sdk::testing::SinkHarness::<FileSink>::new(json!({"file": file})).await.err().expect("open fails");
        let text = error.trace();
        assert!(text.contains("out.txt.positions is corrupt; delete it to resume from the committed offsets"), "{text}");
    });
}

/// A named pipe at `path`.
fn fifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

#[test]
fn file_source_reads_lines_as_they_are_written_without_reading_any_twice() {
    block_on(async {
        let dir = temp_dir("growing");
        let file = dir.join("growing.txt");
        std::fs::write(&file, "one\ntw").unwrap();
        let mut harness = SourceHarness::<FileSource>::new(json!({"file": file, "topic": "t"})).await.unwrap();
        let first = harness.poll_at_least(1).await.unwrap();
        assert_eq!(first.iter().map(|r| r.value.to_string()).collect::<Vec<_>>(), ["one"]);
        // The rest of the second line, and a third.
        let mut appender = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
        std::io::Write::write_all(&mut appender, b"o\r\nthree\n").unwrap();
        let rest = harness.poll_at_least(2).await.unwrap();
        assert_eq!(rest.iter().map(|r| r.value.to_string()).collect::<Vec<_>>(), ["two", "three"]);
        assert_eq!(rest[1].source_offset.get_i64("position"), Some(15));
        harness.close().await.unwrap();
    });
}

#[test]
fn a_line_longer_than_the_bound_fails_the_task_instead_of_growing_it() {
    block_on(async {
        let dir = temp_dir("no-newlines");
        let file = dir.join("no-newlines.bin");
        std::fs::write(&file, vec![b'x'; 3 * 1024 * 1024]).unwrap();
        let mut harness = SourceHarness::<FileSource>::new(json!({"file": file, "topic": "t", "max.line.bytes": 1_048_576})).await.unwrap();
        let error = harness.poll_at_least(1).await.expect_err("a 3 MiB line fails the task");
        assert!(error.to_string().contains("longer than max.line.bytes (1048576 bytes)"), "{error}");
    });
}

#[test]
fn file_source_reads_a_named_pipe_written_by_another_process() {
    block_on(async {
        let dir = temp_dir("source-fifo");
        let pipe = dir.join("in.fifo");
        fifo(&pipe);
        let mut writer = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf 'a\\nb\\nc\\n' > '{}'", pipe.display()))
            .spawn()
            .expect("a shell writes the pipe");
        let mut harness = SourceHarness::<FileSource>::new(json!({"file": pipe, "topic": "t"})).await.unwrap();
        let records = harness.poll_at_least(3).await.unwrap();
        assert_eq!(records.iter().map(|r| r.value.to_string()).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(writer.wait().unwrap().success());
        harness.close().await.unwrap();
    });
}

#[test]
fn file_sink_writes_to_dev_null_through_every_flush() {
    block_on(async {
        let mut harness = connect_sdk::testing::SinkHarness::<FileSink>::new(json!({"file": "/dev/null"})).await.unwrap();
        for round in 0..3 {
            for i in 0..1_000 {
                harness.send("t", connect_sdk::data::Value::Null, format!("record-{round}-{i}")).unwrap();
            }
            assert_eq!(harness.deliver().await.unwrap(), 1_000);
            harness.flush().await.unwrap_or_else(|e| panic!("flush {round} of /dev/null: {e}"));
        }
        harness.close().await.unwrap();
    });
}

#[test]
fn file_sink_feeds_a_named_pipe_read_by_another_process() {
    block_on(async {
        let dir = temp_dir("sink-fifo");
        let (pipe, copy) = (dir.join("out.fifo"), dir.join("copy.txt"));
        fifo(&pipe);
        let mut reader = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("cat '{}' > '{}'", pipe.display(), copy.display()))
            .spawn()
            .expect("a shell reads the pipe");
        let mut harness = connect_sdk::testing::SinkHarness::<FileSink>::new(json!({"file": pipe})).await.unwrap();
        for i in 0..100 {
            harness.send("t", connect_sdk::data::Value::Null, format!("line-{i}")).unwrap();
        }
        harness.deliver().await.unwrap();
        harness.flush().await.unwrap();
        harness.close().await.unwrap();
        drop(harness); // the writer's end closes: the reader sees the end of the stream
        assert!(reader.wait().unwrap().success());
        let lines: Vec<String> = std::fs::read_to_string(&copy).unwrap().lines().map(str::to_owned).collect();
        assert_eq!(lines, (0..100).map(|i| format!("line-{i}")).collect::<Vec<_>>());
    });
}
