//! A reusable compliance suite: the guarantees every connector keeps, checked generically.
//!
//! ```no_run
//! # use connect_sdk::prelude::*;
//! # #[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
//! # #[connector(task = T)] struct MySource { topic: String }
//! # struct T;
//! # impl SourceTask for T { type Config = MySource;
//! #   async fn open(_: MySource, _: SourceContext) -> Result<Self> { Ok(T) }
//! #   async fn poll(&mut self) -> Result<Vec<SourceRecord>> { Ok(vec![]) } }
//! use connect_sdk::testing::compliance::SourceCompliance;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let report = SourceCompliance::new(serde_json::json!({"topic": "t"}))
//!     .records(100)
//!     .run::<MySource>()
//!     .await
//!     .expect("MySource keeps the source guarantees");
//! println!("{report}");
//! # }
//! ```
//!
//! What the source checks need:
//!
//! - **A deterministic source**: two fresh runs (empty offset store) produce the same records
//!   per source partition. A source that consumes what it reads (a queue, a stream read by a
//!   consumer group) puts the records back between runs: [`SourceCompliance::run_resetting`].
//! - **Enough records**: each run reads [`SourceCompliance::records`] records (20 by default)
//!   from a fresh start; a source that runs out earlier fails `produces_the_records_asked_for`,
//!   saying how many it produced.
//! - Nothing about the order of offsets: a source's offsets are its own (they may count down);
//!   only resuming after a restart, without gaps or repeats, is checked.
//!
//! A check waits for records only while the source makes progress: it fails after the
//! harness's idle timeout without a record (5 s), never after a fixed total time.
//!
//! The sink checks send marker texts and read back what the sink wrote: flushed records
//! must be there after the task's queues were handed over again mid-run (as when a broker
//! leaves or comes back) and after a crash (the task dropped without `flush` or `close`), and
//! a sink that claims exactly-once ([`SinkCompliance::exactly_once`]) must hold each of them
//! once.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::{InMemoryOffsetStore, SinkHarness, SourceHarness};
use crate::config::ConfigOrigin;
use crate::config::schema_info::keys_of;
use crate::connector::{SinkConnector, SourceConnector};
use crate::host::plugin::{ConnectorFactory, sink_factory, source_factory};

/// A check that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComplianceFailure {
    /// The check.
    pub check: &'static str,
    /// What went wrong.
    pub detail: String,
}

impl fmt::Display for ComplianceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "compliance check `{}` failed: {}", self.check, self.detail)
    }
}

impl std::error::Error for ComplianceFailure {}

/// The checks that passed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComplianceReport {
    /// Names of the passed checks, in order.
    pub passed: Vec<&'static str>,
}

impl fmt::Display for ComplianceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} compliance checks passed: {}", self.passed.len(), self.passed.join(", "))
    }
}

fn fail<T>(check: &'static str, detail: impl fmt::Display) -> Result<T, ComplianceFailure> {
    Err(ComplianceFailure { check, detail: detail.to_string() })
}

/// Checks that a bad config is rejected with errors naming the key: an unknown key, and each
/// required key left out.
fn bad_config_is_rejected<C: crate::ConfigSchema>(config: &Json, factory: ConnectorFactory) -> Result<(), ComplianceFailure> {
    let task_configs = |config: &crate::config::ConfigMap, _| factory.parse(config, ConfigOrigin::User);
    const CHECK: &str = "bad_config_is_rejected_with_a_keyed_error";
    let base = full_config(config);
    let mut unknown = base.clone();
    unknown.insert("compliance.unknown.key".into(), json!("x"));
    match task_configs(&unknown, 1) {
        Ok(_) => return fail(CHECK, "an unknown key \"compliance.unknown.key\" was accepted"),
        Err(errors) if errors.for_key("compliance.unknown.key").next().is_none() => {
            return fail(CHECK, format!("the error does not name \"compliance.unknown.key\": {errors}"));
        }
        Err(_) => {}
    }
    for key in keys_of(&C::config_schema()).into_iter().filter(|k| k.required && !k.task_only) {
        let mut missing = base.clone();
        missing.retain(|k, _| crate::config::schema_info::normalize_key(k) != crate::config::schema_info::normalize_key(&key.property));
        match task_configs(&missing, 1) {
            Ok(_) => return fail(CHECK, format!("the config was accepted without the required key \"{}\"", key.key)),
            Err(errors) if errors.for_key(&key.key).next().is_none() => {
                return fail(CHECK, format!("leaving out \"{}\" gave an error that does not name it: {errors}", key.key));
            }
            Err(_) => {}
        }
    }
    Ok(())
}

