//! The worker against an attacker, through the binary as an operator starts it: writes by
//! every method and encoding, requests over HTTP/2 and with rebound names, slow clients,
//! configs of hostile sizes (under a memory cap), paths that leave the allowed directories
//! through links, and secrets in every form they can be printed in. Each case was a finding
//! of a probe from outside.

mod process;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use process::{Answer, certificate, curl, start_standalone, start_standalone_with, temp_dir};
use serde_json::{Value as Json, json};

/// `curl` with a JSON body (from a file: a command line cannot carry megabytes).
fn send(method: &str, base: &str, path: &str, body: &Json, more: &[&str]) -> Answer {
    static BODIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let number = BODIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("connect-sec-{}-body-{number}.json", std::process::id()));
    std::fs::write(&file, body.to_string()).unwrap();
    let data = format!("@{}", file.display());
    let args = [&["-X", method, "-H", "Content-Type: application/json", "--data-binary", &data][..], more].concat();
    let answer = curl(None, &args, &format!("{base}{path}"));
    let _ = std::fs::remove_file(file);
    answer
}

/// A connector's state (`""` when it does not exist).
fn state(base: &str, name: &str) -> String {
    curl(None, &[], &format!("{base}/connectors/{name}/status")).body["connector"]["state"].as_str().unwrap_or_default().to_owned()
}

