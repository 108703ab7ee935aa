//! `connect-worker test`: a connector config run in-process, no broker: its config checked as
//! a worker checks it, then records through its transforms, predicates and converters exactly
//! as a worker sends or delivers them, printed as JSON lines or compared with the lines
//! expected (exit 0 when equal, 1 otherwise: a step for CI).
//!
//! - A source config with `--input`: the fixture records are what its task would return from
//!   `poll`; printed is what the worker would write to RocketMQ (topic, key and value as the
//!   converters encode them, headers).
//! - A source config without `--input`: its tasks are opened and polled (they read their real
//!   upstream) until `--max-records` records or `--idle-ms` without one.
//! - A sink config (`--input` required): the fixture records are what its topics hold (key and
//!   value as bytes: a JSON string is its text, any other JSON value its JSON text); printed
//!   is what its task's `put` would receive, after the converters and transforms. With
//!   `--put` the task is opened and gets them (it writes to its system), then flushes.
//!
//! A record a converter or transform refuses is printed as `{"refused": {...}}` naming the
//! stage (or `{"dead_lettered": {...}}` under `errors.tolerance=all`), as the worker would
//! stop the task (or dead-letter it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use connect_runtime::wire::{RawRecord, header_pairs};
use connect_runtime::{AllowedPaths, ConfigProviders, Placeholders, Stage, resolve_tracked, to_sink_record};
use connect_sdk::config::{ConfigMap, Tolerance};
use connect_sdk::converter::{ConverterDefaults, RecordConverters, json_document, json_value};
use connect_sdk::data::{Schema, Value};
use connect_sdk::host::assembly::ValidatedConfig;
use connect_sdk::host::plugin::ConnectorFactory;
use connect_sdk::host::registry::Registry;
use connect_sdk::record::{Headers, QueueId, Record, SinkRecord, SourceRecord};
use connect_sdk::testing::InMemoryOffsetStore;
use connect_sdk::transform::TransformChain;
use connect_sdk::{QueueOffsets, SinkContext, SourceContext};
use serde_json::{Map, Value as Json, json};

/// `connect-worker test`'s options.
#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// The connector file: JSON or YAML, `{"name": ..., "config": {...}}` or a flat config.
    connector: PathBuf,
    /// Fixture records, JSON or YAML: a list (or `{"records": [...]}`) of objects with `topic`
    /// (a sink's defaults to the first of its `topics`), `key`, `value`, `headers` (an object)
    /// and `timestamp`.
    #[arg(long)]
    input: Option<PathBuf>,
    /// The output expected, as JSON lines or a JSON array: exit 1, showing the first
    /// difference, when the output differs.
    #[arg(long)]
    expect: Option<PathBuf>,
    /// A source without `--input`: stop after this many records.
    #[arg(long, default_value_t = 10)]
    max_records: usize,
    /// A source without `--input`: stop after this many milliseconds without a record.
    #[arg(long, default_value_t = 5_000)]
    idle_ms: u64,
    /// A sink: also open its task and put the records (it writes them to its system), then flush.
    #[arg(long)]
    put: bool,
}

