//! The [`Registry`] of every plugin linked into the binary, collected at compile time with
//! `inventory`: no plugin folders, no class loading.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use crate::config::{ConfigError, ConfigErrors, ConfigMap, did_you_mean};
use crate::converter::Converter;
use crate::host::plugin::{PluginDescriptor, PluginFactory, PluginKind, SinkFactory, SourceFactory};
use crate::transform::{Predicate, Transform};

/// A plugin name lookup that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No plugin has this name.
    #[error("no {kind} plugin named \"{name}\"{}", suggestion.as_ref().map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default())]
    NotFound {
        /// The name asked for.
        name: String,
        /// What kind was expected.
        kind: String,
        /// The closest registered name.
        suggestion: Option<String>,
    },
    /// Several plugins have this name.
    #[error("{name} names several plugins ({}); rename one of them", types.join(", "))]
    Ambiguous {
        /// The name.
        name: String,
        /// The types that registered it.
        types: Vec<String>,
    },
}

/// Two or more plugins registered under one name: reported at start-up, never shadowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("duplicate plugin names: {}", .0.iter().map(|(name, types)| format!("\"{name}\" is registered by {}", types.join(" and "))).collect::<Vec<_>>().join("; "))]
pub struct DuplicatePlugins(pub Vec<(String, Vec<String>)>);

/// All plugins, by name and alias.
///
/// ```
/// use connect_sdk::host::plugin::PluginKind;
/// use connect_sdk::host::registry::Registry;
/// let registry = Registry::global();
/// registry.check().expect("no duplicate names");
/// let json = registry.get("org.apache.kafka.connect.json.JsonConverter").unwrap();
/// assert_eq!((json.name, json.kind), ("json", PluginKind::Converter));
/// ```
pub struct Registry {
    plugins: Vec<&'static PluginDescriptor>,
    by_name: BTreeMap<String, Vec<usize>>,
}

