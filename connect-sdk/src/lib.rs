#![doc = include_str!("../README.md")]

extern crate self as connect_sdk;

pub mod config;
mod connector;
pub mod context;
pub mod converter;
pub mod data;
mod error;
#[doc(hidden)]
pub mod host;
pub mod lag;
pub mod offsets;
pub mod record;
pub mod split;
pub mod testing;
pub mod transform;

pub use config::{ConfigDeserialize, ConfigSchema, ConfigSerialize, ConnectorConfig};
pub use connect_macros::{Converter, Deserialize, JsonSchema, Predicate, Serialize, SinkConnector, SourceConnector, Transform};
pub use connector::{CommittedOffsets, QueueOffsets, SinkConnector, SinkTask, SourceConnector, SourceTask, TaskPlan, offsets_after};
pub use context::{SinkContext, SourceContext};
pub use error::{BoxError, Error, Result, error_chain};

/// JSON, re-exported for configs (`connect_sdk::serde_json::json!`) and offsets.
pub use serde_json;
/// The async runtime tasks run on, re-exported so a connector crate needs no other dependency.
pub use tokio;
/// Logging: what a connector logs with `connect_sdk::tracing::warn!(...)` goes wherever the
/// worker sends its own logs.
pub use tracing;

/// Everything a connector author usually needs: `use connect_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::config::{ConfigError, ConfigErrors};
    pub use crate::context::{SinkContext, SourceContext};
    pub use crate::data::{Schema, Struct, Value};
    pub use crate::offsets::{SourceOffset, SourcePartition};
    pub use crate::record::{QueueId, Record, SinkRecord, SourceRecord};
    pub use crate::{
        CommittedOffsets, Error, QueueOffsets, Result, SinkConnector, SinkTask, SourceConnector, SourceTask, TaskPlan, offsets_after,
    };
    pub use connect_macros::{Deserialize, JsonSchema, Serialize};
}

/// Claims a plugin name for one plugin of the binary: a symbol named after the name, so two
/// plugins with one name are a compile error in one crate ("symbol ... is already defined") and
/// a link error across crates ("duplicate symbol", with the file and line of both). A
/// `macro_rules!` so the symbol's attribute is the SDK's own code, not the user's (a connector
/// crate may `forbid(unsafe_code)`, and lints are not reported in another crate's macros). The
/// SDK's own plugins take the `sdk` arm: in this crate the lint would fire, so it is `deny`
/// here (Cargo.toml) and allowed on exactly these statics. Not a public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __claim_plugin_name {
    (sdk $symbol:literal) => {
        const _: () = {
            #[allow(unsafe_code)]
            #[used]
            #[unsafe(export_name = $symbol)]
            static CLAIM: u8 = 0;
        };
    };
    ($symbol:literal) => {
        const _: () = {
            #[used]
            #[unsafe(export_name = $symbol)]
            static CLAIM: u8 = 0;
        };
    };
}