/// Every byte of `text` percent-encoded.
fn encoded(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// The message of a 400, after checking it names `key`.
fn refused(answer: &Answer, key: &str) -> String {
    let message = answer.body["message"].as_str().unwrap_or_default().to_owned();
    assert_eq!(answer.status, 400, "{key}: {:?}", answer.body);
    assert!(message.contains(&format!("{key}: ")) || message.contains(&format!("{key} ")), "the refusal names {key}: {message}");
    message
}

fn datagen(topic: &str) -> Json {
    json!({"connector.class": "datagen-source", "topic": topic, "records.per.second": "1"})
}

#[test]
fn writes_need_a_writing_method_in_any_encoding() {
    let dir = temp_dir("methods");
    let (_worker, base) = start_standalone(&dir, &[], None);
    assert_eq!(send("POST", &base, "/connectors", &json!({"name": "x", "config": datagen("probe")}), &[]).status, 201);
    let config = encoded(&datagen("probe").to_string());
    for (args, path) in [
        (&["-I"][..], "/connectors/x/pause".to_owned()),
        (&["-I"], "/connectors/stop/all".to_owned()),
        (&["-I"], format!("/connectors/g3?config={config}")),
        (&[], format!("/connectors/g2?%63onfig={config}")),
        (&[], format!("/connectors/g4?x=1&con%66ig={config}")),
        (&[], "/connectors/x/%70ause".to_owned()),
        (&[], format!("/plugin/config/validate?config={config}")),
        (&[], "/connectors/x/pause".to_owned()),
        (&["-X", "OPTIONS"], "/connectors/x/pause".to_owned()),
    ] {
        let answer = curl(None, args, &format!("{base}{path}"));
        assert_eq!(answer.status, 405, "{args:?} {path}: {:?}", answer.body);
    }
    assert_eq!(state(&base, "x"), "RUNNING", "nothing paused or stopped it");
    for name in ["g2", "g3", "g4"] {
        assert_eq!(curl(None, &[], &format!("{base}/connectors/{name}")).status, 404, "{name} was not created");
    }
    // A name re-pointed at loopback, over HTTP/1.1 and HTTP/2 (prior knowledge: `:authority`, no Host).
    let port = base.rsplit(':').next().unwrap();
    let rebound = format!("http://evil.example:{port}/connectors");
    let resolve = format!("evil.example:{port}:127.0.0.1");
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        assert_eq!(curl(None, &[version, "--resolve", &resolve], &rebound).status, 403, "{version}");
        assert_eq!(curl(None, &[version], &format!("{base}/connectors")).status, 200, "{version}");
    }
    // A cross-site write in a writing method, and the same site's.
    let cross = ["-H", "Origin: http://evil.example"];
    assert_eq!(send("PUT", &base, "/connectors/x/pause", &json!({}), &cross).status, 403);
    let same = format!("Origin: {base}");
    assert_eq!(send("PUT", &base, "/connectors/x/pause", &json!({}), &["-H", &same]).status, 202);
    // An HTTP/1.1 request without a Host, or with two.
    let addr = base.trim_start_matches("http://");
    for head in ["GET /connectors HTTP/1.1\r\n\r\n", "GET /connectors HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"] {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut answer = [0; 12];
        stream.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"HTTP/1.1 400", "{head:?}");
    }
    // A form body is refused whatever its length header says (HTTP/2 may send none).
    let form = curl(
        None,
        &["--http2-prior-knowledge", "-X", "POST", "-H", "Content-Type: text/plain", "--data-binary", "{}"],
        &format!("{base}/connectors"),
    );
    assert_eq!(form.status, 415, "{:?}", form.body);
    // Each embedded broker preallocates over a gigabyte on disk.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn get_writes_when_served_need_the_admin_role_and_never_come_by_head() {
    let dir = temp_dir("get-writes");
    let users = dir.join("users");
    std::fs::write(&users, "ops:admin-token:admin\nviewer:viewer-token:read\n").unwrap();
    let more =
        ["--rest-get-writes".as_ref(), "--rest-auth-file".as_ref(), users.as_os_str(), "--rest-open-paths".as_ref(), "/health".as_ref()];
    let (_worker, base) = start_standalone(&dir, &more, None);
    let admin = ["-H", "Authorization: Bearer admin-token"];
    let viewer = ["-H", "Authorization: Bearer viewer-token"];
    assert_eq!(send("POST", &base, "/connectors", &json!({"name": "x", "config": datagen("probe")}), &admin).status, 201);
    let config = encoded(&datagen("probe").to_string());
    // Validation by GET resolves placeholders: a reader may not.
    let validate = format!("/plugin/config/validate?config={config}");
    for path in ["/connectors/x/pause".to_owned(), "/connectors/stop/all".to_owned(), format!("/connectors/g2?%63onfig={config}"), validate]
    {
        let answer = curl(None, &viewer, &format!("{base}{path}"));
        assert_eq!(answer.status, 403, "a reader's GET write {path}: {:?}", answer.body);
        assert_eq!(curl(None, &[&admin[..], &["-I"]].concat(), &format!("{base}{path}")).status, 405, "HEAD never writes: {path}");
    }
    let viewer_state = |name: &str| {
        curl(None, &viewer, &format!("{base}/connectors/{name}/status")).body["connector"]["state"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(viewer_state("x"), "RUNNING");
    assert_eq!(curl(None, &admin, &format!("{base}/connectors/x/pause")).status, 202, "an admin's GET write is served");
    let created = curl(None, &admin, &format!("{base}/connectors/g2?%63onfig={config}"));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let log = std::fs::read_to_string(dir.join("worker.log")).unwrap();
    assert!(log.lines().any(|l| l.contains("REST write") && l.contains("ops") && l.contains("/connectors/g2")), "{log}");
    // Each embedded broker preallocates over a gigabyte on disk.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn http2_requests_are_judged_by_their_authority() {
    let dir = temp_dir("h2");
    let (cert, key) = certificate(&dir);
    let more = ["--rest-tls-cert".as_ref(), cert.as_os_str(), "--rest-tls-key".as_ref(), key.as_os_str()];
    let (_worker, base) = start_standalone(&dir, &more, Some(&cert));
    let port = base.rsplit(':').next().unwrap();
    let body = json!({"name": "h2", "config": datagen("h2-probe")}).to_string();
    let write = |origin: &str| {
        let args = ["--http2", "-X", "POST", "-H", "Content-Type: application/json", "-H", origin, "--data-binary", &body];
        curl(Some(&cert), &args, &format!("{base}/connectors"))
    };
    let own = write(&format!("Origin: https://localhost:{port}"));
    assert_eq!(own.status, 201, "the dashboard's own write over HTTP/2: {:?}", own.body);
    assert_eq!(write("Origin: https://evil.example").status, 403, "a cross-site write over HTTP/2");
    let resolve = format!("evil.example:{port}:127.0.0.1");
    for version in ["--http2", "--http1.1"] {
        let rebound = curl(None, &["-k", version, "--resolve", &resolve], &format!("https://evil.example:{port}/connectors"));
        assert_eq!(rebound.status, 403, "DNS rebinding over {version}: {:?}", rebound.body);
    }
    // Each embedded broker preallocates over a gigabyte on disk.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn slow_clients_are_cut_off_and_hold_nothing() {
    let dir = temp_dir("slow");
    let (_worker, base) = start_standalone(&dir, &[], None);
    let addr = base.trim_start_matches("http://").to_owned();
    // Half a request's headers: the connection is closed after the header timeout.
    let half = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let mut stream = std::net::TcpStream::connect(&addr).unwrap();
            stream.write_all(b"GET /connectors HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            let started = Instant::now();
            let mut buffer = [0; 512];
            let read = stream.read(&mut buffer);
            (started.elapsed(), read.map_err(|e| e.kind()))
        }
    });
    // A body that stalls: answered 408 once the body timeout passes.
    let stalled = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        let head =
            "POST /connectors HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\"";
        stream.write_all(head.as_bytes()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    });
    // A connection that never sends a byte is closed too (telling HTTP/1 from HTTP/2 waits for one).
    let silent = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(curl(None, &[], &format!("{base}/connectors")).status, 200, "others are served meanwhile");
    let (waited, read) = half.join().unwrap();
    assert!(read.is_ok() && waited < Duration::from_secs(45), "half headers: {read:?} after {waited:?}");
    assert_eq!((&silent).read(&mut [0; 16]).map_err(|e| e.kind()), Ok(0), "a silent connection is closed");
    let answer = stalled.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "a stalled body: {answer}");
    // Each embedded broker preallocates over a gigabyte on disk.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_sizes_are_refused_and_a_stored_one_fails_only_its_connector() {
    let dir = temp_dir("sizes");
    // Capped: a worker that grew without bound would be stopped here, not take the machine.
    let cap = Some("2147483648");
    let (mut worker, base) = start_standalone_with(cap, &dir, &[], None);
    let create = |name: &str, config: Json| send("POST", &base, "/connectors", &json!({"name": name, "config": config}), &[]);
    let huge = "t".repeat(1_900_000);
    let message = refused(&create("huge-topic", datagen(&huge)), "topic");
    assert!(message.len() < 1000, "the refusal does not repeat the value ({} bytes)", message.len());
    for topic in ["", "a b/c%", "%RETRY%group", "TBW102"] {
        refused(&create("bad-topic", datagen(topic)), "topic");
    }
    let mut payload = datagen("t");
    payload["payload.bytes"] = json!("100000000");
    refused(&create("payload", payload), "payload.bytes");
    let mut spaced = datagen("t");
    spaced["tasks.max"] = json!(" 1");
    refused(&create("spaced", spaced), "tasks.max");
    let mut line = json!({"connector.class": "file-source", "topic": "t", "file": dir.join("data/in.txt"), "max.line.bytes": "4000000000"});
    refused(&create("lines", line.clone()), "max.line.bytes");
    line["max.line.bytes"] = json!("1024");
    line["transforms"] = json!("r");
    line["transforms.r.type"] = json!("RegexRouter");
    line["transforms.r.regex"] = json!("(.*)");
    line["transforms.r.replacement"] = json!("x".repeat(70_000));
    refused(&create("long-value", line), "transforms.r.replacement");
    for name in ["\u{202e}gnp.exe", " lead", "trail ", ".", "..", "a\u{200b}b"] {
        let answer = send("PUT", &base, &format!("/connectors/{}/config", encoded(name)), &datagen("t"), &[]);
        assert_eq!(answer.status, 400, "name {name:?}: {:?}", answer.body);
    }
    // Each value within its bound, the whole over the bound of one config.
    let mut heavy = datagen("t");
    heavy["transforms"] = json!("t0,t1,t2,t3,t4");
    for i in 0..5 {
        heavy[format!("transforms.t{i}.type")] = json!("InsertHeader");
        heavy[format!("transforms.t{i}.header")] = json!(format!("h{i}"));
        heavy[format!("transforms.t{i}.value.literal")] = json!("x".repeat(60_000));
    }
    let answer = create("heavy", heavy);
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert!(answer.body["message"].as_str().unwrap_or_default().contains("bytes: at most 262144"), "{:?}", answer.body);
    // A logger name goes into the log's filter: `x=trace,y` would add a directive of its own.
    let injected = send("PUT", &base, "/admin/loggers/connect_runtime%3Dtrace%2Cx", &json!({"level": "INFO"}), &[]);
    assert_eq!(injected.status, 400, "{:?}", injected.body);
    let long = send("PUT", &base, &format!("/admin/loggers/{}", "a".repeat(20_000)), &json!({"level": "INFO"}), &[]);
    assert_eq!(long.status, 400, "{:?}", long.body);
    // Many unknown keys: refused at once, not after minutes of suggestions.
    let many: serde_json::Map<String, Json> = (0..100_000).map(|i| (format!("k{i}"), json!("v"))).collect();
    let started = Instant::now();
    let answer = send("PUT", &base, "/connector-plugins/datagen-source/config/validate", &Json::Object(many), &[]);
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert!(answer.body["message"].as_str().unwrap_or_default().contains("at most 1000"), "{:?}", answer.body);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    // The largest payload allowed at an unbounded rate: the worker stays within its cap.
    let mut fast = datagen("big-payloads");
    fast["payload.bytes"] = json!("1048576");
    fast["records.per.second"] = json!("0");
    fast["batch.size"] = json!("100000");
    fast["max.records"] = json!("600");
    fast["tasks.max"] = json!("2");
    assert_eq!(create("big", fast).status, 201);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        assert!(worker.0.try_wait().unwrap().is_none(), "the worker died: {}", tail(&dir.join("worker.log")));
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(curl(None, &[], &format!("{base}/health")).status, 200);
    assert_eq!(send("DELETE", &base, "/connectors/big", &json!({}), &[]).status, 204);

    // A stored config that is refused now (written before the bounds) fails its connector at
    // every start, and the worker runs on.
    assert_eq!(create("stored", datagen("stored-topic")).status, 201);
    worker.stop();
    // The config is in the log's journal, or in its snapshot once compacted.
    let mut found = false;
    for stored in [dir.join("data/connectors.journal"), dir.join("data/connectors.json")] {
        let text = std::fs::read_to_string(&stored).unwrap_or_default();
        let edited = text
            .replace(
                "\"topic\":\"stored-topic\",\"records.per.second\":\"1\"",
                "\"topic\":\"stored-topic\",\"records.per.second\":\"1\",\"payload.bytes\":\"100000000\"",
            )
            .replace("\"records.per.second\": \"1\"", "\"records.per.second\": \"1\", \"payload.bytes\": \"100000000\"");
        if edited != text {
            found = true;
            std::fs::write(&stored, edited).unwrap();
        }
    }
    assert!(found, "the stored config was found in the configs log");
    for _ in 0..2 {
        let (mut restarted, base) = start_standalone_with(cap, &dir, &[], None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while state(&base, "stored") != "FAILED" {
            assert!(Instant::now() < deadline, "{:?}", curl(None, &[], &format!("{base}/connectors/stored/status")).body);
            std::thread::sleep(Duration::from_millis(300));
        }
        let status = curl(None, &[], &format!("{base}/connectors/stored/status")).body;
        assert!(status.to_string().contains("payload.bytes"), "the trace names the key: {status}");
        let stays_up = connect_testkit::holds_for_blocking(Duration::from_secs(5), || restarted.0.try_wait().unwrap().is_none());
        assert!(stays_up, "the worker died: {}", tail(&dir.join("worker.log")));
        assert_eq!(curl(None, &[], &format!("{base}/health")).status, 200);
        restarted.stop();
    }
    // Each embedded broker preallocates over a gigabyte on disk.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn paths_are_resolved_once_and_stay_inside() {
    let dir = temp_dir("paths");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/in.txt"), "a\n").unwrap();
    // By default: the data directory only, never the worker's own files, no placeholders.
    let (mut worker, base) = start_standalone(&dir, &[], None);
    let create = |base: &str, name: &str, config: Json| send("POST", base, "/connectors", &json!({"name": name, "config": config}), &[]);
    let source = |file: String| json!({"connector.class": "file-source", "topic": "t", "file": file});
    refused(&create(&base, "out", source("/etc/hostname".into())), "file");
    let sink = json!({"connector.class": "file-sink", "topics": "t", "file": dir.join("data/connectors.json")});
    refused(&create(&base, "state", sink), "file");
    refused(&create(&base, "env", datagen("${env:HOME}")), "topic");
    assert!(create(&base, "env", datagen("${env:HOME}")).body["message"].as_str().unwrap().contains("--config-providers env"));
    assert_eq!(create(&base, "inside", source(dir.join("data/in.txt").display().to_string())).status, 201);
    worker.stop();

    // With --allowed-paths and a link out of it: `..` after the link is where the link leads.
    let allowed = dir.join("allowed");
    std::fs::create_dir_all(allowed.join("sub")).unwrap();
    std::fs::create_dir_all(allowed.join("objects")).unwrap();
    std::fs::write(allowed.join("in.txt"), "a\n").unwrap();
    std::os::unix::fs::symlink("/etc", allowed.join("etclink")).unwrap();
    let more = ["--allowed-paths".as_ref(), allowed.as_os_str(), "--config-providers".as_ref(), "file".as_ref()];
    let (_worker, base) = start_standalone(&dir, &more, None);
    let escape = format!("{}/etclink/../etc/passwd", allowed.display());
    refused(&create(&base, "escape", source(escape.clone())), "file");
    let sink = json!({"connector.class": "file-sink", "topics": "t", "file": format!("{}/etclink/../tmp/planted", allowed.display())});
    refused(&create(&base, "plant", sink), "file");
    refused(&create(&base, "secret", datagen(&format!("${{file:{escape}:root}}"))), "topic");
    let store = |url: String| json!({"connector.class": "object-store-sink", "topics": "t", "store.url": url});
    refused(&create(&base, "store", store(format!("file://{}", dir.join("outside").display()))), "store.url");
    refused(&create(&base, "store", store(format!("file://{}/etclink/..", allowed.display()))), "store.url");
    // Validation creates nothing, inside or outside: a directory named like a state file
    // would keep the worker from starting again.
    let validate = |config: Json| send("PUT", &base, "/connector-plugins/object-store-sink/config/validate", &config, &[]);
    for url in [format!("file://{}", dir.join("data/schemas.json").display()), format!("file://{}/made/by/validation", allowed.display())] {
        assert_eq!(validate(store(url.clone())).status, 200);
        assert!(!Path::new(url.trim_start_matches("file://")).exists(), "validation created {url}");
    }
    assert_eq!(create(&base, "store", store(format!("file://{}/objects", allowed.display()))).status, 201);
    // A path inside, spelled with `..`: the task opens the resolved path.
    let roundabout = format!("{}/sub/../in.txt", allowed.display());
    assert_eq!(create(&base, "roundabout", source(roundabout)).status, 201);
    let tasks = curl(None, &[], &format!("{base}/connectors/roundabout/tasks")).body;
    let opened = tasks[0]["config"]["files"][0].as_str().unwrap_or_default().to_owned();
    assert_eq!(opened, allowed.canonicalize().unwrap().join("in.txt").display().to_string(), "{tasks}");
    // Each embedded broker preallocates over a gigabyte on disk.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn secrets_are_masked_in_every_form_they_are_printed_in() {
    let dir = temp_dir("secrets");
    let secret = "Tr1cky\"Sec\\ret/ü-Z9";
    let plain = "plainsecretvalue123";
    let properties = dir.join("secrets.properties");
    std::fs::write(&properties, format!("token={secret}\nplain={plain}\n")).unwrap();
    std::fs::write(dir.join(format!("{plain}.txt")), "a\nb\n").unwrap();
    let more = ["--allowed-paths".as_ref(), dir.as_os_str(), "--config-providers".as_ref(), "file".as_ref()];
    let (_worker, base) = start_standalone(&dir, &more, None);
    let token = format!("${{file:{}:token}}", properties.display());
    let plain_placeholder = format!("${{file:{}:plain}}", properties.display());
    let create = |name: &str, config: Json| send("POST", &base, "/connectors", &json!({"name": name, "config": config}), &[]);
    let shows = |what: &str, text: &str| {
        for leaked in ["Tr1cky", plain] {
            assert!(!text.contains(leaked), "{what} shows a secret: {text}");
        }
    };

    // Escaped in a 400: `auth.type: invalid value "Tr1cky\"Sec\\ret..."`.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/items?token={token}", server.local_addr().unwrap());
    let http = |auth: &str| json!({"connector.class": "http-source", "topic": "http-items", "http.api.url": url, "auth.type": auth, "request.timeout.ms": "1000", "max.retries": "0", "http.response.offset.pointer": "/next"});
    let answer = create("bad-auth", http(&token));
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    shows("a 400", &answer.body.to_string());
    // URL-encoded in a trace: a server that never answers; the trace names the timeout key.
    let created = create("silent", http("none"));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        let status = curl(None, &[], &format!("{base}/connectors/silent/status")).body;
        if status["tasks"][0]["state"] == "FAILED" || status["tasks"][0]["trace"].as_str().is_some_and(|t| !t.is_empty()) {
            break status;
        }
        assert!(Instant::now() < deadline, "{status}");
        std::thread::sleep(Duration::from_millis(300));
    };
    shows("a trace", &status.to_string());
    assert!(status.to_string().contains("request.timeout.ms"), "the trace names the key: {status}");
    let describe = std::process::Command::new(env!("CARGO_BIN_EXE_connect-worker"))
        .args(["ctl", "--url", &base, "describe", "silent"])
        .output()
        .unwrap();
    shows("ctl describe", &String::from_utf8_lossy(&describe.stdout));
    // Inside a path, and so inside offsets.
    let file = format!("{}/{plain_placeholder}.txt", dir.display());
    assert_eq!(create("offsets", json!({"connector.class": "file-source", "topic": "secret-lines", "file": file})).status, 201);
    let deadline = Instant::now() + Duration::from_secs(60);
    let offsets = loop {
        let offsets = curl(None, &[], &format!("{base}/connectors/offsets/offsets")).body;
        if offsets["offsets"].as_array().is_some_and(|o| !o.is_empty()) {
            break offsets;
        }
        assert!(Instant::now() < deadline, "{offsets}");
        std::thread::sleep(Duration::from_millis(300));
    };
    shows("the offsets", &offsets.to_string());
    assert!(offsets.to_string().contains("${file:"), "{offsets}");
    // In a topic name, which the RocketMQ client logs.
    assert_eq!(create("topic", datagen(&format!("tp-{plain_placeholder}"))).status, 201);
    // Records reached the topic: the client has looked its route up (and logged what it logs).
    let deadline = Instant::now() + Duration::from_secs(60);
    while curl(None, &[], &format!("{base}/connectors/topic/topics")).body["topic"]["topics"].as_array().is_none_or(Vec::is_empty) {
        assert!(Instant::now() < deadline, "no records reached the topic");
        std::thread::sleep(Duration::from_millis(300));
    }
    for path in ["/connectors?expand=status&expand=info", "/connectors/topic/topics", "/connectors/topic/tasks", "/metrics"] {
        shows(path, &curl(None, &[], &format!("{base}{path}")).body.to_string());
    }
    shows("the log", &std::fs::read_to_string(dir.join("worker.log")).unwrap());
    drop(server);
    // Each embedded broker preallocates over a gigabyte on disk.
    let _ = std::fs::remove_dir_all(&dir);
}

/// The end of a log, for failure messages.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
}
