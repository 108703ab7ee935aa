//! [`TransformChain`]: the configured transforms of a connector, applied in order, each
//! gated by its optional predicate.

use crate::config::{CommonConfig, ConfigErrors};
use crate::error::Error;
use crate::record::Record;
use crate::registry::Registry;

use super::{Predicate, Transform};

struct Step {
    alias: String,
    transform: Box<dyn Transform>,
    predicate: Option<usize>,
    negate: bool,
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

/// The transforms of one connector, ready to apply.
#[derive(Default)]
pub struct TransformChain {
    steps: Vec<Step>,
    predicates: Vec<Box<dyn Predicate>>,
}

impl TransformChain {
    /// Builds the chain `transforms` / `predicates` of `common` describe.
    pub fn build(registry: &Registry, common: &CommonConfig) -> Result<TransformChain, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let mut predicates = Vec::new();
        for p in &common.predicates {
            match registry.predicate(&p.class, &p.config, &p.prefix) {
                Ok(predicate) => predicates.push((p.alias.clone(), predicate)),
                Err(e) => errors.extend_prefixed("", e),
            }
        }
        let mut steps = Vec::new();
        for t in &common.transforms {
            match registry.transform(&t.plugin.class, &t.plugin.config, &t.plugin.prefix) {
                Ok(transform) => steps.push(Step {
                    alias: t.plugin.alias.clone(),
                    transform,
                    predicate: t.predicate.as_ref().and_then(|alias| predicates.iter().position(|(a, _)| a == alias)),
                    negate: t.negate,
                }),
                Err(e) => errors.extend_prefixed("", e),
            }
        }
        errors.into_result(TransformChain { steps, predicates: predicates.into_iter().map(|(_, p)| p).collect() })
    }

    /// Applies every transform in order; `Ok(None)` when one of them dropped the record.
    pub fn apply(&self, mut record: Record) -> Result<Option<Record>, TransformError> {
        for step in &self.steps {
            if let Some(index) = step.predicate
                && self.predicates[index].test(&record) == step.negate
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
