//! http-sink and http-source against an HTTP server this test starts (axum, on a free port):
//! retries on 5xx and 429, refusals to the dead-letter queue, cursor paging and resuming.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use connect_http::{HttpSink, HttpSource};
use connect_sdk::data::Value;
use connect_sdk::serde_json::{Value as Json, json};
use connect_sdk::testing::compliance::{SinkCompliance, SourceCompliance};
use connect_sdk::testing::{SinkHarness, SourceHarness};

/// The build profile, for the measurements' labels.
const PROFILE: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

/// What the test server saw and how it answers.
#[derive(Default)]
struct Server {
    /// Bodies accepted by `POST /ingest`.
    bodies: Vec<String>,
    /// `Authorization` headers seen.
    authorizations: Vec<String>,
    /// Answer 503 this many more times.
    fail: usize,
    /// Answer 429 (Retry-After: 1) this many more times.
    throttle: usize,
    /// Requests received.
    requests: usize,
    /// Items served by `GET /items`.
    items: usize,
}

type Shared = Arc<Mutex<Server>>;

async fn ingest(State(server): State<Shared>, headers: HeaderMap, body: String) -> impl IntoResponse {
    let mut server = server.lock().unwrap();
    server.requests += 1;
    if let Some(auth) = headers.get("authorization") {
        server.authorizations.push(auth.to_str().unwrap_or_default().to_owned());
    }
    if server.fail > 0 {
        server.fail -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, HeaderMap::new(), "try later".to_owned());
    }
    if server.throttle > 0 {
        server.throttle -= 1;
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "1".parse().unwrap());
        return (StatusCode::TOO_MANY_REQUESTS, headers, "slow down".to_owned());
    }
    if body.contains("bad") {
        return (StatusCode::BAD_REQUEST, HeaderMap::new(), "bad record".to_owned());
    }
    server.bodies.push(body);
    (StatusCode::OK, HeaderMap::new(), "ok".to_owned())
}

async fn items(State(server): State<Shared>, Query(query): Query<std::collections::HashMap<String, String>>) -> axum::Json<Json> {
    let total = server.lock().unwrap().items;
    let from: usize = query.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let page: usize = query.get("page").and_then(|c| c.parse().ok()).unwrap_or(7);
    let to = (from + page).min(total);
    let data: Vec<Json> = (from..to).map(|i| json!({"id": i, "name": format!("item-{i}")})).collect();
    axum::Json(json!({"data": data, "next": to}))
}

/// A body that never ends (JSON whitespace, 64 KiB at a time).
async fn endless() -> axum::body::Body {
    static CHUNK: [u8; 65_536] = [b' '; 65_536];
    axum::body::Body::from_stream(futures_util::stream::repeat_with(|| Ok::<_, std::io::Error>(axum::body::Bytes::from_static(&CHUNK))))
}

async fn start(server: Server) -> (SocketAddr, Shared) {
    let shared: Shared = Arc::new(Mutex::new(server));
    let app =
        Router::new().route("/ingest", post(ingest)).route("/items", get(items)).route("/endless", get(endless)).with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, shared)
}

/// Every value the server accepted, JSON arrays flattened.
fn accepted(server: &Shared) -> Vec<String> {
    let bodies = server.lock().unwrap().bodies.clone();
    bodies
        .iter()
        .flat_map(|body| match connect_sdk::serde_json::from_str::<Json>(body) {
            Ok(Json::Array(values)) => values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect(),
            Ok(Json::String(s)) => vec![s],
            _ => vec![body.clone()],
        })
        .collect()
}

#[tokio::test]
async fn sink_keeps_the_sink_guarantees() {
    let (addr, server) = start(Server::default()).await;
    let config = json!({"http.api.url": format!("http://{addr}/ingest"), "batch.max.size": 5});
    let report = SinkCompliance::new(config).run::<HttpSink>(async || accepted(&server)).await;
    assert_eq!(report.unwrap().passed.len(), 3);
}

#[tokio::test]
async fn sink_retries_5xx_and_429_with_backoff_and_sends_its_credentials() {
    let (addr, server) = start(Server { fail: 2, throttle: 1, ..Server::default() }).await;
    let config = json!({"http.api.url": format!("http://{addr}/ingest"), "topics": "t", "batch.max.size": 10, "retry.backoff.ms": 50,
        "auth.type": "bearer", "bearer.token": "s3cret", "headers": "X-Source: connect"});
    let mut harness = SinkHarness::<HttpSink>::new(config).await.unwrap();
    for i in 0..3 {
        harness.send("t", Value::Null, format!("v{i}")).unwrap();
    }
    let started = Instant::now();
    harness.deliver().await.unwrap();
    assert!(started.elapsed().as_millis() >= 1000, "Retry-After: 1 was honoured");
    assert_eq!(accepted(&server), ["v0", "v1", "v2"]);
    let server = server.lock().unwrap();
    assert_eq!(server.requests, 4, "two 503s, one 429, then the batch");
    assert!(server.authorizations.iter().all(|a| a == "Bearer s3cret"));
}

#[tokio::test]
async fn sink_gives_up_after_its_retries_with_a_retriable_error() {
    let (addr, _server) = start(Server { fail: 100, ..Server::default() }).await;
    let config = json!({"http.api.url": format!("http://{addr}/ingest"), "topics": "t", "max.retries": 2, "retry.backoff.ms": 10});
    let mut harness = SinkHarness::<HttpSink>::new(config).await.unwrap();
    harness.send("t", Value::Null, "v").unwrap();
    let error = harness.deliver().await.expect_err("the server never answers 2xx");
    assert!(error.is_retriable() && error.to_string().contains("503"), "{error}");
}