/// Runs `connect-worker test`: 0 when the connector did what was expected (no record refused,
/// the output as `--expect` says), 1 otherwise.
pub(crate) fn run(args: TestArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(test(&args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What a run produced: the lines to print, and whether any record was refused.
#[derive(Default)]
struct Output {
    lines: Vec<Json>,
    refused: bool,
}

async fn test(args: &TestArgs) -> anyhow::Result<bool> {
    Registry::global().check().map_err(|e| anyhow!("{e}"))?;
    let specs = connect_ctl::specs::read(&args.connector).map_err(|e| anyhow!("{e}"))?;
    let [spec] = specs.as_slice() else { bail!("{}: give one connector file, not a directory", args.connector.display()) };
    // `${env:...}` and `${file:...}` resolved as a worker with both providers would (the
    // files are the user's own: no allowed paths here); what they resolved to is masked in
    // everything printed.
    let from = Placeholders { providers: ConfigProviders::none().with_env().with_file(), allowed: AllowedPaths::any() };
    let (config, secrets) = resolve_tracked(&spec.config, &from).map_err(|e| anyhow!("{e}"))?;
    let validated = ValidatedConfig::new(Registry::global(), &config, &ConverterDefaults::default())
        .map_err(|e| anyhow!("{}", secrets.redact_errors_of(e, &spec.config)))?;
    let fixtures = args.input.as_deref().map(read_records).transpose()?;
    let output = match (&validated.plugin().factory, fixtures) {
        (ConnectorFactory::Source(_), Some(records)) => source_fixtures(&validated, records),
        (ConnectorFactory::Source(_), None) => source_poll(&validated, args).await,
        (ConnectorFactory::Sink(_), Some(records)) => sink_fixtures(&validated, records, args.put).await,
        (ConnectorFactory::Sink(_), None) => bail!("a sink reads records: give them with --input FILE"),
    }
    .map_err(|e| anyhow!("{}", secrets.redact(&format!("{e:#}"))))?;
    let lines: Vec<Json> = output.lines.into_iter().map(|line| secrets.redact_json(line)).collect();
    for line in &lines {
        println!("{line}");
    }
    let as_expected = match &args.expect {
        Some(path) => compare(&lines, &read_lines(path)?),
        None => true,
    };
    if output.refused {
        eprintln!("a record was refused (see the \"refused\" lines): the worker would stop the task there");
    }
    Ok(as_expected && !output.refused)
}

/// Whether `actual` equals `expected`; says where they first differ.
fn compare(actual: &[Json], expected: &[Json]) -> bool {
    if let Some(at) = actual.iter().zip(expected).position(|(a, e)| a != e) {
        eprintln!("line {} differs:\n  expected: {}\n  actual:   {}", at + 1, expected[at], actual[at]);
        return false;
    }
    if actual.len() != expected.len() {
        eprintln!("{} lines expected, {} written", expected.len(), actual.len());
        return false;
    }
    eprintln!("as expected: {} lines", actual.len());
    true
}

/// A JSON or YAML document (by the file's extension).
fn read_document(path: &Path) -> anyhow::Result<Json> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let yaml = path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml"));
    if yaml {
        serde_yaml_ng::from_str(&text).with_context(|| format!("{}: not YAML", path.display()))
    } else {
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))
    }
}

/// The fixture records of `path`: a list, or `{"records": [...]}`.
fn read_records(path: &Path) -> anyhow::Result<Vec<Map<String, Json>>> {
    let records = match read_document(path)? {
        Json::Array(records) => records,
        Json::Object(mut document) => match document.remove("records") {
            Some(Json::Array(records)) => records,
            _ => bail!("{}: a list of records, or an object with \"records\": [...]", path.display()),
        },
        _ => bail!("{}: a list of records, or an object with \"records\": [...]", path.display()),
    };
    records
        .into_iter()
        .enumerate()
        .map(|(i, record)| match record {
            Json::Object(record) => {
                if let Some(unknown) = record.keys().find(|k| !matches!(k.as_str(), "topic" | "key" | "value" | "headers" | "timestamp")) {
                    bail!("{}: record {}: unknown key \"{unknown}\" (topic, key, value, headers, timestamp)", path.display(), i + 1);
                }
                Ok(record)
            }
            _ => bail!("{}: record {} is not an object", path.display(), i + 1),
        })
        .collect()
}

/// The expected lines: JSON lines, or one JSON array (or YAML list).
fn read_lines(path: &Path) -> anyhow::Result<Vec<Json>> {
    if let Ok(Json::Array(lines)) = read_document(path) {
        return Ok(lines);
    }
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).with_context(|| format!("{}: line {} is not JSON", path.display(), i + 1)))
        .collect()
}

/// A fixture record's topic, key, value, headers and timestamp (`topic` defaults to `topic`).
fn fixture_record(
    fixture: &Map<String, Json>,
    topic: Option<&str>,
    index: usize,
) -> anyhow::Result<(String, Json, Json, Headers, Option<i64>)> {
    let topic = match (fixture.get("topic"), topic) {
        (Some(Json::String(topic)), _) => topic.clone(),
        (None, Some(topic)) => topic.to_owned(),
        _ => bail!("record {}: \"topic\" names the topic it is written to", index + 1),
    };
    let mut headers = Headers::new();
    match fixture.get("headers") {
        None | Some(Json::Null) => {}
        Some(Json::Object(pairs)) => {
            for (key, value) in pairs {
                headers.add(key.clone(), json_value(value));
            }
        }
        Some(_) => bail!("record {}: \"headers\" is an object of names and values", index + 1),
    }
    let timestamp = fixture.get("timestamp").and_then(Json::as_i64);
    let part = |name: &str| fixture.get(name).cloned().unwrap_or(Json::Null);
    Ok((topic, part("key"), part("value"), headers, timestamp))
}

fn source_fixtures(validated: &ValidatedConfig, fixtures: Vec<Map<String, Json>>) -> anyhow::Result<Output> {
    let (chain, converters) = (validated.chain(), validated.converters());
    let mut output = Output::default();
    for (index, fixture) in fixtures.iter().enumerate() {
        let (topic, key, value, headers, timestamp) = fixture_record(fixture, None, index)?;
        let record = Record { key: json_value(&key), headers, timestamp, ..Record::new(topic, json_value(&value)) };
        write_source_record(&chain, &converters, validated, record, index, &mut output);
    }
    Ok(output)
}

