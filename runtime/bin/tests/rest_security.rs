//! The REST API's authentication and TLS, through the binary and `curl`: users from
//! `--rest-auth-file` with the `read` and `admin` roles, 401 and 403 in Kafka Connect's error
//! body, open paths for probes, HTTPS from PEM files, and clear start-up errors.

mod process;

use std::time::{Duration, Instant};

use process::{Process, certificate, curl, temp_dir};
use serde_json::Value as Json;

#[test]
fn users_need_credentials_readers_only_read_and_the_api_speaks_https() {
    let dir = temp_dir("auth");
    let (cert, key) = certificate(&dir);
    let users = dir.join("users");
    std::fs::write(&users, "# operators\nops:admin-token:admin\nviewer:viewer-pass:read\n").unwrap();
    let port = connect_runtime::embedded::free_port().unwrap();
    let args: Vec<std::ffi::OsString> = vec![
        "standalone".into(),
        "--rest-addr".into(),
        format!("127.0.0.1:{port}").into(),
        "--data-dir".into(),
        dir.join("data").into(),
        "--embedded-namesrv-port".into(),
        "0".into(),
        "--embedded-broker-port".into(),
        "0".into(),
        "--rest-auth-file".into(),
        users.clone().into(),
        "--rest-open-paths".into(),
        "/health,/ready".into(),
        "--rest-tls-cert".into(),
        cert.clone().into(),
        "--rest-tls-key".into(),
        key.into(),
    ];
    let log = dir.join("worker.log");
    let worker = Process::start(args, &log);
    let base = format!("https://localhost:{port}");
    let ca = Some(cert.as_path());

    // An open path answers without credentials: the probe sees the worker start.
    let deadline = Instant::now() + Duration::from_secs(120);
    while curl(ca, &[], &format!("{base}/health")).status != 200 {
        assert!(Instant::now() < deadline, "no healthy answer over HTTPS: {}", std::fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(300));
    }

    let anonymous = curl(ca, &[], &format!("{base}/connectors"));
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["error_code"], 401, "{:?}", anonymous.body);
    assert!(anonymous.headers.contains("www-authenticate: basic realm="), "{}", anonymous.headers);
    assert_eq!(curl(ca, &["-H", "Authorization: Bearer not-a-token"], &format!("{base}/connectors")).status, 401);
    assert_eq!(curl(ca, &["-u", "viewer:admin-token"], &format!("{base}/connectors")).status, 401, "another user's secret");
    assert_eq!(curl(ca, &[], &format!("{base}/metrics")).status, 401, "only the listed paths are open");
    // The dashboard's files hold no data: they load without credentials, and ask for them.
    let page = curl(ca, &[], &format!("{base}/ui/"));
    assert_eq!(page.status, 200);
    assert!(page.headers.contains("content-security-policy: default-src 'self'"), "{}", page.headers);
    assert_eq!(curl(ca, &[], &format!("{base}/ui/app.js")).status, 200);

    let read = curl(ca, &["-u", "viewer:viewer-pass"], &format!("{base}/connectors"));
    assert_eq!((read.status, read.body.clone()), (200, serde_json::json!([])));
    let create = [
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"name": "gen", "config": {"connector.class": "datagen-source", "topic": "sec-gen", "records.per.second": 10}}"#,
    ];
    let refused = curl(ca, &[&["-u", "viewer:viewer-pass"][..], &create].concat(), &format!("{base}/connectors"));
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert!(refused.body["message"].as_str().unwrap().contains("needs the admin role"), "{:?}", refused.body);
    let created = curl(ca, &[&["-H", "Authorization: Bearer admin-token"][..], &create].concat(), &format!("{base}/connectors"));
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(curl(ca, &["-H", "Authorization: Bearer viewer-pass"], &format!("{base}/connectors/gen/status")).status, 200);
    let pause = ["-X", "PUT", "-H", "Authorization: Bearer viewer-pass"];
    assert_eq!(curl(ca, &pause, &format!("{base}/connectors/gen/pause")).status, 403, "a pause is a write");

    // The document says how to authenticate, and which paths are open.
    let document = curl(ca, &["-u", "viewer:viewer-pass"], &format!("{base}/openapi.json")).body;
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer", "{}", document["components"]);
    assert_eq!(document["paths"]["/health"]["get"]["security"], serde_json::json!([]));
    // HTTP/2 and HTTP/1.1 are both offered.
    assert_eq!(curl(ca, &["--http2", "-u", "viewer:viewer-pass"], &format!("{base}/connectors")).status, 200);
    assert_eq!(curl(ca, &["--http1.1", "-u", "viewer:viewer-pass"], &format!("{base}/connectors")).status, 200);
    // Plain HTTP on the HTTPS port gets no API answer.
    let plain = curl(None, &[], &format!("http://localhost:{port}/health"));
    assert_ne!(plain.status, 200);
    // Writes are logged with their user; secrets never are.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().any(|l| l.contains("REST write") && l.contains("ops") && l.contains("/connectors")), "{text}");
    assert!(!text.contains("admin-token") && !text.contains("viewer-pass"), "{text}");
    drop(worker);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_auth_and_tls_settings_stop_the_start_with_a_clear_error() {
    let dir = temp_dir("bad");
    let users = dir.join("users");
    std::fs::write(&users, "ops:secret-one:admin\nviewer:secret-two:reader\n").unwrap();
    let port = connect_runtime::embedded::free_port().unwrap();
    let rest = format!("127.0.0.1:{port}");
    let run = |extra: &[&std::ffi::OsStr]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_connect-worker"))
            .args(["standalone", "--rest-addr", &rest, "--embedded-namesrv-port", "0", "--embedded-broker-port", "0", "--data-dir"])
            .arg(dir.join("data"))
            .args(extra)
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = run(&["--rest-auth-file".as_ref(), users.as_os_str()]);
    assert!(stderr.contains("auth file line 2: role \"reader\" is unknown"), "{stderr}");
    assert!(!stderr.contains("secret-two"), "{stderr}");
    let stderr = run(&["--rest-open-paths".as_ref(), "/health".as_ref()]);
    assert!(stderr.contains("--rest-open-paths needs --rest-auth-file"), "{stderr}");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let stderr = run(&["--rest-tls-cert".as_ref(), garbage.as_os_str(), "--rest-tls-key".as_ref(), garbage.as_os_str()]);
    assert!(stderr.contains("garbage.pem: holds no CERTIFICATE"), "{stderr}");
    let stderr = run(&["--rest-tls-cert".as_ref(), garbage.as_os_str()]);
    assert!(stderr.contains("--rest-tls-key"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn configs_may_name_allowed_paths_and_offered_plugins_only() {
    let dir = temp_dir("allow");
    let allowed = dir.join("exchange");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::write(allowed.join("in.txt"), "a\n").unwrap();
    let port = connect_runtime::embedded::free_port().unwrap();
    let mut args: Vec<std::ffi::OsString> =
        ["standalone", "--rest-addr", &format!("127.0.0.1:{port}"), "--data-dir"].map(Into::into).into();
    args.extend([dir.join("data").into(), "--embedded-namesrv-port".into(), "0".into(), "--embedded-broker-port".into(), "0".into()]);
    args.extend(["--allowed-paths".into(), allowed.clone().into(), "--plugins-deny".into(), "log-sink,Drop*".into()]);
    args.extend(["--config-providers".into(), "file".into()]);
    let log = dir.join("worker.log");
    let worker = Process::start(args, &log);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while curl(None, &[], &format!("{base}/health")).status != 200 {
        assert!(Instant::now() < deadline, "no healthy answer: {}", std::fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(300));
    }
    let post = |name: &str, config: Json| {
        let body = serde_json::json!({"name": name, "config": config}).to_string();
        curl(None, &["-X", "POST", "-H", "Content-Type: application/json", "-d", &body], &format!("{base}/connectors"))
    };
    let inside = allowed.join("in.txt").display().to_string();
    for (key, config) in [
        ("file", serde_json::json!({"connector.class": "file-source", "topic": "t", "file": "/etc/passwd"})),
        ("files", serde_json::json!({"connector.class": "file-source", "topic": "t", "files": format!("{inside},/etc/hosts")})),
        ("file", serde_json::json!({"connector.class": "file-sink", "topics": "t", "file": format!("{}/../out.txt", allowed.display())})),
        ("topic", serde_json::json!({"connector.class": "file-source", "topic": "${file:/etc/passwd:root}", "file": inside})),
    ] {
        let refused = post("refused", config.clone());
        assert_eq!(refused.status, 400, "{config}: {:?}", refused.body);
        let message = refused.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("{key}: ")) && message.contains("is outside the worker's allowed paths"), "{message}");
    }
    assert_eq!(post("inside", serde_json::json!({"connector.class": "file-source", "topic": "t", "file": inside})).status, 201);
    let validate = [
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"connector.class": "file-source", "topic": "t", "file": "/etc/shadow"}"#,
    ];
    let checked = curl(None, &validate, &format!("{base}/connector-plugins/file-source/config/validate"));
    assert_eq!(checked.status, 200);
    let file_errors =
        checked.body["configs"].as_array().unwrap().iter().find(|c| c["value"]["name"] == "file").unwrap()["value"]["errors"].clone();
    assert!(file_errors.to_string().contains("is outside the worker's allowed paths"), "{file_errors}");

    let plugins = curl(None, &[], &format!("{base}/connector-plugins?connectorsOnly=false")).body.to_string();
    assert!(plugins.contains("file-sink") && !plugins.contains("log-sink") && !plugins.contains("\"Drop"), "{plugins}");
    let denied = post("denied", serde_json::json!({"connector.class": "log-sink", "topics": "t"}));
    assert_eq!(denied.status, 400, "{:?}", denied.body);
    drop(worker);
    let _ = std::fs::remove_dir_all(&dir);
}
