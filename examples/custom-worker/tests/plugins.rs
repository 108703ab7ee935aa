//! The custom binary lists the connectors of the crates it links, and only those.

use std::process::Command;

#[test]
fn custom_worker_lists_the_connectors_it_links() {
    let output = Command::new(env!("CARGO_BIN_EXE_custom-worker")).args(["plugins", "--json"]).output().expect("run custom-worker");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let plugins: serde_json::Value = serde_json::from_slice(&output.stdout).expect("plugins --json prints JSON");
    let names: Vec<&str> = plugins.as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    for linked in ["lines-source", "counter-source", "log-sink", "file-source", "file-sink"] {
        assert!(names.contains(&linked), "{linked} missing from {names:?}");
    }
    assert!(!names.contains(&"datagen-source"), "datagen is not linked into this binary");
    let lines = plugins.as_array().unwrap().iter().find(|p| p["name"] == "lines-source").unwrap();
    assert_eq!(lines["config_schema"]["properties"]["file"]["description"], "File to read.");
}
