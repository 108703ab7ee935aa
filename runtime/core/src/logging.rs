//! The worker's log: lines to standard error (text or JSON), and levels that can be changed
//! while it runs, as Kafka Connect's `/admin/loggers`.
//!
//! A logger is a `tracing` target (a module path such as `connect_runtime::task::sink` or a
//! connector crate such as `connect_file`), `root` the level of every other target. Setting a
//! logger sets it and every logger under it (`connect_runtime` covers
//! `connect_runtime::task`), as Kafka does; setting `root` sets every logger.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::Serialize;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// The level of one logger, as Kafka shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LoggerLevel {
    /// `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `OFF`.
    pub level: String,
    /// When it was last set through the API (milliseconds since the epoch), if ever.
    pub last_modified: Option<i64>,
}

/// A level or a logger the API refuses.
#[derive(Debug, thiserror::Error)]
pub enum LevelError {
    /// Not a level name.
    #[error("level {0:?} is not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF")]
    UnknownLevel(String),
    /// Not a logger name (its start, when long).
    #[error("logger {0:?} is not root or a module path (letters, digits, '_' and '::', at most {MAX_LOGGER_CHARS} characters)")]
    InvalidLogger(String),
}

/// The longest logger name.
const MAX_LOGGER_CHARS: usize = 256;

/// Checks a logger name: `root`, or a module path such as `connect_runtime::task` (the name
/// goes into the log's filter, where `,` or `=` would add directives of their own).
pub fn check_logger(name: &str) -> Result<(), LevelError> {
    let segment = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if name.len() <= MAX_LOGGER_CHARS && name.split("::").all(segment) {
        return Ok(());
    }
    Err(LevelError::InvalidLogger(name.chars().take(64).collect()))
}

/// The levels of this process's log (see the module documentation).
pub struct LogLevels {
    handle: reload::Handle<EnvFilter, Registry>,
    state: Mutex<State>,
}

struct State {
    root: LoggerLevel,
    loggers: BTreeMap<String, LoggerLevel>,
}

static LEVELS: OnceLock<LogLevels> = OnceLock::new();

/// The levels of the log [`init`] set up; `None` when the process logs another way (an
/// application embedding a worker).
pub fn levels() -> Option<&'static LogLevels> {
    LEVELS.get()
}

/// How log lines are written to standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines; ANSI colours only when standard error is a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// Quiet by default. The RocketMQ crates log only errors: their warnings are about their own
/// setup (an embedded broker's first start, a development TLS fallback), and what an operator
/// must act on, a broker that does not answer, the worker says itself. Each crate is named, so
/// `/admin/loggers` shows the level each one has. The embedded name server's own client
/// connects to the machine's address, which the name server does not serve when bound to
/// loopback: its connect failures are off.
const DEFAULT_DIRECTIVES: &str = "info,rocketmq=error,rocketmq_auth=error,rocketmq_broker=error,rocketmq_client_rust=error,\
    rocketmq_filter=error,rocketmq_namesrv=error,rocketmq_remoting=error,rocketmq_runtime=error,rocketmq_store=error,\
    rocketmq_store_local=error,rocketmq_transport=error,rocketmq_transport::clients::rocketmq_tokio_client::connect_flight=off";

/// Sets up the process's log from `RUST_LOG` (simple `target=level` directives) or the
/// defaults, its levels changeable at run time ([`levels`]) and every line masked of secrets;
/// does nothing when the process already has a log (an application embedding a worker).
pub fn init(format: LogFormat) {
    use std::io::IsTerminal;
    let directives =
        std::env::var("RUST_LOG").ok().filter(|d| EnvFilter::try_new(d).is_ok()).unwrap_or_else(|| DEFAULT_DIRECTIVES.to_owned());
    let state = State::parse(&directives);
    let (filter, handle) = reload::Layer::new(state.filter());
    let lines = tracing_subscriber::fmt::layer().with_writer(|| MaskedStderr);
    let installed = match format {
        LogFormat::Text => Registry::default().with(filter).with(lines.with_ansi(std::io::stderr().is_terminal())).try_init(),
        LogFormat::Json => Registry::default().with(filter).with(lines.json().with_current_span(false)).try_init(),
    };
    if installed.is_ok() {
        let _ = LEVELS.set(LogLevels { handle, state: Mutex::new(state) });
    }
}

/// Standard error, every line masked of the secrets this process resolved
/// ([`crate::secrets::mask_log`]), whichever crate logged it. The formatter writes each event
/// in one call.
struct MaskedStderr;

