//! The `connect-worker` command line: plugin listing, settings from `--config worker.toml`
//! and `CONNECT_*` variables (the command line wins), and clear start-up errors.

mod process;
use connect_testkit as support;

use std::process::Command;

fn worker() -> Command {
    Command::new(env!("CARGO_BIN_EXE_connect-worker"))
}

#[test]
fn plugins_lists_every_built_in_plugin_with_its_schema() {
    let output = worker().args(["plugins", "--json"]).output().unwrap();
    assert!(output.status.success());
    let plugins: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = plugins.as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    for name in ["file-source", "file-sink", "datagen-source", "log-sink", "json", "InsertField$Value", "TopicNameMatches"] {
        assert!(names.contains(&name), "{name} missing");
    }
    let datagen = plugins.as_array().unwrap().iter().find(|p| p["name"] == "datagen-source").unwrap();
    assert_eq!(datagen["kind"], "source");
    assert!(datagen["config_schema"]["properties"]["records.per.second"]["description"].as_str().unwrap().contains("Records per second"));
    assert_eq!(datagen["config_schema"]["properties"]["tasks.max"]["x-worker-key"], true, "the worker's keys too");
    assert_eq!(datagen["config_schema"]["additionalProperties"], false, "a misspelled key is refused");
    let table = worker().arg("plugins").output().unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).lines().any(|l| l.starts_with("sink") && l.contains("file-sink")));
}

