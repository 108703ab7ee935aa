//! [`TransformChain`]: the configured transforms of a connector, applied in order, each
//! gated by its optional predicate.

use std::sync::Arc;

use crate::error::Error;
use crate::record::Record;

use super::{Predicate, Transform};

/// When a transform applies: when its predicate matches a record, or with `negate` when it
/// does not (Kafka's `transforms.<alias>.predicate` and `.negate`).
#[derive(Clone)]
pub struct Gate {
    /// The predicate, shared by every transform that names it.
    pub predicate: Arc<dyn Predicate>,
    /// Apply when the predicate is false instead.
    pub negate: bool,
}

struct Step {
    alias: String,
    transform: Box<dyn Transform>,
    gate: Option<Gate>,
}

/// A transform failed on a record.
#[derive(Debug, thiserror::Error)]
#[error("transform \"{alias}\" failed: {source}")]
pub struct TransformError {
    /// Alias of the failing transform.
    pub alias: String,
    /// What went wrong.
    #[source]
    pub source: Error,
}

/// The transforms of one connector, ready to apply. `connect_sdk::host::assembly` builds one from
/// a connector config; a test can push transforms by hand.
///
/// ```
/// use connect_sdk::record::Record;
/// use connect_sdk::transform::{RegexRouter, TransformChain};
///
/// let mut chain = TransformChain::new();
/// let route = RegexRouter { regex: regex::Regex::new("^orders-(.*)$").unwrap(), replacement: "archive-$1".into() };
/// chain.push("route", Box::new(route), None);
/// assert_eq!(chain.apply(Record::new("orders-eu", "x")).unwrap().unwrap().topic, "archive-eu");
/// ```
#[derive(Default)]
pub struct TransformChain {
    steps: Vec<Step>,
}

impl TransformChain {
    /// An empty chain: records pass unchanged.
    pub fn new() -> TransformChain {
        TransformChain::default()
    }

    /// Appends the transform `alias`, applied always or as `gate` says.
    pub fn push(&mut self, alias: &str, transform: Box<dyn Transform>, gate: Option<Gate>) {
        self.steps.push(Step { alias: alias.to_owned(), transform, gate });
    }

    /// Applies every transform in order; `Ok(None)` when one of them dropped the record.
    pub fn apply(&self, mut record: Record) -> Result<Option<Record>, TransformError> {
        for step in &self.steps {
            if let Some(gate) = &step.gate
                && gate.predicate.test(&record) == gate.negate
            {
                continue;
            }
            match step.transform.apply(record) {
                Ok(Some(next)) => record = next,
                Ok(None) => return Ok(None),
                Err(source) => return Err(TransformError { alias: step.alias.clone(), source }),
            }
        }
        Ok(Some(record))
    }

    /// True when there is no transform.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Number of transforms.
    pub fn len(&self) -> usize {
        self.steps.len()
    }
}
