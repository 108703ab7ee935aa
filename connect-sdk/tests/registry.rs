//! The registry lists every plugin with its documentation, finds plugins by Kafka class
//! names, reports duplicates, and validation answers in Kafka Connect's shape.

use connect_sdk::converter::ConverterDefaults;
use connect_sdk::host::assembly::{ValidatedConfig, validate};
use connect_sdk::host::plugin::{PluginDescriptor, PluginFactory, PluginKind};
use connect_sdk::host::registry::{LookupError, Registry};
use connect_sdk::prelude::*;
use serde_json::json;

/// Copies rows between two tables (a test connector).
#[derive(Clone, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "registry-test-sink", task = NullTask, version = "9.9.9")]
pub struct RegistryTestSink {
    /// JDBC-style URL of the target database.
    pub connection_url: String,
    /// Rows per batch.
    #[serde(default = "default_batch")]
    pub batch_size: u32,
    /// How rows are written.
    #[serde(default)]
    pub insert_mode: InsertMode,
}

/// How rows are written.
#[derive(Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InsertMode {
    /// Plain inserts.
    #[default]
    Insert,
    /// Insert or update on the key.
    Upsert,
}

fn default_batch() -> u32 {
    500
}

/// Discards records.
pub struct NullTask;

impl SinkTask for NullTask {
    type Config = RegistryTestSink;
    async fn open(_: RegistryTestSink, _: SinkContext) -> Result<Self> {
        Ok(NullTask)
    }
    async fn put(&mut self, _: Vec<SinkRecord>) -> Result<()> {
        Ok(())
    }
}

const BUILT_INS: &[(&str, PluginKind)] = &[
    ("json", PluginKind::Converter),
    ("string", PluginKind::Converter),
    ("bytes", PluginKind::Converter),
    ("TopicNameMatches", PluginKind::Predicate),
    ("HasHeaderKey", PluginKind::Predicate),
    ("RecordIsTombstone", PluginKind::Predicate),
    ("ValueToKey", PluginKind::Transform),
    ("RegexRouter", PluginKind::Transform),
    ("TimestampRouter", PluginKind::Transform),
    ("Filter", PluginKind::Transform),
    ("InsertHeader", PluginKind::Transform),
    ("DropHeaders", PluginKind::Transform),
    ("ExtractNewRecordState", PluginKind::Transform),
    ("io.debezium.transforms.ExtractNewRecordState", PluginKind::Transform),
];

const KEY_VALUE: &[&str] =
    &["InsertField", "ReplaceField", "MaskField", "ExtractField", "HoistField", "Cast", "Flatten", "TimestampConverter", "HeaderFrom"];

#[test]
fn every_built_in_plugin_is_registered_once() {
    let registry = Registry::global();
    registry.check().expect("no duplicate plugin names");
    for (name, kind) in BUILT_INS {
        assert_eq!(registry.get(name).unwrap().kind, *kind, "{name}");
    }
    for name in KEY_VALUE {
        for suffix in ["$Key", "$Value"] {
            assert_eq!(registry.get(&format!("{name}{suffix}")).unwrap().kind, PluginKind::Transform);
        }
    }
    // BUILT_INS names ExtractNewRecordState twice (by its name and its Debezium class).
    assert_eq!(registry.plugins().count(), BUILT_INS.len() - 1 + 2 * KEY_VALUE.len() + 1);
}

#[test]
fn every_plugin_documents_itself_and_each_of_its_keys() {
    for plugin in Registry::global().plugins() {
        assert!(!plugin.description.is_empty(), "{} has no description", plugin.name);
        let schema = (plugin.config_schema)();
        let properties = schema.get("properties").and_then(|p| p.as_object()).cloned().unwrap_or_default();
        for key in connect_sdk::config::schema_info::keys_of(&schema) {
            assert!(key.documentation.as_deref().is_some_and(|d| !d.is_empty()), "{}.{} has no doc", plugin.name, key.key);
        }
        assert_eq!(properties.len(), connect_sdk::config::schema_info::keys_of(&schema).len());
    }
}

#[test]
fn derived_descriptors_carry_name_version_docs_and_schema() {
    let plugin = Registry::global().connector("registry-test-sink").unwrap();
    assert_eq!((plugin.kind, plugin.version), (PluginKind::Sink, "9.9.9"));
    assert_eq!(plugin.description, "Copies rows between two tables (a test connector).");
    let keys = connect_sdk::config::schema_info::keys_of(&(plugin.config_schema)());
    let url = keys.iter().find(|k| k.key == "connection.url").unwrap();
    assert!(url.required);
    assert_eq!(url.documentation.as_deref(), Some("JDBC-style URL of the target database."));
}

#[test]
fn lookup_accepts_kafka_class_names_and_suggests_close_names() {
    let registry = Registry::global();
    assert_eq!(registry.get("org.apache.kafka.connect.transforms.InsertField$Value").unwrap().name, "InsertField$Value");
    assert_eq!(registry.get("org.apache.kafka.connect.storage.StringConverter").unwrap().name, "string");
    let err = registry.get_kind("RegexRoutr", PluginKind::Transform).unwrap_err();
    assert_eq!(err.to_string(), "no transformation plugin named \"RegexRoutr\"; did you mean \"RegexRouter\"?");
}