async fn source_poll(validated: &ValidatedConfig, args: &TestArgs) -> anyhow::Result<Output> {
    let ConnectorFactory::Source(factory) = validated.plugin().factory else { bail!("not a source") };
    let plan = validated.plan_tasks().await.map_err(|e| anyhow!("planning the tasks failed: {}", e.trace()))?;
    let name = &validated.common().name;
    let count = u32::try_from(plan.tasks.len()).unwrap_or(u32::MAX);
    let offsets = Arc::new(InMemoryOffsetStore::new());
    let mut tasks = Vec::new();
    for (id, config) in plan.tasks.into_iter().enumerate() {
        let ctx = SourceContext::new(name, id as u32, offsets.clone()).with_task_count(count);
        tasks.push((factory.open_task)(config, ctx).await.map_err(|e| anyhow!("task {id} did not open: {}", e.trace()))?);
    }
    let (chain, converters) = (validated.chain(), validated.converters());
    let mut output = Output::default();
    let (mut polled, mut last_record) = (0, Instant::now());
    let idle = Duration::from_millis(args.idle_ms);
    'poll: while polled < args.max_records && last_record.elapsed() < idle && !tasks.is_empty() {
        for task in &mut tasks {
            let records: Vec<SourceRecord> = task.poll().await.map_err(|e| anyhow!("poll failed: {}", e.trace()))?;
            if records.is_empty() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            for record in records {
                last_record = Instant::now();
                write_source_record(&chain, &converters, validated, record.record, polled, &mut output);
                polled += 1;
                if polled >= args.max_records {
                    break 'poll;
                }
            }
        }
    }
    for mut task in tasks {
        task.close().await.map_err(|e| anyhow!("closing a task failed: {}", e.trace()))?;
    }
    Ok(output)
}

/// Transforms and encodes a source's record as the worker would before sending it.
fn write_source_record(
    chain: &TransformChain,
    converters: &RecordConverters,
    validated: &ValidatedConfig,
    record: Record,
    index: usize,
    output: &mut Output,
) {
    let encoded = chain.apply(record).map_err(|e| (Stage::Transformation(e.alias), e.source)).and_then(|record| {
        let Some(record) = record else { return Ok(None) };
        let key =
            converters.key.encode(&record.topic, record.key_schema.as_ref(), &record.key).map_err(|e| (Stage::KeyConverter, e.into()))?;
        let value = converters
            .value
            .encode(&record.topic, record.value_schema.as_ref(), &record.value)
            .map_err(|e| (Stage::ValueConverter, e.into()))?;
        Ok(Some((record.topic, key, value, record.headers)))
    });
    match encoded {
        Ok(Some((topic, key, value, headers))) => output.lines.push(line(topic, bytes_json(key), bytes_json(value), &headers)),
        Ok(None) => {}
        Err((stage, error)) => refused(validated, output, index, &stage, &error),
    }
}

async fn sink_fixtures(validated: &ValidatedConfig, fixtures: Vec<Map<String, Json>>, put: bool) -> anyhow::Result<Output> {
    let (chain, converters) = (validated.chain(), validated.converters());
    let common = validated.common();
    let default_topic = common.topics.first().map(String::as_str);
    let mut output = Output::default();
    let mut records = Vec::new();
    for (index, fixture) in fixtures.iter().enumerate() {
        let (topic, key, value, headers, timestamp) = fixture_record(fixture, default_topic, index)?;
        if common.topic_selection().is_some_and(|selection| !selection.matches(&topic)) {
            bail!("record {}: the connector does not read topic \"{topic}\"", index + 1);
        }
        // As the topic stores it: bytes, header values as text.
        let raw = RawRecord {
            topic,
            key: fixture_bytes(&key).map(Into::into),
            value: fixture_bytes(&value).map(Into::into),
            headers: header_pairs(&headers),
            timestamp,
            source_position: None,
        };
        let queue = QueueId { topic: raw.topic.clone(), broker_name: TEST_BROKER.to_owned(), queue_id: 0 };
        match to_sink_record(&converters, &chain, &raw, &queue, index as i64) {
            Ok(Some(record)) => {
                let key = render(&record.key, record.key_schema.as_ref());
                let value = render(&record.value, record.value_schema.as_ref());
                output.lines.push(line(record.topic.clone(), key, value, &record.headers));
                records.push(record);
            }
            Ok(None) => {}
            Err((stage, error)) => refused(validated, &mut output, index, &stage, &error),
        }
    }
    if put && !output.refused {
        put_records(validated, records).await?;
    }
    Ok(output)
}