impl std::io::Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::secrets::mask_log(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl State {
    fn parse(directives: &str) -> State {
        let mut state = State { root: LoggerLevel { level: "INFO".into(), last_modified: None }, loggers: BTreeMap::new() };
        for directive in directives.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            match directive.split_once('=') {
                Some((target, level)) => {
                    if let Ok(level) = normalize(level) {
                        state.loggers.insert(target.to_owned(), LoggerLevel { level, last_modified: None });
                    }
                }
                None => {
                    if let Ok(level) = normalize(directive) {
                        state.root.level = level;
                    }
                }
            }
        }
        state
    }

    fn filter(&self) -> EnvFilter {
        let directives = std::iter::once(self.root.level.to_ascii_lowercase())
            .chain(self.loggers.iter().map(|(target, l)| format!("{target}={}", l.level.to_ascii_lowercase())));
        EnvFilter::new(directives.collect::<Vec<_>>().join(","))
    }

    /// The level a logger has: its own, or that of the nearest logger above it, or root's.
    fn effective(&self, name: &str) -> LoggerLevel {
        let mut prefix = name;
        loop {
            if let Some(level) = self.loggers.get(prefix) {
                return level.clone();
            }
            match prefix.rsplit_once("::") {
                Some((parent, _)) => prefix = parent,
                None => return self.root.clone(),
            }
        }
    }
}

/// Checks a level name (Kafka's, any case).
pub fn check_level(level: &str) -> Result<String, LevelError> {
    normalize(level)
}

/// Kafka's level names, upper case; `FATAL` is `ERROR` here.
fn normalize(level: &str) -> Result<String, LevelError> {
    match level.trim().to_ascii_uppercase().as_str() {
        "FATAL" | "ERROR" => Ok("ERROR".into()),
        level @ ("TRACE" | "DEBUG" | "INFO" | "WARN" | "OFF") => Ok(level.to_owned()),
        _ => Err(LevelError::UnknownLevel(level.chars().take(64).collect())),
    }
}

impl LogLevels {
    /// `root` and every logger with a level of its own.
    pub fn all(&self) -> BTreeMap<String, LoggerLevel> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.loggers.iter().map(|(k, v)| (k.clone(), v.clone())).chain([("root".to_owned(), state.root.clone())]).collect()
    }

    /// The level logger `name` logs at.
    pub fn get(&self, name: &str) -> LoggerLevel {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if name == "root" { state.root.clone() } else { state.effective(name) }
    }

    /// Sets logger `name` and every logger under it to `level`; returns the loggers set.
    pub fn set(&self, name: &str, level: &str) -> Result<Vec<String>, LevelError> {
        check_logger(name)?;
        let level = LoggerLevel { level: normalize(level)?, last_modified: Some(chrono::Utc::now().timestamp_millis()) };
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let under = |logger: &str| name == "root" || logger == name || logger.starts_with(&format!("{name}::"));
        let mut changed: Vec<String> = state.loggers.keys().filter(|l| under(l)).cloned().collect();
        for logger in &changed {
            state.loggers.insert(logger.clone(), level.clone());
        }
        if name == "root" {
            state.root = level;
            changed.push("root".to_owned());
        } else if !changed.iter().any(|l| l == name) {
            state.loggers.insert(name.to_owned(), level);
            changed.push(name.to_owned());
        }
        changed.sort();
        if let Err(e) = self.handle.reload(state.filter()) {
            tracing::warn!(error = %e, "the new log levels could not be applied");
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logger_names_are_module_paths() {
        for name in ["root", "connect_runtime", "connect_runtime::task::sink", "rocketmq_client_rust", "_x"] {
            assert!(check_logger(name).is_ok(), "{name}");
        }
        for name in ["connect_runtime=trace,x", "a[span{f=1}]", "", "a::", "::a", "1abc", "a b", &"a".repeat(300)] {
            assert!(check_logger(name).is_err(), "{name}");
        }
    }

    #[test]
    fn directives_give_each_logger_its_nearest_level() {
        let state = State::parse("warn,connect_runtime=info,connect_runtime::task=debug,bad=loud");
        assert_eq!(state.root.level, "WARN");
        assert_eq!(state.effective("connect_runtime::task::sink").level, "DEBUG");
        assert_eq!(state.effective("connect_runtime::rest").level, "INFO");
        assert_eq!(state.effective("connect_file").level, "WARN");
        assert!(!state.loggers.contains_key("bad"), "an unknown level is ignored");
        assert_eq!(state.filter().to_string().split(',').count(), 3);
        assert!(normalize("fatal").is_ok_and(|l| l == "ERROR"));
        assert!(normalize("loud").is_err());
    }
}