#[tokio::test]
async fn sink_sends_a_refused_record_to_the_dead_letter_queue_and_the_rest_through() {
    let (addr, server) = start(Server::default()).await;
    let config = json!({"http.api.url": format!("http://{addr}/ingest"), "topics": "t", "batch.max.size": 10, "errors.tolerance": "all"});
    let mut harness = SinkHarness::<HttpSink>::new(config).await.unwrap();
    for value in ["good-1", "bad-2", "good-3"] {
        harness.send("t", Value::Null, value).unwrap();
    }
    harness.deliver().await.unwrap();
    assert_eq!(accepted(&server), ["good-1", "good-3"]);
    let letters = harness.dead_letters();
    assert_eq!(letters.len(), 1);
    assert!(letters[0].error.contains("400"), "{letters:?}");
}

fn source_config(addr: SocketAddr) -> Json {
    json!({"http.api.url": format!("http://{addr}/items"), "http.response.records.pointer": "/data", "http.response.offset.pointer": "/next",
        "http.record.key.pointer": "/id", "topic": "items", "poll.interval.ms": 50})
}

#[tokio::test]
async fn source_keeps_the_source_guarantees() {
    let (addr, _server) = start(Server { items: 40, ..Server::default() }).await;
    let report = SourceCompliance::new(source_config(addr)).records(40).run::<HttpSource>().await;
    assert_eq!(report.unwrap().passed.len(), 5);
}

#[tokio::test]
async fn source_resumes_inside_a_page_and_sees_new_items() {
    let (addr, server) = start(Server { items: 10, ..Server::default() }).await;
    let mut harness = SourceHarness::<HttpSource>::new(source_config(addr)).await.unwrap();
    let first = harness.poll().await.unwrap();
    assert_eq!(first.len(), 7);
    assert_eq!(first[0].key, Value::from("0"));
    let Value::Map(item) = &first[0].value else { panic!("a JSON object becomes a map: {:?}", first[0].value) };
    assert_eq!(item.get(&Value::from("name")), Some(&Value::from("item-0")));
    let rest = harness.poll_at_least(3).await.unwrap();
    assert_eq!(rest.len(), 3);
    harness.commit().await.unwrap();
    server.lock().unwrap().items = 12;
    let new = harness.poll_at_least(2).await.unwrap();
    assert_eq!(new.iter().map(|r| r.key.clone()).collect::<Vec<_>>(), [Value::from("10"), Value::from("11")]);
    harness.restart().await.unwrap();
    for _ in 0..3 {
        assert!(harness.poll().await.unwrap().is_empty(), "nothing is read twice after a restart");
    }
}

#[tokio::test]
async fn an_endless_response_fails_the_task_at_its_limit() {
    let (addr, _server) = start(Server::default()).await;
    let mut config = source_config(addr);
    config["http.api.url"] = json!(format!("http://{addr}/endless"));
    config["http.response.max.bytes"] = json!(1 << 20);
    let mut harness = SourceHarness::<HttpSource>::new(config).await.unwrap();
    let error = harness.poll().await.unwrap_err();
    assert!(error.to_string().contains("larger than http.response.max.bytes (1048576 bytes)"), "{error}");
    assert!(!error.is_retriable(), "a body over the limit is not retried: {error}");
}

#[tokio::test]
async fn a_bad_configuration_names_its_key() {
    let error = SourceHarness::<HttpSource>::new(json!({"http.api.url": "ftp://x", "topic": "t", "http.record.key.pointer": "id"}))
        .await
        .err()
        .unwrap()
        .to_string();
    for key in ["http.api.url", "http.record.key.pointer", "http.response.offset.pointer"] {
        assert!(error.contains(key), "{key}: {error}");
    }
}

#[tokio::test]
#[ignore = "a measurement, not a check: cargo test --release -p connect-http --test http -- --ignored --nocapture"]
async fn source_and_sink_throughput() {
    const RECORDS: usize = 20_000;
    let (addr, server) = start(Server { items: RECORDS, ..Server::default() }).await;
    let mut config = source_config(addr);
    config["http.api.url"] = json!(format!("http://{addr}/items?page=500"));
    let mut source = SourceHarness::<HttpSource>::new(config).await.unwrap();
    let started = Instant::now();
    let read = source.poll_at_least(RECORDS).await.unwrap().len();
    let source_rate = read as f64 / started.elapsed().as_secs_f64();

    let config = json!({"http.api.url": format!("http://{addr}/ingest"), "topics": "t", "batch.max.size": 500});
    let mut sink = SinkHarness::<HttpSink>::new(config).await.unwrap();
    for i in 0..RECORDS {
        sink.send("t", Value::Null, format!("{i:0>512}")).unwrap();
    }
    let started = Instant::now();
    let written = sink.deliver().await.unwrap();
    let sink_rate = written as f64 / started.elapsed().as_secs_f64();
    println!(
        "MEASURED http: source {read} records (pages of 500) at {source_rate:.0} records/s; sink {written} records (512 B, batches of 500) at {sink_rate:.0} records/s ({PROFILE} build, local server)"
    );
    assert_eq!(accepted(&server).len(), RECORDS);
}