fn full_config(config: &Json) -> crate::config::ConfigMap {
    let mut map = config.as_object().cloned().unwrap_or_default();
    map.entry("name").or_insert_with(|| json!("compliance"));
    map.entry("connector.class").or_insert_with(|| json!("compliance"));
    map
}

/// The source checks, configured with the connector config and how many records to read.
pub struct SourceCompliance {
    config: Json,
    records: usize,
    idle_timeout: Duration,
}

type Sequences = BTreeMap<String, Vec<Option<Vec<u8>>>>;

/// The first run, whose records the others are compared with.
const PRODUCES: &str = "produces_the_records_asked_for";

impl SourceCompliance {
    /// Checks a source configured by `config` (reads 20 records by default).
    pub fn new(config: Json) -> SourceCompliance {
        SourceCompliance { config, records: 20, idle_timeout: Duration::from_secs(5) }
    }

    /// How many records the resume checks read (at least 2).
    pub fn records(mut self, records: usize) -> SourceCompliance {
        self.records = records.max(2);
        self
    }

    /// How long a check waits for the next record before it fails (default 5 s); see
    /// [`SourceHarness::set_idle_timeout`].
    pub fn idle_timeout(mut self, timeout: Duration) -> SourceCompliance {
        self.idle_timeout = timeout;
        self
    }

    /// Runs every check.
    pub async fn run<C: SourceConnector>(self) -> Result<ComplianceReport, ComplianceFailure> {
        self.run_resetting::<C>(async || {}).await
    }

    /// Runs every check, calling `reset` before each fresh start: for a source that consumes
    /// what it reads (a queue, a stream with a consumer group), `reset` puts the same records
    /// back, so every fresh run sees what the first one saw.
    pub async fn run_resetting<C: SourceConnector>(self, reset: impl AsyncFn()) -> Result<ComplianceReport, ComplianceFailure> {
        let mut report = ComplianceReport::default();
        bad_config_is_rejected::<C>(&self.config, ConnectorFactory::Source(source_factory::<C>()))?;
        report.passed.push("bad_config_is_rejected_with_a_keyed_error");

        reset().await;
        let reference = self.reference::<C>().await?;
        report.passed.push(PRODUCES);

        for crash in [false, true] {
            reset().await;
            self.resume_check::<C>(&reference, crash).await?;
        }
        report.passed.push("resumes_without_gaps_after_restart");
        report.passed.push("resumes_from_the_last_commit_after_a_crash");

        self.close_check::<C>(&reset).await?;
        report.passed.push("close_releases_resources");
        Ok(report)
    }

    async fn harness<C: SourceConnector>(
        &self,
        check: &'static str,
        store: Arc<InMemoryOffsetStore>,
    ) -> Result<SourceHarness<C>, ComplianceFailure> {
        let mut harness = SourceHarness::<C>::with_store(self.config.clone(), store)
            .await
            .or_else(|e| fail(check, format!("cannot open the tasks: {}", e.trace())))?;
        harness.set_idle_timeout(self.idle_timeout);
        Ok(harness)
    }

    async fn reference<C: SourceConnector>(&self) -> Result<Sequences, ComplianceFailure> {
        let mut harness = self.harness::<C>(PRODUCES, Arc::default()).await?;
        harness.poll_at_least(self.records).await.or_else(|e| {
            fail(PRODUCES, format!("a fresh run must produce {} records (SourceCompliance::records): {}", self.records, e.trace()))
        })?;
        let sequences = sequences(&harness);
        harness.close().await.or_else(|e| fail(PRODUCES, e.trace()))?;
        Ok(sequences)
    }

