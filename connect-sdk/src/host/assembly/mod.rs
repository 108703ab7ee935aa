//! A whole connector config checked once against the registered plugins.
//!
//! [`ValidatedConfig`] is what a raw config becomes after its secrets are resolved: the common
//! keys typed ([`CommonConfig`]), the connector's own keys parsed into its struct and
//! validated, its transform chain and converters built. Planning and task start carry it;
//! nothing parses the connector config again. [`validate`] gives the same verdict in the
//! shape of Kafka Connect's validation endpoint.
//!
//! This module sits above the [`Registry`]: converters, transforms and the registry know
//! nothing of connector configs.
//!
//! ```
//! use connect_sdk::host::assembly::ValidatedConfig;
//! use connect_sdk::converter::ConverterDefaults;
//! use connect_sdk::host::registry::Registry;
//!
//! let config = serde_json::json!({
//!     "name": "n", "connector.class": "no-such-connector",
//!     "transforms": "route", "transforms.route.type": "RegexRouter", "transforms.route.regex": "(.*)",
//! });
//! let errors = ValidatedConfig::new(Registry::global(), config.as_object().unwrap(), &ConverterDefaults::default()).unwrap_err();
//! let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
//! assert_eq!(keys, ["connector.class", "transforms.route.replacement"]);
//! ```

mod validate;

use std::sync::Arc;

use schemars::Schema;
use serde_json::Value as Json;

pub use validate::{ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo, definition, describe_with, plugin_keys, validate};

use crate::TaskPlan;
use crate::config::schema_info::keys_of;
use crate::config::{CommonConfig, ConfigErrors, ConfigMap, ConfigOrigin, PluginConfigs, PluginRef, common_keys};
use crate::converter::{Converter, ConverterDefaults, RecordConverters};
use crate::error::Result;
use crate::host::plugin::{ConnectorFactory, ErasedConnector, PluginKind};
use crate::host::registry::Registry;
use crate::transform::{Gate, TransformChain};

/// The connector a config is checked against.
#[derive(Clone, Copy)]
pub struct ConnectorPlugin {
    /// Its registered name.
    pub name: &'static str,
    /// Its entry points.
    pub factory: ConnectorFactory,
    /// The JSON Schema of its config.
    pub config_schema: fn() -> Schema,
}

impl ConnectorPlugin {
    /// The connector `class` names in `registry`.
    pub fn lookup(registry: &Registry, class: &str) -> Result<ConnectorPlugin, crate::host::registry::LookupError> {
        let plugin = registry.connector(class)?;
        let factory = ConnectorFactory::of(plugin).ok_or_else(|| crate::host::registry::LookupError::NotFound {
            name: class.to_owned(),
            kind: "connector".to_owned(),
            suggestion: None,
        })?;
        Ok(ConnectorPlugin { name: plugin.name, factory, config_schema: plugin.config_schema })
    }

    /// Source or sink.
    pub fn kind(&self) -> PluginKind {
        self.factory.kind()
    }
}

/// A connector config resolved, parsed and validated: see the module documentation.
#[derive(Clone)]
pub struct ValidatedConfig {
    common: CommonConfig,
    plugin: ConnectorPlugin,
    connector: ErasedConnector,
    chain: Arc<TransformChain>,
    converters: Arc<RecordConverters>,
}

impl ValidatedConfig {
    /// Checks a full connector config (placeholders already resolved) against the plugins of
    /// `registry`: its common keys, its connector's keys, converters (falling back to
    /// `defaults`), transforms and predicates. Every problem found is returned, keyed.
    pub fn new(registry: &Registry, config: &ConfigMap, defaults: &ConverterDefaults) -> Result<ValidatedConfig, ConfigErrors> {
        let class = class_of(config);
        let plugin = match class.as_deref() {
            Some(class) => ConnectorPlugin::lookup(registry, class)
                .map_err(|e| ConfigErrors::from(crate::config::ConfigError::new("connector.class", e.to_string()))),
            // CommonConfig reports the missing class.
            None => Err(ConfigErrors::new()),
        };
        assemble(registry, config, plugin, defaults)
    }

    /// Checks `config` against `plugin` instead of the connector its class names (the test
    /// harness runs connectors that are not looked up by name).
    pub fn for_connector(
        registry: &Registry,
        config: &ConfigMap,
        plugin: ConnectorPlugin,
        defaults: &ConverterDefaults,
    ) -> Result<ValidatedConfig, ConfigErrors> {
        assemble(registry, config, Ok(plugin), defaults)
    }

    /// The common keys.
    pub fn common(&self) -> &CommonConfig {
        &self.common
    }

    /// The connector plugin.
    pub fn plugin(&self) -> ConnectorPlugin {
        self.plugin
    }

    /// Source or sink.
    pub fn kind(&self) -> PluginKind {
        self.plugin.kind()
    }

    /// The transform chain, shared by the connector's tasks.
    pub fn chain(&self) -> Arc<TransformChain> {
        self.chain.clone()
    }

    /// The key and value converters, shared by the connector's tasks.
    pub fn converters(&self) -> Arc<RecordConverters> {
        self.converters.clone()
    }

    /// Plans the connector's tasks (at most `tasks.max`): their configs, serialized, and when
    /// to plan again.
    pub async fn plan_tasks(&self) -> Result<TaskPlan<ConfigMap>> {
        self.plugin.factory.plan(self.connector.clone(), self.common.max_tasks()).await
    }
}