/// What generated code refers to. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use schemars;
    pub use serde;

    pub use crate::config::ConfigSchema;
    pub use crate::host::plugin::{PluginDescriptor, PluginFactory, PluginKind, sink_factory, source_factory};

    use std::marker::PhantomData;

    use crate::config::ConfigDeserialize;
    use crate::config::{ConfigErrors, ConfigMap, parse_plugin_config};
    use crate::converter::Converter;
    use crate::transform::{KeyValueTransform, Predicate, Target, Targeted, Transform};
    use crate::{ConnectorConfig, QueueOffsets, Result, SinkContext, SinkTask, SourceContext, SourceTask};

    fn parse<T: ConfigDeserialize + ConfigSchema>(config: &ConfigMap, prefix: &str) -> Result<T, ConfigErrors> {
        parse_plugin_config(config, prefix)
    }

    fn checked(transform: Box<dyn Transform>, prefix: &str) -> Result<Box<dyn Transform>, ConfigErrors> {
        match transform.validate() {
            Ok(()) => Ok(transform),
            Err(errors) => {
                let mut keyed = ConfigErrors::new();
                keyed.extend_prefixed(prefix, errors);
                Err(keyed)
            }
        }
    }

    /// The JSON Schema of a plugin's config.
    pub fn config_schema<T: ConfigSchema>() -> schemars::Schema {
        T::config_schema()
    }

    /// The JSON Schema of a source connector's config (bound on the connector trait, whose
    /// impl already reports a missing `JsonSchema`: the error is not repeated here).
    pub fn source_schema<T: crate::SourceConnector>() -> schemars::Schema {
        T::config_schema()
    }

    /// The JSON Schema of a sink connector's config (see [`source_schema`]).
    pub fn sink_schema<T: crate::SinkConnector>() -> schemars::Schema {
        T::config_schema()
    }

    /// Parser of a [`Transform`] config.
    pub fn transform<T: Transform + ConfigDeserialize + ConfigSchema>(
        config: &ConfigMap,
        prefix: &str,
    ) -> Result<Box<dyn Transform>, ConfigErrors> {
        checked(Box::new(parse::<T>(config, prefix)?), prefix)
    }

    /// Parser of the `$Key` variant of a [`KeyValueTransform`].
    pub fn key_transform<T: KeyValueTransform + ConfigDeserialize + ConfigSchema>(
        config: &ConfigMap,
        prefix: &str,
    ) -> Result<Box<dyn Transform>, ConfigErrors> {
        checked(Box::new(Targeted { inner: parse::<T>(config, prefix)?, target: Target::Key }), prefix)
    }

    /// Parser of the `$Value` variant of a [`KeyValueTransform`].
    pub fn value_transform<T: KeyValueTransform + ConfigDeserialize + ConfigSchema>(
        config: &ConfigMap,
        prefix: &str,
    ) -> Result<Box<dyn Transform>, ConfigErrors> {
        checked(Box::new(Targeted { inner: parse::<T>(config, prefix)?, target: Target::Value }), prefix)
    }

    /// Parser of a [`Predicate`] config.
    pub fn predicate<T: Predicate + ConfigDeserialize + ConfigSchema>(
        config: &ConfigMap,
        prefix: &str,
    ) -> Result<Box<dyn Predicate>, ConfigErrors> {
        Ok(Box::new(parse::<T>(config, prefix)?))
    }

    /// Parser of a [`Converter`] config.
    pub fn converter<T: Converter + ConfigDeserialize + ConfigSchema>(
        config: &ConfigMap,
        prefix: &str,
    ) -> Result<Box<dyn Converter>, ConfigErrors> {
        let mut converter = parse::<T>(config, prefix)?;
        converter.set_role(prefix.starts_with("key."));
        Ok(Box::new(converter))
    }

    /// The task type a connector derive falls back to when its attribute is wrong, so the
    /// user sees the attribute error only. Never instantiated.
    pub struct FallbackSourceTask<C>(PhantomData<fn() -> C>);

    impl<C: ConnectorConfig> SourceTask for FallbackSourceTask<C> {
        type Config = C;
        async fn open(_: C, _: SourceContext) -> Result<Self> {
            Err(crate::Error::other("this connector failed to compile"))
        }
        async fn poll(&mut self) -> Result<Vec<crate::record::SourceRecord>> {
            Ok(Vec::new())
        }
    }

    /// See [`FallbackSourceTask`].
    pub struct FallbackSinkTask<C>(PhantomData<fn() -> C>);

    impl<C: ConnectorConfig> SinkTask for FallbackSinkTask<C> {
        type Config = C;
        async fn open(_: C, _: SinkContext) -> Result<Self> {
            Err(crate::Error::other("this connector failed to compile"))
        }
        async fn put(&mut self, _: Vec<crate::record::SinkRecord>) -> Result<()> {
            Ok(())
        }
        async fn flush(&mut self, _: &QueueOffsets) -> Result<()> {
            Ok(())
        }
    }
}
