//! The check of a connector config, in one pipeline: placeholders resolved by the enabled
//! providers (their secrets kept with where they came from), paths resolved and checked
//! against the allowed ones, the worker's registry given to converters that need one, every
//! key parsed and validated against the plugins ([`ValidatedConfig`]), topics checked against
//! what connectors may use, and exactly-once requirements against the worker's settings. What
//! it produces for one connector revision is a [`Revision`]: the validated config and the
//! secrets that masks whatever its units report.

use std::sync::Arc;

use connect_sdk::config::schema_info::{TopicKey, keys_of};
use connect_sdk::config::{ConfigErrors, ConfigMap, ExactlyOnceSupport, common_keys};
use connect_sdk::converter::ConverterDefaults;
use connect_sdk::host::assembly::{ConnectorPlugin, ValidatedConfig, class_of};
use connect_sdk::host::plugin::{ConnectorFactory, PluginKind};
use connect_sdk::host::registry::Registry;
use serde_json::Value as Json;

use crate::secrets::{Placeholders, Secrets};
use crate::topics::TopicRules;

/// One connector revision, checked: its validated config and its secrets (what its
/// placeholders resolved to, with the placeholders they came from).
#[derive(Clone)]
pub(crate) struct Revision {
    /// The config, validated.
    pub(crate) validated: Arc<ValidatedConfig>,
    /// Its secrets.
    pub(crate) secrets: Secrets,
}

/// How a worker checks connector configs (see the module documentation).
pub(crate) struct ConfigCheck {
    pub(crate) registry: &'static Registry,
    pub(crate) converters: ConverterDefaults,
    pub(crate) placeholders: Placeholders,
    pub(crate) topics: TopicRules,
    /// Whether the worker delivers sources exactly once.
    pub(crate) exactly_once_source: bool,
    /// This worker's registry URL, for converters given no `schema.registry.url`.
    pub(crate) schema_registry_url: Option<String>,
}

/// The key registry-backed converters read their registry's URL from.
const SCHEMA_REGISTRY_URL: &str = "schema.registry.url";

impl ConfigCheck {
    /// Checks a raw connector config: what creating or updating a connector checks first, and
    /// what a worker checks of a stored revision it did not check itself.
    pub(crate) fn revision(&self, raw: &ConfigMap) -> Result<Revision, ConfigErrors> {
        let (resolved, secrets) = self.resolve(raw)?;
        let resolved = self.with_own_registry(resolved);
        let validated = ValidatedConfig::new(self.registry, &resolved, &self.converters).map_err(|e| secrets.redact_errors_of(e, raw))?;
        self.check_topics(&resolved, validated.plugin()).map_err(|e| secrets.redact_errors_of(e, raw))?;
        self.check_delivery(&validated)?;
        Ok(Revision { validated: Arc::new(validated), secrets })
    }

    /// `raw` with its placeholders resolved, and the paths it names (the connector's keys marked
    /// `#[config(path)]`) resolved and checked against the allowed paths, so its units open the
    /// paths that were checked; each failure names its key, with the placeholders put back
    /// where a secret would show.
    pub(crate) fn resolve(&self, raw: &ConfigMap) -> Result<(ConfigMap, Secrets), ConfigErrors> {
        let (mut resolved, secrets) = match crate::secrets::resolve_tracked(raw, &self.placeholders) {
            Ok(resolved) => resolved,
            // What did resolve is masked in the messages of what did not.
            Err(errors) => return Err(self.secrets_of(raw).redact_errors(errors)),
        };
        let connector_config = resolved.clone();
        self.resolve_paths(&mut resolved, &connector_config).map_err(|e| secrets.redact_errors_of(e, raw))?;
        Ok((resolved, secrets))
    }

    /// A task config as its task opens it: placeholders resolved, and the paths its connector
    /// derived resolved and checked here too (another worker of the cluster may allow other
    /// paths than the one that planned it).
    pub(crate) fn task_config(&self, raw: &ConfigMap, connector_config: &ConfigMap) -> Result<ConfigMap, ConfigErrors> {
        let mut config = crate::secrets::resolve(raw, &self.placeholders)?;
        self.resolve_paths(&mut config, connector_config)?;
        Ok(config)
    }