fn schema() -> schemars::Schema {
    schemars::json_schema!({"type": "object"})
}

static FIRST: PluginDescriptor = PluginDescriptor {
    name: "twin",
    aliases: &[],
    kind: PluginKind::Transform,
    version: "1",
    description: "first",
    type_path: "crate_a::twin::Twin",
    config_schema: schema,
    factory: PluginFactory::Transform(connect_sdk::__private::transform::<connect_sdk::transform::Filter>),
};

static SECOND: PluginDescriptor = PluginDescriptor { type_path: "crate_b::twin::Twin", description: "second", ..FIRST };

#[test]
fn two_plugins_with_one_name_are_reported_not_shadowed() {
    let registry = Registry::new([&FIRST, &SECOND]);
    let err = registry.check().unwrap_err();
    assert_eq!(err.to_string(), "duplicate plugin names: \"twin\" is registered by crate_a::twin::Twin and crate_b::twin::Twin");
    assert!(matches!(registry.get("twin"), Err(LookupError::Ambiguous { .. })));
}

#[test]
fn validation_answers_in_kafka_connects_shape() {
    let config = json!({
        "name": "copy", "connector.class": "registry-test-sink", "topics": "orders",
        "batch.size": "lots", "insert.mode": "merge", "transforms": "x",
    });
    let infos = serde_json::to_value(validate(Registry::global(), config.as_object().unwrap())).unwrap();
    assert_eq!(infos["name"], "registry-test-sink");
    assert_eq!(infos["error_count"], 4, "{infos:#}");
    assert_eq!(infos["groups"], json!(["Common", "Transforms", "Predicates", "Error Handling", "registry-test-sink"]));
    let entry = |name: &str| infos["configs"].as_array().unwrap().iter().find(|c| c["definition"]["name"] == name).cloned().unwrap();
    let url = entry("connection.url");
    assert_eq!(url["definition"]["required"], true);
    assert_eq!(url["value"]["errors"], json!(["Missing required configuration \"connection.url\" which has no default value."]));
    assert_eq!(entry("batch.size")["value"]["value"], "lots");
    assert_eq!(entry("batch.size")["definition"]["default_value"], "500");
    assert_eq!(entry("insert.mode")["value"]["recommended_values"], json!(["insert", "upsert"]));
    assert_eq!(entry("insert.mode")["value"]["errors"].as_array().unwrap().len(), 1);
    assert_eq!(entry("transforms.x.type")["value"]["errors"].as_array().unwrap().len(), 1);
    for field in [
        "name",
        "type",
        "required",
        "default_value",
        "importance",
        "documentation",
        "group",
        "order",
        "width",
        "display_name",
        "dependents",
    ] {
        assert!(url["definition"].get(field).is_some(), "definition lacks {field}");
    }
}

#[test]
fn sinks_need_topics() {
    let config = json!({"name": "copy", "connector.class": "registry-test-sink", "connection.url": "x"});
    let errors = ValidatedConfig::new(Registry::global(), config.as_object().unwrap(), &ConverterDefaults::default()).unwrap_err();
    assert_eq!(errors.iter().next().unwrap().key, "topics");
}

#[test]
fn a_singular_topic_on_a_sink_is_refused_with_a_suggestion() {
    let config = json!({"name": "copy", "connector.class": "registry-test-sink", "connection.url": "x", "topic": "orders"});
    let errors = ValidatedConfig::new(Registry::global(), config.as_object().unwrap(), &ConverterDefaults::default()).unwrap_err();
    let topic = errors.for_key("topic").next().unwrap_or_else(|| panic!("no error for \"topic\": {errors}"));
    assert_eq!(topic.message, "unknown configuration key; did you mean \"topics\"?");
}

#[test]
fn a_misspelled_common_key_gets_a_suggestion_and_a_present_bad_value_one_error() {
    let config = json!({"name": "copy", "connector.class": "registry-test-sink", "connection.url": "x", "topics": "t",
        "task.max": "2", "batch.size": "lots"});
    let errors = ValidatedConfig::new(Registry::global(), config.as_object().unwrap(), &ConverterDefaults::default()).unwrap_err();
    assert_eq!(errors.for_key("task.max").next().unwrap().message, "unknown configuration key; did you mean \"tasks.max\"?");
    assert_eq!(errors.for_key("batch.size").count(), 1, "{errors}");
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Registry>();
    send_sync::<Value>();
    send_sync::<Schema>();
    send_sync::<SourceRecord>();
    send_sync::<SinkRecord>();
    send_sync::<SourceContext>();
    send_sync::<SinkContext>();
    send_sync::<connect_sdk::transform::TransformChain>();
    send_sync::<connect_sdk::converter::RecordConverters>();
    send_sync::<Error>();
    fn send<T: Send>() {}
    send::<Box<dyn connect_sdk::host::plugin::DynSourceTask>>();
    send::<Box<dyn connect_sdk::host::plugin::DynSinkTask>>();
}
