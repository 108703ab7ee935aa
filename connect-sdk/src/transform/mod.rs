//! Single message transforms (SMTs) and predicates, with Kafka Connect's names, keys and
//! semantics, and the [`TransformChain`] that applies them in order.
//!
//! Configure them as in Kafka Connect:
//!
//! ```
//! use connect_sdk::host::assembly::transform_chain;
//! use connect_sdk::config::CommonConfig;
//! use connect_sdk::host::registry::Registry;
//! use connect_sdk::record::Record;
//!
//! let config = serde_json::json!({
//!     "name": "n", "connector.class": "c",
//!     "transforms": "route",
//!     "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
//!     "transforms.route.regex": "orders-(.*)",
//!     "transforms.route.replacement": "archive-$1",
//! });
//! let common = CommonConfig::parse(config.as_object().unwrap()).unwrap();
//! let chain = transform_chain(Registry::global(), &common.plugins).unwrap();
//! let out = chain.apply(Record::new("orders-eu", "x")).unwrap().unwrap();
//! assert_eq!(out.topic, "archive-eu");
//! ```

mod builtin;
mod chain;
mod fields;
pub mod predicates;

pub use builtin::*;
pub use chain::{Gate, TransformChain, TransformError};

use crate::config::ConfigErrors;
use crate::error::Result;
use crate::record::Record;

/// Changes or drops one record (Kafka's `Transformation`). Returning `Ok(None)` drops it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a transform",
    note = "implement `connect_sdk::transform::Transform` for `{Self}` (or `KeyValueTransform` with `#[transform(key_value)]`)"
)]
pub trait Transform: Send + Sync + 'static {
    /// Transforms `record`.
    fn apply(&self, record: Record) -> Result<Option<Record>>;

    /// Checks the configuration beyond what serde checks; keys are relative to the transform.
    fn validate(&self) -> Result<(), ConfigErrors> {
        Ok(())
    }
}

/// The part of a record a `$Key` / `$Value` transform works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The key and its schema.
    Key,
    /// The value and its schema.
    Value,
}

/// A transform that exists in a `$Key` and a `$Value` variant (`InsertField$Value`).
/// Register it with `#[derive(Transform)]` and `#[transform(name = "...", key_value)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a key/value transform",
    note = "implement `connect_sdk::transform::KeyValueTransform` for `{Self}`, or drop `key_value` and implement `Transform`"
)]
pub trait KeyValueTransform: Send + Sync + 'static {
    /// Transforms the `target` part of `record`.
    fn apply_to(&self, target: Target, record: Record) -> Result<Option<Record>>;

    /// Checks the configuration beyond what serde checks.
    fn validate(&self) -> Result<(), ConfigErrors> {
        Ok(())
    }
}

/// A [`KeyValueTransform`] bound to one target.
pub struct Targeted<T> {
    /// The transform.
    pub inner: T,
    /// What it works on.
    pub target: Target,
}

impl<T: KeyValueTransform> Transform for Targeted<T> {
    fn apply(&self, record: Record) -> Result<Option<Record>> {
        self.inner.apply_to(self.target, record)
    }

    fn validate(&self) -> Result<(), ConfigErrors> {
        self.inner.validate()
    }
}

/// Decides whether a transform applies to a record (Kafka's `Predicate`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a predicate",
    note = "implement `connect_sdk::transform::Predicate` for `{Self}`"
)]
pub trait Predicate: Send + Sync + 'static {
    /// True when the record matches.
    fn test(&self, record: &Record) -> bool;
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builds one-transform chains from a JSON config, for the transform tests.

    use std::collections::BTreeMap;

    use serde_json::{Value as Json, json};

    use super::TransformChain;
    use crate::config::{CommonConfig, ConfigErrors};
    use crate::data::Value;
    use crate::error::Result;
    use crate::host::registry::Registry;
    use crate::record::Record;

    /// A chain of the single transform `t` configured by `config` (keys without prefix).
    pub fn build(config: &Json) -> Result<TransformChain, ConfigErrors> {
        let mut full = json!({"name": "n", "connector.class": "c", "transforms": "t"});
        for (k, v) in config.as_object().unwrap() {
            full[format!("transforms.t.{k}")] = v.clone();
        }
        chain(&full)
    }

    fn chain(full: &Json) -> Result<TransformChain, ConfigErrors> {
        let mut full = full.clone();
        full["name"] = json!("n");
        full["connector.class"] = json!("c");
        crate::host::assembly::transform_chain(Registry::global(), &CommonConfig::parse(full.as_object().unwrap())?.plugins)
    }

    /// Applies the transform `config` describes; a dropped record is an error here.
    pub fn apply(config: &Json, record: Record) -> Result<Record> {
        let chain = build(config).map_err(crate::Error::Config)?;
        chain.apply(record).map_err(|e| e.source)?.ok_or_else(|| crate::Error::other("dropped"))
    }

    /// Applies a full transforms/predicates config.
    pub fn apply_chain(config: &Json, record: Record) -> Result<Option<Record>> {
        let chain = chain(config).map_err(crate::Error::Config)?;
        chain.apply(record).map_err(|e| e.source)
    }

    /// A map with string keys.
    pub fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (Value::from(k), v)).collect::<BTreeMap<_, _>>())
    }
}
