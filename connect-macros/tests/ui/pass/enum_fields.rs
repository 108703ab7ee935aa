use connect_sdk::config::parse_connector_config;
use connect_sdk::prelude::*;
use connect_sdk::serde_json::json;

/// How to write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Plain inserts.
    Insert,
    /// Insert or update.
    Upsert,
}

/// A config with an enum, a renamed field and a default.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Writer {
    /// Write mode.
    pub mode: Mode,
    /// Target table.
    #[serde(rename = "table.name.format")]
    pub table: String,
    /// Retries.
    #[serde(default = "three")]
    pub retries: u32,
}

fn three() -> u32 {
    3
}

fn main() {
    let config = json!({"mode": "upsert", "table.name.format": "orders"});
    let writer: Writer = parse_connector_config(config.as_object().unwrap()).unwrap();
    assert_eq!((writer.mode.clone(), writer.table.as_str(), writer.retries), (Mode::Upsert, "orders", 3));
    let bad = json!({"mode": "merge", "table.name.format": "orders"});
    let errors = parse_connector_config::<Writer>(bad.as_object().unwrap()).unwrap_err();
    assert_eq!(errors.iter().next().unwrap().key, "mode");
    assert_eq!(connect_sdk::serde_json::to_value(&writer).unwrap()["table.name.format"], "orders");
}