    async fn resume_check<C: SourceConnector>(&self, reference: &Sequences, crash: bool) -> Result<(), ComplianceFailure> {
        let check = if crash { "resumes_from_the_last_commit_after_a_crash" } else { "resumes_without_gaps_after_restart" };
        let mut harness = self.harness::<C>(check, Arc::default()).await?;
        harness.poll_at_least(self.records / 2).await.or_else(|e| fail(check, e.trace()))?;
        harness.commit().await.or_else(|e| fail(check, e.trace()))?;
        let committed = harness.sent().len();
        if crash {
            harness.poll_at_least(1).await.or_else(|e| fail(check, e.trace()))?;
            harness.crash_and_restart().await.or_else(|e| fail(check, e.trace()))?;
        } else {
            harness.restart().await.or_else(|e| fail(check, e.trace()))?;
        }
        let resumed = harness.sent().len();
        let wanted = reference.values().map(Vec::len).sum::<usize>();
        harness.poll_at_least(wanted.saturating_sub(committed)).await.or_else(|e| fail(check, e.trace()))?;
        let sent = harness.sent();
        let mut got = Sequences::new();
        for record in sent[..committed].iter().chain(&sent[resumed..]) {
            got.entry(record.source_partition.to_json_string()).or_default().push(record.value.clone());
        }
        for (partition, expected) in reference {
            let got = got.get(partition).map(Vec::as_slice).unwrap_or_default();
            if let Some(i) = (0..expected.len().min(got.len())).find(|&i| got[i] != expected[i]) {
                return fail(
                    check,
                    format!("partition {partition}: record {i} after the restart differs from an uninterrupted run (a gap or a duplicate)"),
                );
            }
        }
        harness.close().await.or_else(|e| fail(check, e.trace()))
    }

    async fn close_check<C: SourceConnector>(&self, reset: &impl AsyncFn()) -> Result<(), ComplianceFailure> {
        const CHECK: &str = "close_releases_resources";
        for _ in 0..3 {
            reset().await;
            let mut harness = self.harness::<C>(CHECK, Arc::default()).await?;
            harness.poll_at_least(1).await.or_else(|e| fail(CHECK, format!("after reopening: {}", e.trace())))?;
            harness.close().await.or_else(|e| fail(CHECK, e.trace()))?;
        }
        Ok(())
    }
}

fn sequences<C: SourceConnector>(harness: &SourceHarness<C>) -> Sequences {
    let mut out = Sequences::new();
    for sent in harness.sent() {
        out.entry(sent.source_partition.to_json_string()).or_default().push(sent.value.clone());
    }
    out
}

/// Builds the record a sink check sends for a marker text (`compliance-7`).
pub type RecordBuilder = Box<dyn Fn(&str) -> crate::record::Record + Send + Sync>;

/// The topic the sink checks send to.
const COMPLIANCE_TOPIC: &str = "compliance-topic";

/// The sink checks. `read_back` returns what the sink wrote, as text, one entry per record:
/// each record carries a marker text (`compliance-<n>`) that must come back.
pub struct SinkCompliance {
    config: Json,
    records: usize,
    record: RecordBuilder,
    exactly_once: bool,
}

impl SinkCompliance {
    /// Checks a sink configured by `config` (its `topics` is set to the topic the checks use);
    /// each record's value is its marker text, without a key.
    pub fn new(config: Json) -> SinkCompliance {
        SinkCompliance {
            config,
            records: 20,
            record: Box::new(|marker| crate::record::Record::new(COMPLIANCE_TOPIC, marker)),
            exactly_once: false,
        }
    }

    /// Sends the records `build` makes of each marker text instead (a struct with a schema
    /// for a database sink, a keyed record for a key-value store...). The record's topic is
    /// replaced by the checks' topic.
    pub fn record_with(mut self, build: impl Fn(&str) -> crate::record::Record + Send + Sync + 'static) -> SinkCompliance {
        self.record = Box::new(build);
        self
    }

    /// Claims exactly-once delivery: also checks that a crash after records were written but
    /// before their offsets were committed writes none of them twice (`read_back` must then
    /// return every copy the sink holds).
    pub fn exactly_once(mut self) -> SinkCompliance {
        self.exactly_once = true;
        self
    }

    /// How many records to send.
    pub fn records(mut self, records: usize) -> SinkCompliance {
        self.records = records.max(3);
        self
    }

