//! A `connect-worker` process for the binary's tests.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

/// A `connect-worker` process, killed when dropped (also when the test fails).
pub struct Process(pub Child);

impl Process {
    /// Runs `connect-worker` with `args`, its standard error into `log`.
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>, log: &std::path::Path) -> Process {
        let log = std::fs::File::create(log).unwrap();
        Command::new(env!("CARGO_BIN_EXE_connect-worker"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map(Process)
            .expect("start connect-worker")
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM, and waits for the exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