    /// What the placeholders of `raw` that resolve resolve to.
    pub(crate) fn secrets_of(&self, raw: &ConfigMap) -> Secrets {
        let mut secrets = Secrets::default();
        for (key, value) in raw {
            let one = ConfigMap::from_iter([(key.clone(), value.clone())]);
            if let Ok((_, found)) = crate::secrets::resolve_tracked(&one, &self.placeholders) {
                secrets.extend(found);
            }
        }
        secrets
    }

    /// Whether a raw config is a source or a sink (a source when its class is unknown).
    pub(crate) fn kind_of(&self, config: &ConfigMap) -> PluginKind {
        class_of(config)
            .and_then(|class| self.registry.connector(&class).ok())
            .and_then(ConnectorFactory::of)
            .map_or(PluginKind::Source, ConnectorFactory::kind)
    }

    /// Resolves in place the paths of `config`, a config of the connector `connector_config` names.
    fn resolve_paths(&self, config: &mut ConfigMap, connector_config: &ConfigMap) -> Result<(), ConfigErrors> {
        let Some(plugin) = class_of(connector_config).and_then(|class| self.registry.connector(&class).ok()) else {
            return Ok(());
        };
        self.placeholders.allowed.resolve_config(config, &keys_of(&(plugin.config_schema)())).into_result(())
    }

    /// `config` with this worker's registry as the `schema.registry.url` of its key and value
    /// converters when they read one and the config (or the worker's default converter) gives none.
    fn with_own_registry(&self, mut config: ConfigMap) -> ConfigMap {
        let Some(url) = &self.schema_registry_url else { return config };
        for default in [&self.converters.key, &self.converters.value] {
            let role = &default.alias;
            let given = config.get(role.as_str()).and_then(Json::as_str).filter(|c| !c.is_empty());
            let class = given.map_or_else(|| default.class.clone(), str::to_owned);
            let Ok(plugin) = self.registry.get(&class) else { continue };
            let reads_url = keys_of(&(plugin.config_schema)()).iter().any(|k| k.answers_to(SCHEMA_REGISTRY_URL));
            let key = format!("{role}.{SCHEMA_REGISTRY_URL}");
            let from_default = given.is_none() && default.config.contains_key(SCHEMA_REGISTRY_URL);
            if reads_url && !config.contains_key(&key) && !from_default {
                config.insert(key, Json::String(url.clone()));
            }
        }
        config
    }

    /// Refuses topics the worker keeps for itself, or RocketMQ does, in every key of the
    /// connector or the common keys that names topics.
    fn check_topics(&self, config: &ConfigMap, plugin: ConnectorPlugin) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let own = keys_of(&(plugin.config_schema)());
        let keys = own.iter().chain(common_keys());
        for key in keys.filter(|k| k.topic == TopicKey::Name) {
            for (name, value) in config.iter().filter(|(name, _)| key.answers_to(name)) {
                let topics: Vec<&str> = match value {
                    Json::String(text) if key.types.iter().any(|t| t == "array") => text.split(',').map(str::trim).collect(),
                    Json::String(text) => vec![text.as_str()],
                    Json::Array(items) => items.iter().filter_map(Json::as_str).collect(),
                    _ => Vec::new(),
                };
                if let Some(refusal) = topics.into_iter().filter(|t| !t.is_empty()).find_map(|t| self.topics.refusal(t)) {
                    errors.push(name.clone(), refusal);
                }
            }
        }
        errors.into_result(())
    }

    /// `exactly.once.support=required` needs a worker that delivers exactly once and a source
    /// that can poll a record again by its offset.
    fn check_delivery(&self, validated: &ValidatedConfig) -> Result<(), ConfigErrors> {
        let ConnectorFactory::Source(factory) = validated.plugin().factory else { return Ok(()) };
        let mut errors = ConfigErrors::new();
        if validated.common().exactly_once_support == ExactlyOnceSupport::Required {
            if !self.exactly_once_source {
                errors.push("exactly.once.support", "required, but this worker's exactly.once.source.support is disabled");
            } else if !factory.repeatable {
                errors.push(
                    "exactly.once.support",
                    "required, but this connector cannot poll a record again by its offset: at least once only",
                );
            }
        }
        errors.into_result(())
    }
}