impl std::fmt::Debug for ValidatedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatedConfig").field("connector", &self.plugin.name).field("common", &self.common).finish_non_exhaustive()
    }
}

/// The connector class a raw config names, under any of its spellings.
pub fn class_of(config: &ConfigMap) -> Option<String> {
    let key = common_keys().iter().find(|k| k.key == "connector.class")?;
    config.iter().find(|(k, _)| key.answers_to(k)).and_then(|(_, v)| v.as_str()).map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned)
}

fn assemble(
    registry: &Registry,
    config: &ConfigMap,
    plugin: Result<ConnectorPlugin, ConfigErrors>,
    defaults: &ConverterDefaults,
) -> Result<ValidatedConfig, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let common = CommonConfig::parse(config).map_err(|e| errors.extend_prefixed("", e)).ok();
    let plugin = plugin.map_err(|e| errors.extend_prefixed("", e)).ok();
    let connector = plugin.and_then(|p| p.factory.parse(config, ConfigOrigin::User).map_err(|e| errors.extend_prefixed("", e)).ok());
    if let (Some(common), Some(plugin)) = (&common, &plugin) {
        check_topics(common, plugin, &mut errors);
    }
    let plugins = common.as_ref().map(|c| &c.plugins);
    let chain = plugins.and_then(|p| transform_chain(registry, p).map_err(|e| errors.extend_prefixed("", e)).ok());
    let converters = plugins.and_then(|p| record_converters(registry, p, defaults).map_err(|e| errors.extend_prefixed("", e)).ok());
    match (common, plugin, connector, chain, converters) {
        (Some(common), Some(plugin), Some(connector), Some(chain), Some(converters)) if errors.is_empty() => {
            Ok(ValidatedConfig { common, plugin, connector, chain: Arc::new(chain), converters: Arc::new(converters) })
        }
        _ => Err(errors),
    }
}

/// A sink needs topics to read; a source names its topics in its records, so `topics` would
/// never be read (unless the connector declares the key itself).
fn check_topics(common: &CommonConfig, plugin: &ConnectorPlugin, errors: &mut ConfigErrors) {
    match plugin.kind() {
        PluginKind::Sink if common.topic_selection().is_none() && errors.for_key("topics.regex").next().is_none() => {
            errors.push("topics", "a sink connector needs \"topics\" or \"topics.regex\"");
        }
        PluginKind::Source => {
            let declared = keys_of(&(plugin.config_schema)());
            for (key, given) in [("topics", !common.topics.is_empty()), ("topics.regex", common.topics_regex.is_some())] {
                if given && !declared.iter().any(|k| k.key == key) {
                    errors.push(key, "a source writes to the topics its records name: this key is for sinks; remove it");
                }
            }
        }
        _ => {}
    }
}

/// Builds the transforms and predicates `plugins` names.
pub fn transform_chain(registry: &Registry, plugins: &PluginConfigs) -> Result<TransformChain, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let mut predicates = Vec::new();
    for p in &plugins.predicates {
        match registry.predicate(&p.class, &p.config, &p.prefix) {
            Ok(predicate) => predicates.push((p.alias.as_str(), Arc::from(predicate))),
            Err(e) => errors.extend_prefixed("", e),
        }
    }
    let mut chain = TransformChain::new();
    for t in &plugins.transforms {
        let gate = t.predicate.as_ref().and_then(|alias| predicates.iter().find(|(a, _)| a == alias));
        match registry.transform(&t.plugin.class, &t.plugin.config, &t.plugin.prefix) {
            Ok(transform) => chain.push(&t.plugin.alias, transform, gate.map(|(_, p)| Gate { predicate: Arc::clone(p), negate: t.negate })),
            Err(e) => errors.extend_prefixed("", e),
        }
    }
    errors.into_result(chain)
}

/// Builds the key and value converters `plugins` names, falling back to `defaults`; keys of
/// a converter given without a class configure the default one.
pub fn record_converters(
    registry: &Registry,
    plugins: &PluginConfigs,
    defaults: &ConverterDefaults,
) -> Result<RecordConverters, ConfigErrors> {
    let key = converter(registry, plugins.key_converter.as_ref(), &defaults.key);
    let value = converter(registry, plugins.value_converter.as_ref(), &defaults.value);
    match (key, value) {
        (Ok(key), Ok(value)) => Ok(RecordConverters { key, value }),
        (key, value) => {
            let mut errors = ConfigErrors::new();
            for e in [key.err(), value.err()].into_iter().flatten() {
                errors.extend_prefixed("", e);
            }
            Err(errors)
        }
    }
}

fn converter(registry: &Registry, given: Option<&PluginRef>, default: &PluginRef) -> Result<Box<dyn Converter>, ConfigErrors> {
    match given {
        Some(given) if !given.class.is_empty() => registry.converter(&given.class, &given.config, &given.alias),
        Some(overrides) => {
            let mut config = default.config.clone();
            config.extend(overrides.config.iter().map(|(k, v): (&String, &Json)| (k.clone(), v.clone())));
            registry.converter(&default.class, &config, &default.alias)
        }
        None => registry.converter(&default.class, &default.config, &default.alias),
    }
}
