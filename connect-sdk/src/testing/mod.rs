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

use serde_json::Value as Json;

use crate::config::{CommonConfig, ConfigMap};
use crate::converter::{ConverterDefaults, RecordConverters};
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::transform::TransformChain;

/// The parsed common part of a test config: its transforms and converters, built from the
/// global registry as the runtime builds them.
struct Pipeline {
    config: ConfigMap,
    common: CommonConfig,
    chain: TransformChain,
    converters: RecordConverters,
}

impl Pipeline {
    fn new(config: Json, defaults: &[(&str, &str)]) -> Result<Pipeline> {
        let Json::Object(mut config) = config else {
            return Err(Error::other("a connector config is a JSON object"));
        };
        for (key, value) in defaults {
            config.entry(*key).or_insert_with(|| Json::String((*value).to_owned()));
        }
        let common = CommonConfig::parse(&config)?;
        let registry = Registry::global();
        let chain = TransformChain::build(registry, &common)?;
        let converters = RecordConverters::build(registry, &common, &ConverterDefaults::default())?;
        Ok(Pipeline { config, common, chain, converters })
    }
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
    if reachable {
        return true;
    }
    let reason = format!("{name} is not reachable at {addr}");
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{reason}, and CI=true requires it");
    }
    eprintln!("skipped: {reason} (outside CI a missing service skips the test)");
    false
}
