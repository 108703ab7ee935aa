//! [`validate`]: Kafka Connect's `PUT /connector-plugins/{type}/config/validate` answer.

use serde::Serialize;
use serde_json::Value as Json;

use super::{ConnectorPlugin, ValidatedConfig, class_of};
use crate::config::schema_info::{KeyInfo, keys_of};
use crate::config::{ConfigErrors, ConfigMap, common_keys};
use crate::converter::ConverterDefaults;
use crate::host::registry::Registry;

/// The validation result (`ConfigInfos`).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConfigInfos {
    /// The connector class as given.
    pub name: String,
    /// Number of errors over all keys.
    pub error_count: usize,
    /// Groups, in order of first appearance.
    pub groups: Vec<String>,
    /// One entry per key.
    pub configs: Vec<ConfigInfo>,
}

/// One key: its definition and its value with errors.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConfigInfo {
    /// What the key is: type, default, documentation, group.
    pub definition: ConfigKeyInfo,
    /// The value and its errors.
    pub value: ConfigValueInfo,
}

/// A key's definition (`ConfigKeyInfo`).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConfigKeyInfo {
    /// The key, as users write it (`batch.size`).
    pub name: String,
    /// `STRING`, `INT`, `LONG`, `DOUBLE`, `BOOLEAN`, `LIST`, `CLASS`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the key has no default.
    pub required: bool,
    /// Default value as text.
    pub default_value: Option<String>,
    /// `HIGH`, `MEDIUM` or `LOW`.
    pub importance: String,
    /// The doc comment of the field the key maps to.
    pub documentation: String,
    /// `Common`, `Transforms`, `Predicates`, `Error Handling`, or the connector's name.
    pub group: String,
    /// Position within the group.
    pub order: usize,
    /// How wide a form field for it should be (Kafka's hint; always `MEDIUM` here).
    pub width: String,
    /// The label a form shows (the key itself).
    pub display_name: String,
    /// Keys whose meaning depends on this one (none are declared here).
    pub dependents: Vec<String>,
}

/// A key's value (`ConfigValueInfo`).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConfigValueInfo {
    /// The key, as in its definition.
    pub name: String,
    /// The value given, as text.
    pub value: Option<String>,
    /// Allowed values, for enumerations.
    pub recommended_values: Vec<String>,
    /// Problems with the value.
    pub errors: Vec<String>,
    /// Whether a form should show the key (always true: no key hides another).
    pub visible: bool,
}

/// Validates a full connector config against the plugins in `registry`, Kafka style: every
/// key a user may set is listed with its definition, and each problem is attached to its key.
///
/// ```
/// use connect_sdk::host::assembly::validate;
/// use connect_sdk::host::registry::Registry;
/// let config = serde_json::json!({"name": "x", "connector.class": "no-such-connector"});
/// let infos = validate(Registry::global(), config.as_object().unwrap());
/// assert_eq!(infos.error_count, 1);
/// ```
pub fn validate(registry: &Registry, config: &ConfigMap) -> ConfigInfos {
    let errors = ValidatedConfig::new(registry, config, &ConverterDefaults::default()).err().unwrap_or_default();
    describe_with(registry, config, errors)
}

/// Kafka's `ConfigInfos` of `config` with `errors` attached, without checking anything (no
/// connector code runs): what a worker answers when it refuses a config before validating it
/// (a path outside the allowed ones, a placeholder it does not resolve).
pub fn describe_with(registry: &Registry, config: &ConfigMap, errors: ConfigErrors) -> ConfigInfos {
    let mut infos = Infos::default();
    let class = class_of(config).unwrap_or_default();
    for (order, key) in common_keys().iter().enumerate() {
        infos.add(definition(key, "Common", order), key, config);
    }
    if let Ok(plugin) = ConnectorPlugin::lookup(registry, &class) {
        for (order, key) in plugin_keys(&plugin).iter().enumerate() {
            infos.add(definition(key, plugin.name, order), key, config);
        }
    }
    infos.attach(errors);
    ConfigInfos { name: class, error_count: infos.error_count(), groups: infos.groups(), configs: infos.configs }
}

/// The keys of a connector that users set (task-only keys left out).
pub fn plugin_keys(plugin: &ConnectorPlugin) -> Vec<KeyInfo> {
    keys_of(&(plugin.config_schema)()).into_iter().filter(|k| !k.task_only).collect()
}

/// A key's definition; `group` when the key names none.
pub fn definition(key: &KeyInfo, group: &str, order: usize) -> ConfigKeyInfo {
    let group = key.group.as_deref().unwrap_or(group);
    ConfigKeyInfo {
        name: key.key.clone(),
        kind: key.kafka_type.to_owned(),
        required: key.required,
        default_value: key.default.as_ref().filter(|d| !d.is_null()).map(json_text),
        importance: if key.required || group == "Common" { "HIGH" } else { "MEDIUM" }.to_owned(),
        documentation: key.documentation.clone().unwrap_or_default(),
        group: group.to_owned(),
        order,
        width: "MEDIUM".to_owned(),
        display_name: key.key.clone(),
        dependents: Vec::new(),
    }
}

/// The group of a key validation did not define (a transform's or converter's own key).
fn group_of(key: &str) -> &'static str {
    if key.starts_with("transforms.") {
        "Transforms"
    } else if key.starts_with("predicates.") {
        "Predicates"
    } else if key.starts_with("errors.") {
        "Error Handling"
    } else {
        "Common"
    }
}

fn json_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

#[derive(Default)]
struct Infos {
    configs: Vec<ConfigInfo>,
    /// The position of each key's info in `configs` (a config of many unknown keys is
    /// answered in time linear in its size).
    index: std::collections::HashMap<String, usize>,
}

impl Infos {
    fn add(&mut self, definition: ConfigKeyInfo, key: &KeyInfo, config: &ConfigMap) {
        let allowed = &key.allowed;
        if self.index.contains_key(&definition.name) {
            return;
        }
        self.index.insert(definition.name.clone(), self.configs.len());
        let value = config.iter().find(|(k, _)| key.answers_to(k)).map(|(_, v)| json_text(v));
        let name = definition.name.clone();
        self.configs.push(ConfigInfo {
            definition,
            value: ConfigValueInfo {
                name,
                value,
                recommended_values: allowed.iter().map(json_text).collect(),
                errors: Vec::new(),
                visible: true,
            },
        });
    }

    fn attach(&mut self, errors: ConfigErrors) {
        for error in errors {
            let position = self.index.get(&error.key).copied();
            let index = position.unwrap_or_else(|| {
                self.index.insert(error.key.clone(), self.configs.len());
                self.configs.push(ConfigInfo {
                    definition: ConfigKeyInfo {
                        name: error.key.clone(),
                        kind: "STRING".to_owned(),
                        required: false,
                        default_value: None,
                        importance: "LOW".to_owned(),
                        documentation: String::new(),
                        group: group_of(&error.key).to_owned(),
                        order: 0,
                        width: "NONE".to_owned(),
                        display_name: error.key.clone(),
                        dependents: Vec::new(),
                    },
                    value: ConfigValueInfo {
                        name: error.key.clone(),
                        value: None,
                        recommended_values: Vec::new(),
                        errors: Vec::new(),
                        visible: true,
                    },
                });
                self.configs.len() - 1
            });
            self.configs[index].value.errors.push(error.message);
        }
    }

    fn error_count(&self) -> usize {
        self.configs.iter().map(|c| c.value.errors.len()).sum()
    }

    fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for config in &self.configs {
            if !groups.contains(&config.definition.group) {
                groups.push(config.definition.group.clone());
            }
        }
        groups
    }
}
