//! The count-down source's tests: no broker, the worker's own config check, and the SDK's
//! compliance suite (resume, restarts, crashes between send and commit).
use connect_examples::countdown::CountdownSource;
use connect_sdk::serde_json::json;
use connect_sdk::testing::{SourceHarness, block_on, compliance::SourceCompliance};

#[test]
fn shares_the_numbers_over_its_tasks_and_resumes_after_the_last_committed() {
    block_on(async {
        let config = json!({"topic": "countdown", "start": "10", "tasks.max": "3"});
        let mut harness = SourceHarness::<CountdownSource>::new(config.clone()).await.unwrap();
        assert_eq!(harness.task_count(), 3);
        let first = harness.poll_at_least(4).await.unwrap();
        harness.restart().await.unwrap(); // commit, close, reopen from the committed offsets
        let rest = harness.poll_at_least(10 - first.len()).await.unwrap();
        let mut numbers: Vec<u64> = first.iter().chain(&rest).map(|r| r.value.to_string().trim_matches('"').parse().unwrap()).collect();
        numbers.sort();
        assert_eq!(numbers, (1..=10).collect::<Vec<u64>>(), "each number once, across a restart");
        assert!(harness.poll().await.unwrap().is_empty(), "nothing after 1");
        let report = SourceCompliance::new(config).records(10).run::<CountdownSource>().await.unwrap();
        assert_eq!(report.passed.len(), 5, "{report}");
    });
}

#[test]
fn refuses_a_start_below_one() {
    block_on(async {
        let error = SourceHarness::<CountdownSource>::new(json!({"topic": "t", "start": "0"})).await.err().expect("refused");
        assert!(error.to_string().contains("start"), "{error}");
    });
}
