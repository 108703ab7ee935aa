//! Two plugins with one name in two crates do not link: a binary that links the examples crate
//! (which registers `lines-source`) and defines its own `lines-source`
//! (`tests/fixtures/two_lines_sources.rs`, under `forbid(unsafe_code)`) fails with the linker naming the name and both definitions.
//! One crate's duplicate is a compile error instead: `tests/ui/fail/duplicate_plugin_name.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn two_crates_registering_one_name_do_not_link_and_the_linker_names_both_definitions() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf();
    let project = std::env::temp_dir().join(format!("connect-link-collision-{}", std::process::id()));
    std::fs::create_dir_all(project.join("src")).unwrap();
    let manifest = format!(
        "[package]\nname = \"link-collision\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[[bin]]\nname = \"link-collision\"\npath = \"src/two_lines_sources.rs\"\n\n[dependencies]\n\
         connect-sdk = {{ path = {sdk:?} }}\nconnect-examples = {{ path = {examples:?} }}\n\n[workspace]\n",
        sdk = workspace.join("connect-sdk"),
        examples = workspace.join("examples/connectors"),
    );
    std::fs::write(project.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    std::fs::copy(workspace.join("connect-macros/tests/fixtures/two_lines_sources.rs"), project.join("src/two_lines_sources.rs")).unwrap();
    // The workspace's build directory: the dependencies are built once for all runs.
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), PathBuf::from).join("link-collision");
    let output = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("cargo runs");
    std::fs::remove_dir_all(&project).ok();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "two plugins named lines-source linked into one binary:\n{stderr}");
    assert!(stderr.contains("connect plugin name \"lines-source\" is registered twice in this binary"), "{stderr}");
    assert!(stderr.contains("two_lines_sources.rs:10") && stderr.contains("lines.rs:9"), "both definitions are named: {stderr}");
}