    /// Runs every check; `read_back` reads what the sink made durable so far.
    pub async fn run<C: SinkConnector>(self, read_back: impl AsyncFn() -> Vec<String>) -> Result<ComplianceReport, ComplianceFailure> {
        let mut report = ComplianceReport::default();
        let mut config = self.config.clone();
        config["topics"] = json!(COMPLIANCE_TOPIC);
        bad_config_is_rejected::<C>(&config, ConnectorFactory::Sink(sink_factory::<C>()))?;
        report.passed.push("bad_config_is_rejected_with_a_keyed_error");

        const CHECK: &str = "flushed_records_are_written_and_unflushed_are_redelivered";
        let mut harness = SinkHarness::<C>::new(config.clone()).await.or_else(|e| fail(CHECK, e.trace()))?;
        let values: Vec<String> = (0..self.records).map(|i| format!("compliance-{i}")).collect();
        let (third, two_thirds) = (values.len() / 3, values.len() * 2 / 3);
        let record = |marker: &str| crate::record::Record { topic: COMPLIANCE_TOPIC.to_owned(), ..(self.record)(marker) };
        for value in &values[..third] {
            harness.send_record(record(value)).or_else(|e| fail(CHECK, e.trace()))?;
        }
        harness.deliver().await.or_else(|e| fail(CHECK, e.trace()))?;
        harness.flush().await.or_else(|e| fail(CHECK, e.trace()))?;

        // Mid-run, the queues are handed over again (a broker left or came back).
        for value in &values[third..two_thirds] {
            harness.send_record(record(value)).or_else(|e| fail(CHECK, e.trace()))?;
        }
        harness.deliver().await.or_else(|e| fail(CHECK, e.trace()))?;
        harness.reassign().await.or_else(|e| fail(CHECK, e.trace()))?;
        harness.deliver().await.or_else(|e| fail(CHECK, e.trace()))?;
        harness.flush().await.or_else(|e| fail(CHECK, e.trace()))?;
        let committed_before_crash = harness.committed().values().copied().max().unwrap_or(0);

        for value in &values[two_thirds..] {
            harness.send_record(record(value)).or_else(|e| fail(CHECK, e.trace()))?;
        }
        harness.deliver().await.or_else(|e| fail(CHECK, e.trace()))?;
        harness.crash_and_restart().await.or_else(|e| fail(CHECK, e.trace()))?;
        let resumed_at = harness.next_offset(COMPLIANCE_TOPIC);
        if resumed_at < committed_before_crash {
            return fail(
                CHECK,
                format!(
                    "after a crash the task's stored position {resumed_at} is behind the {committed_before_crash} records flushed and committed: they would be written twice"
                ),
            );
        }
        harness.deliver().await.or_else(|e| fail(CHECK, e.trace()))?;
        harness.flush().await.or_else(|e| fail(CHECK, e.trace()))?;
        // Read once: a reader may consume what it reads (a queue drained).
        let written = read_back().await;
        // Everything committed is in the output (a sink that keeps records buffered across
        // flushes commits less than it was given: see `SinkTask::committable_offsets`).
        let committed = harness.committed().values().copied().max().unwrap_or(0).clamp(0, values.len() as i64) as usize;
        if let Some(missing) = values[..committed].iter().find(|v| !written.contains(v)) {
            return fail(CHECK, format!("\"{missing}\" was flushed and committed but is not in the sink's output"));
        }
        report.passed.push(CHECK);

        let twice =
            |range: &[String]| -> Vec<String> { range.iter().filter(|v| written.iter().filter(|w| w == v).count() > 1).cloned().collect() };
        if self.exactly_once {
            const REASSIGNED: &str = "queues_handed_over_again_mid_run_go_on_where_the_task_left_off";
            if let Some(first) = twice(&values[third..two_thirds]).first() {
                return fail(
                    REASSIGNED,
                    format!(
                        "\"{first}\" was written twice after the task's queues were handed over again mid-run: stored_offsets must answer the positions the destination holds now, not those of an earlier sync"
                    ),
                );
            }
            report.passed.push(REASSIGNED);

            const ONCE: &str = "a_crash_between_write_and_commit_writes_nothing_twice";
            let twice = twice(&values);
            if let Some(first) = twice.first() {
                return fail(
                    ONCE,
                    format!(
                        "{} records were written twice after a crash between their write and the offset commit (the first: \"{first}\"); store positions with the data and return them from stored_offsets",
                        twice.len()
                    ),
                );
            }
            report.passed.push(ONCE);
        }

        const CLOSE: &str = "close_releases_resources";
        harness.close().await.or_else(|e| fail(CLOSE, e.trace()))?;
        for _ in 0..2 {
            let mut again = SinkHarness::<C>::new(config.clone()).await.or_else(|e| fail(CLOSE, format!("reopening: {}", e.trace())))?;
            again.close().await.or_else(|e| fail(CLOSE, e.trace()))?;
        }
        report.passed.push(CLOSE);
        Ok(report)
    }
}
