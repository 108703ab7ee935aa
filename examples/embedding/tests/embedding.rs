//! The embedding example runs a whole pipeline inside one program and stops cleanly.

use std::process::Command;

#[test]
fn embedded_worker_runs_a_pipeline_and_stops() {
    let dir = std::env::temp_dir().join(format!("connect-embedding-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let output = Command::new(env!("CARGO_BIN_EXE_embedding")).arg(&dir).arg("50").output().expect("run the embedding example");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
    lines.sort_by_key(|l| l.split('-').nth(1).and_then(|n| n.parse::<u32>().ok()));
    let expected: Vec<String> = (0..50).map(|i| format!("0-{i}")).collect();
    assert_eq!(lines, expected);
    let _ = std::fs::remove_dir_all(dir);
}
