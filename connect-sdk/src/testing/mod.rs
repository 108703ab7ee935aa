//! Test a connector with `cargo test`, no broker needed.
//!
//! [`SourceHarness`] and [`SinkHarness`] open a connector's tasks in-process through the same
//! path the runtime uses: the config is parsed and split into task configs (serialized and read
//! back, as they would be stored), records go through the configured transforms and
//! converters, source offsets land in an [`InMemoryOffsetStore`], and a restart reopens the
//! tasks from what was committed. [`compliance`] is a reusable suite of the guarantees every
//! connector must keep.

pub mod compliance;
mod offsets;
mod sink;
mod source;

pub use offsets::InMemoryOffsetStore;
pub use sink::{DeadLetter, SinkHarness};
pub use source::{SentRecord, SourceHarness};

use std::sync::Arc;

use serde_json::Value as Json;

use crate::config::ConfigMap;
use crate::converter::{ConverterDefaults, RecordConverters};
use crate::error::{Error, Result};
use crate::host::assembly::{ConnectorPlugin, ValidatedConfig};
use crate::host::registry::Registry;
use crate::transform::TransformChain;

/// A test config checked as the runtime checks it: its transforms and converters built from
/// the global registry, its connector parsed and validated.
struct Pipeline {
    validated: ValidatedConfig,
    chain: Arc<TransformChain>,
    converters: Arc<RecordConverters>,
}

impl Pipeline {
    /// `defaults` fill keys the test left out. Fails when two linked plugins share a name,
    /// as the worker would at start-up. A connector without a `name` gets one no other
    /// harness of any run has (`harness-<process>-<time>-<n>`): state a connector keeps under its
    /// name in an external system, such as a sink's stored positions, never leaks between tests.
    fn new(config: Json, plugin: ConnectorPlugin, defaults: &[(&str, &str)]) -> Result<Pipeline> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Registry::global().check().map_err(Error::other)?;
        let Json::Object(mut config) = config else {
            return Err(Error::other("a connector config is a JSON object"));
        };
        config.entry("name").or_insert_with(|| {
            let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
            Json::String(format!("harness-{}-{unique}-{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)))
        });
        for (key, value) in [("connector.class", plugin.name)].iter().chain(defaults) {
            config.entry(*key).or_insert_with(|| Json::String((*value).to_owned()));
        }
        let validated = ValidatedConfig::for_connector(Registry::global(), &config, plugin, &ConverterDefaults::default())?;
        Ok(Pipeline { chain: validated.chain(), converters: validated.converters(), validated })
    }

    fn name(&self) -> &str {
        &self.validated.common().name
    }
}

/// What the harness calls a connector it runs by type.
fn harness_plugin(factory: crate::host::plugin::ConnectorFactory, config_schema: fn() -> schemars::Schema) -> ConnectorPlugin {
    ConnectorPlugin { name: "harness", factory, config_schema }
}

/// Whether a test config names the topics a sink reads.
fn names_topics(config: &ConfigMap) -> bool {
    crate::config::common_keys().iter().filter(|k| k.key.starts_with("topics")).any(|k| config.keys().any(|given| k.answers_to(given)))
}

/// Runs a future to completion on a fresh single-threaded runtime: lets a connector crate
/// write `#[test]` functions for async harnesses without depending on tokio itself.
///
/// ```
/// connect_sdk::testing::block_on(async { assert_eq!(1 + 1, 2) });
/// ```
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime starts").block_on(future)
}

/// Whether the service a connector test needs answers at `addr` (`host:port`). When it does
/// not, the test should return early: this prints why, so a skipped test is never silent. In
/// CI (`CI=true`) a missing service is a failure instead, and this panics with the reason.
///
/// ```no_run
/// # fn main() {
/// if !connect_sdk::testing::service_available("test database", "127.0.0.1:1") {
///     return; // printed: "skipped: test database is not reachable at 127.0.0.1:1 ..."
/// }
/// # }
/// ```
pub fn service_available(name: &str, addr: &str) -> bool {
    use std::net::{TcpStream, ToSocketAddrs};
    let reachable = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok());
    skip_unless(reachable, || format!("{name} is not reachable at {addr}"))
}

/// Whether a test may go on: `ready`, or else it should return early, and this prints why (a
/// skipped test is never silent). In CI (`CI=true`) a test that cannot run is a failure
/// instead, and this panics with the reason.
///
/// ```no_run
/// # fn main() {
/// let wal_level = "replica"; // as the test's database reports it
/// if !connect_sdk::testing::skip_unless(wal_level == "logical", || format!("wal_level is {wal_level}")) {
///     return; // printed: "skipped: wal_level is replica ..."
/// }
/// # }
/// ```
pub fn skip_unless(ready: bool, reason: impl FnOnce() -> String) -> bool {
    if ready {
        return true;
    }
    let reason = reason();
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{reason}, and CI=true requires it");
    }
    eprintln!("skipped: {reason} (outside CI a test that cannot run is skipped)");
    false
}

/// A name no other test of this run, nor a concurrent run, uses: `<purpose>_<pid>_<n>`, for the
/// tables, queues, topics and keys a test makes in a shared service.
///
/// ```
/// let (a, b) = (connect_sdk::testing::unique_name("orders"), connect_sdk::testing::unique_name("orders"));
/// assert!(a.starts_with("orders_") && a != b);
/// ```
pub fn unique_name(purpose: &str) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!("{purpose}_{}_{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}