impl Registry {
    /// The plugins linked into this binary.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(|| Registry::new(inventory::iter::<PluginDescriptor>))
    }

    /// A registry of the given descriptors.
    pub fn new(descriptors: impl IntoIterator<Item = &'static PluginDescriptor>) -> Registry {
        let mut plugins: Vec<&'static PluginDescriptor> = descriptors.into_iter().collect();
        plugins.sort_by_key(|p| (p.kind, p.name, p.type_path));
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, plugin) in plugins.iter().enumerate() {
            for name in std::iter::once(&plugin.name).chain(plugin.aliases) {
                let entries = by_name.entry((*name).to_owned()).or_default();
                if !entries.contains(&index) {
                    entries.push(index);
                }
            }
        }
        Registry { plugins, by_name }
    }

    /// Fails when two plugins share a name or alias; the runtime calls it at start-up.
    pub fn check(&self) -> Result<(), DuplicatePlugins> {
        let duplicates: Vec<(String, Vec<String>)> = self
            .by_name
            .iter()
            .filter(|(_, indexes)| indexes.len() > 1)
            .map(|(name, indexes)| (name.clone(), indexes.iter().map(|&i| self.plugins[i].type_path.to_owned()).collect()))
            .collect();
        if duplicates.is_empty() { Ok(()) } else { Err(DuplicatePlugins(duplicates)) }
    }

    /// Every plugin, sorted by kind then name.
    pub fn plugins(&self) -> impl Iterator<Item = &'static PluginDescriptor> + '_ {
        self.plugins.iter().copied()
    }

    /// The plugin called `name`: its name, an alias, or a Kafka-style class name whose last
    /// segment is its name (`org.apache.kafka.connect.transforms.InsertField$Value`).
    pub fn get(&self, name: &str) -> Result<&'static PluginDescriptor, LookupError> {
        self.find(name, |_| true, "")
    }

    /// The plugin called `name`, which must be of `kind`.
    pub fn get_kind(&self, name: &str, kind: PluginKind) -> Result<&'static PluginDescriptor, LookupError> {
        self.find(name, |p| p.kind == kind, kind.as_str())
    }

    /// The source or sink connector called `name`.
    pub fn connector(&self, name: &str) -> Result<&'static PluginDescriptor, LookupError> {
        self.find(name, |p| p.kind.is_connector(), "connector")
    }

    fn find(&self, name: &str, accept: impl Fn(&PluginDescriptor) -> bool, kind: &str) -> Result<&'static PluginDescriptor, LookupError> {
        let short = name.rsplit('.').next().unwrap_or(name);
        let candidates: Vec<&'static PluginDescriptor> = [name, short]
            .iter()
            .find_map(|n| self.by_name.get(*n))
            .map(|indexes| indexes.iter().map(|&i| self.plugins[i]).filter(|p| accept(p)).collect())
            .unwrap_or_default();
        match candidates.as_slice() {
            [one] => Ok(one),
            [] => Err(LookupError::NotFound {
                name: name.to_owned(),
                kind: if kind.is_empty() { "registered".to_owned() } else { kind.to_owned() },
                suggestion: did_you_mean(short, self.plugins.iter().filter(|p| accept(p)).map(|p| p.name)).map(str::to_owned),
            }),
            many => Err(LookupError::Ambiguous { name: name.to_owned(), types: many.iter().map(|p| p.type_path.to_owned()).collect() }),
        }
    }

    /// Builds the transform `name` from its keys (errors keyed with `prefix`).
    pub fn transform(&self, name: &str, config: &ConfigMap, prefix: &str) -> Result<Box<dyn Transform>, ConfigErrors> {
        match &self.get_kind(name, PluginKind::Transform).map_err(|e| keyed(prefix, "type", e))?.factory {
            PluginFactory::Transform(parse) => parse(config, prefix),
            _ => unreachable_kind(prefix),
        }
    }

    /// Builds the predicate `name` from its keys.
    pub fn predicate(&self, name: &str, config: &ConfigMap, prefix: &str) -> Result<Box<dyn Predicate>, ConfigErrors> {
        match &self.get_kind(name, PluginKind::Predicate).map_err(|e| keyed(prefix, "type", e))?.factory {
            PluginFactory::Predicate(parse) => parse(config, prefix),
            _ => unreachable_kind(prefix),
        }
    }

    /// Builds the converter `name` from its keys; `role` is `key.converter` or `value.converter`.
    pub fn converter(&self, name: &str, config: &ConfigMap, role: &str) -> Result<Box<dyn Converter>, ConfigErrors> {
        let plugin = self.get_kind(name, PluginKind::Converter).map_err(|e| ConfigErrors::from(ConfigError::new(role, e.to_string())))?;
        match &plugin.factory {
            PluginFactory::Converter(parse) => parse(config, &format!("{role}.")),
            _ => unreachable_kind(role),
        }
    }

    /// The source connector `name`'s entry points.
    pub fn source(&self, name: &str) -> Result<(&'static PluginDescriptor, &'static SourceFactory), LookupError> {
        let plugin = self.get_kind(name, PluginKind::Source)?;
        match &plugin.factory {
            PluginFactory::Source(factory) => Ok((plugin, factory)),
            _ => Err(LookupError::NotFound { name: name.to_owned(), kind: "source".to_owned(), suggestion: None }),
        }
    }

    /// The sink connector `name`'s entry points.
    pub fn sink(&self, name: &str) -> Result<(&'static PluginDescriptor, &'static SinkFactory), LookupError> {
        let plugin = self.get_kind(name, PluginKind::Sink)?;
        match &plugin.factory {
            PluginFactory::Sink(factory) => Ok((plugin, factory)),
            _ => Err(LookupError::NotFound { name: name.to_owned(), kind: "sink".to_owned(), suggestion: None }),
        }
    }
}

fn keyed(prefix: &str, key: &str, error: LookupError) -> ConfigErrors {
    ConfigError::new(format!("{prefix}{key}"), error.to_string()).into()
}

fn unreachable_kind<T>(prefix: &str) -> Result<T, ConfigErrors> {
    Err(ConfigError::new(prefix.trim_end_matches('.'), "plugin has a factory of another kind").into())
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.plugins.iter().map(|p| (p.kind, p.name))).finish()
    }
}