/// The broker name of the records a test hands a sink (queue 0 of each topic).
const TEST_BROKER: &str = "connect-worker-test";

/// Opens the sink's first task, puts `records`, flushes and closes it.
async fn put_records(validated: &ValidatedConfig, records: Vec<SinkRecord>) -> anyhow::Result<()> {
    let ConnectorFactory::Sink(factory) = validated.plugin().factory else { bail!("not a sink") };
    let plan = validated.plan_tasks().await.map_err(|e| anyhow!("planning the tasks failed: {}", e.trace()))?;
    let config: ConfigMap = plan.tasks.into_iter().next().ok_or_else(|| anyhow!("the connector planned no task"))?;
    let ctx = SinkContext::new(&validated.common().name, 0, None);
    let mut task = (factory.open_task)(config, ctx).await.map_err(|e| anyhow!("the task did not open: {}", e.trace()))?;
    let mut offsets = QueueOffsets::new();
    for record in &records {
        let queue = QueueId { topic: record.topic.clone(), broker_name: TEST_BROKER.to_owned(), queue_id: 0 };
        offsets.insert(queue, record.position() + 1);
    }
    let count = records.len();
    task.put(records).await.map_err(|e| anyhow!("put failed: {}", e.trace()))?;
    task.flush(&offsets).await.map_err(|e| anyhow!("flush failed: {}", e.trace()))?;
    task.close().await.map_err(|e| anyhow!("close failed: {}", e.trace()))?;
    eprintln!("put and flushed {count} records");
    Ok(())
}

/// A refused record's line: `refused`, or `dead_lettered` under `errors.tolerance=all`.
fn refused(validated: &ValidatedConfig, output: &mut Output, index: usize, stage: &Stage, error: &connect_sdk::Error) {
    let tolerated = validated.common().errors.tolerance == Tolerance::All;
    let mut about = json!({"record": index + 1, "stage": stage.name(), "error": error.to_string()});
    if let Some(alias) = stage.class() {
        about["transform"] = Json::String(alias.to_owned());
    }
    output.lines.push(json!({ if tolerated { "dead_lettered" } else { "refused" }: about }));
    output.refused |= !tolerated;
}

/// One output line.
fn line(topic: String, key: Json, value: Json, headers: &Headers) -> Json {
    let mut line = json!({"topic": topic, "key": key, "value": value});
    if !headers.is_empty() {
        let headers: Map<String, Json> = headers.iter().map(|h| (h.key.clone(), render(&h.value, h.schema.as_ref()))).collect();
        line["headers"] = Json::Object(headers);
    }
    line
}

/// A fixture's key or value as stored bytes: a string is its text, null none, anything else
/// its JSON text.
fn fixture_bytes(json: &Json) -> Option<Vec<u8>> {
    match json {
        Json::Null => None,
        Json::String(text) => Some(text.as_bytes().to_vec()),
        other => Some(other.to_string().into_bytes()),
    }
}

/// Encoded bytes as a line shows them: a JSON object or array as itself, other UTF-8 text as
/// a string, anything else as `{"hex": "..."}`.
fn bytes_json(bytes: Option<Vec<u8>>) -> Json {
    let Some(bytes) = bytes else { return Json::Null };
    match String::from_utf8(bytes) {
        Ok(text) => match serde_json::from_str::<Json>(&text) {
            Ok(document @ (Json::Object(_) | Json::Array(_))) => document,
            _ => Json::String(text),
        },
        Err(error) => json!({"hex": error.as_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()}),
    }
}

/// A decoded value as JSON (its fields by name, logical types as the JSON converter writes them).
fn render(value: &Value, schema: Option<&Schema>) -> Json {
    json_document(value, schema).unwrap_or_else(|_| Json::String(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_show_as_json_documents_text_or_hex() {
        assert_eq!(bytes_json(Some(br#"{"id":1}"#.to_vec())), json!({"id": 1}));
        assert_eq!(bytes_json(Some(b"42".to_vec())), json!("42"), "a scalar stays the text it is");
        assert_eq!(bytes_json(Some(vec![0, 0xff])), json!({"hex": "00ff"}));
        assert_eq!(bytes_json(None), Json::Null);
        assert_eq!(fixture_bytes(&json!({"id": 1})), Some(br#"{"id":1}"#.to_vec()));
        assert_eq!(fixture_bytes(&json!("plain")), Some(b"plain".to_vec()));
    }
}