#[test]
fn worker_file_keys_are_checked() {
    let dir = std::env::temp_dir().join(format!("connect-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("worker.toml");
    std::fs::write(&config, "rest_addr = \"127.0.0.1:0\"\nnamesrv_adr = \"x\"\n").unwrap();
    let output = worker().args(["standalone", "--config"]).arg(&config).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `namesrv_adr`"), "{stderr}");
}

#[test]
fn connector_files_must_have_the_kafka_shape() {
    let dir = std::env::temp_dir().join(format!("connect-cli-shape-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.json");
    std::fs::write(&file, r#"{"connector.class": "file-source"}"#).unwrap();
    let output = worker().args(["standalone", "--data-dir"]).arg(dir.join("data")).arg(&file).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("expected {\"name\": ..., \"config\": {...}}"), "{stderr}");
}

#[test]
fn environment_settings_apply_and_the_command_line_wins() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("connect-cli-env-{}", std::process::id()));
    // The environment asks for a taken name server port; the command line overrides it with a free one,
    // and the REST port from the environment (taken) makes start-up fail with a clear message.
    let output = worker()
        .args(["standalone", "--data-dir"])
        .arg(&dir)
        .args(["--embedded-namesrv-port", "0", "--embedded-broker-port", "0"])
        .env("CONNECT_EMBEDDED_NAMESRV_PORT", port.to_string())
        .env("CONNECT_REST_ADDR", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    drop(taken);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The standard error lines of a worker started with `args`, until one contains `until`
/// (or 120 s pass); the worker is killed then.
fn log_lines_until(args: &[&str], until: &str) -> Vec<String> {
    use std::io::BufRead;
    let mut child = worker().args(args).stderr(std::process::Stdio::piped()).stdout(std::process::Stdio::null()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines_rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(until);
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn logs_to_a_file_carry_no_colour_codes_and_json_logs_are_one_object_a_line() {
    for format in ["text", "json"] {
        let dir = std::env::temp_dir().join(format!("connect-cli-logs-{format}-{}", std::process::id()));
        let dir = dir.to_string_lossy().into_owned();
        let args = [
            "--log-format",
            format,
            "standalone",
            "--data-dir",
            &dir,
            "--rest-addr",
            "127.0.0.1:0",
            "--embedded-namesrv-port",
            "0",
            "--embedded-broker-port",
            "0",
        ];
        let lines = log_lines_until(&args, "REST API listening");
        assert!(lines.last().is_some_and(|l| l.contains("REST API listening")), "{format}: the worker did not start: {lines:#?}");
        assert!(lines.iter().all(|l| !l.contains('\u{1b}')), "{format}: colour codes in a piped log: {lines:#?}");
        if format == "json" {
            for line in &lines {
                let parsed: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                assert!(parsed.get("level").is_some() && parsed.get("fields").is_some(), "{line}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The local addresses of the TCP sockets process `pid` listens on (from `/proc`).
fn listening_addresses(pid: u32) -> Vec<std::net::SocketAddr> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| fds.flatten().filter_map(|fd| std::fs::read_link(fd.path()).ok()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|target| target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
        .collect();
    let mut addresses = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local address, state 0A = LISTEN, inode
            if fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]) {
                let (ip, port) = fields[1].split_once(':').unwrap();
                let port = u16::from_str_radix(port, 16).unwrap();
                let ip: std::net::IpAddr = match ip.len() {
                    8 => std::net::Ipv4Addr::from(u32::from_str_radix(ip, 16).unwrap().swap_bytes()).into(),
                    _ => {
                        let words: Vec<u32> =
                            (0..4).map(|i| u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).unwrap().swap_bytes()).collect();
                        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap()).into()
                    }
                };
                addresses.push(std::net::SocketAddr::new(ip, port));
            }
        }
    }
    addresses
}

#[test]
fn the_broker_command_listens_on_loopback_only_and_a_second_broker_joins_under_a_name_of_its_own() {
    let dir = std::env::temp_dir().join(format!("connect-cli-broker-{}", std::process::id()));
    let namesrv = connect_runtime::embedded::free_port().unwrap();
    let broker = connect_runtime::embedded::free_broker_port().unwrap();
    let mut child = worker()
        .args(["broker", "--namesrv-port", &namesrv.to_string(), "--broker-port", &broker.to_string(), "--data-dir"])
        .arg(&dir)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", broker)).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let addresses = listening_addresses(child.id());
    // A second broker joins its name server; one named as a registered broker is refused.
    let namesrv_addr = format!("127.0.0.1:{namesrv}");
    let join = |name: &str, port: u16| {
        let mut command = worker();
        command.args(["broker", "--namesrv", &namesrv_addr, "--broker-name", name, "--broker-port", &port.to_string(), "--data-dir"]);
        command.arg(dir.join(name));
        command
    };
    let taken = join("connect-broker", connect_runtime::embedded::free_broker_port().unwrap()).output().unwrap();
    let refusal = String::from_utf8_lossy(&taken.stderr);
    let second_port = connect_runtime::embedded::free_broker_port().unwrap();
    let mut second = join("second-broker", second_port).stderr(std::process::Stdio::null()).spawn().unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", second_port)).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let second_addresses = listening_addresses(second.id());
    for process in [&child, &second] {
        let _ = Command::new("kill").arg("-TERM").arg(process.id().to_string()).status();
    }
    let stopped = child.wait().unwrap();
    let second_stopped = second.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!taken.status.success(), "a second broker named connect-broker started");
    assert!(refusal.contains("a broker named connect-broker is registered with 127.0.0.1:"), "{refusal}");
    let second_ports: Vec<u16> = second_addresses.iter().map(|a| a.port()).collect();
    assert!(
        second_ports.contains(&second_port) && !second_ports.contains(&namesrv),
        "a joining broker starts no name server: {second_addresses:?}"
    );
    assert!(second_addresses.iter().all(|a| a.ip().is_loopback()), "{second_addresses:?}");
    assert!(second_stopped.success(), "{second_stopped:?}");
    let ports: Vec<u16> = addresses.iter().map(|a| a.port()).collect();
    assert!(ports.contains(&namesrv) && ports.contains(&broker) && ports.contains(&(broker - 2)), "{addresses:?}");
    assert!(addresses.len() >= 4, "the name server, the broker, its fast listener and HA port: {addresses:?}");
    assert!(addresses.iter().all(|a| a.ip().is_loopback()), "a listener open beyond this machine: {addresses:?}");
    assert!(stopped.success(), "SIGTERM stops it cleanly: {stopped:?}");
}

#[test]
fn log_levels_change_while_the_worker_runs() {
    let dir = std::env::temp_dir().join(format!("connect-cli-loggers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = connect_runtime::embedded::free_port().unwrap();
    let rest: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut args: Vec<std::ffi::OsString> = ["standalone", "--rest-addr", &rest.to_string(), "--data-dir"].map(Into::into).into();
    args.extend([dir.join("data").into(), "--embedded-namesrv-port".into(), "0".into(), "--embedded-broker-port".into(), "0".into()]);
    let log = dir.join("worker.log");
    let mut worker = process::Process::start(args, &log);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::net::TcpStream::connect(rest).is_err() || support::http(rest, "GET", "/health", None).0 != 200 {
        assert!(std::time::Instant::now() < deadline, "{}", std::fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (code, all) = support::http(rest, "GET", "/admin/loggers", None);
    assert_eq!(code, 200);
    assert_eq!(all["root"]["level"], "INFO", "{all}");
    assert_eq!(all["rocketmq_client_rust"]["level"], "ERROR", "{all}");
    assert_eq!(support::http(rest, "GET", "/admin/loggers/connect_runtime::worker", None).1["level"], "INFO", "root's level");

    let (code, changed) = support::http(rest, "PUT", "/admin/loggers/connect_runtime", Some(r#"{"level": "debug"}"#));
    assert_eq!((code, changed), (200, serde_json::json!(["connect_runtime"])));
    let (_, level) = support::http(rest, "GET", "/admin/loggers/connect_runtime::worker", None);
    assert_eq!(level["level"], "DEBUG", "a logger under it: {level}");
    assert!(level["last_modified"].as_i64().is_some_and(|t| t > 0), "{level}");
    let (code, refused) = support::http(rest, "PUT", "/admin/loggers/connect_runtime", Some(r#"{"level": "loud"}"#));
    assert_eq!(code, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("\"loud\" is not one of"), "{refused}");

    // The new level applies at once: the stop's debug lines are written.
    worker.stop();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().any(|l| l.contains("DEBUG") && l.contains("connect_runtime::worker") && l.contains("RocketMQ client stopped")),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
