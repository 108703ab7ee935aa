//! What a connector's configuration type must be, as traits the derives check: readable
//! ([`ConfigDeserialize`]), describable ([`ConfigSchema`]) and storable per task
//! ([`ConfigSerialize`]), together [`ConnectorConfig`]. Each is implemented for every type
//! with the matching serde or schemars derive; a missing derive is named in the error.

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a connector configuration must be: readable from the JSON config (`Deserialize`),
/// describable (`JsonSchema`, whose doc comments become the documentation in `plugins` and
/// validation), and storable per task (`Serialize + Clone`). Derive all four, from
/// `connect_sdk::prelude`; a missing one is named in the error.
pub trait ConnectorConfig: ConfigSerialize + ConfigDeserialize + ConfigSchema + Clone + Send + Sync + 'static {}

impl<T: ConfigSerialize + ConfigDeserialize + ConfigSchema + Clone + Send + Sync + 'static> ConnectorConfig for T {}

/// A config type that can be stored as task configs: every `Serialize` type (derive it).
#[diagnostic::on_unimplemented(
    message = "the config `{Self}` cannot be stored as task configs: it does not implement `Serialize`",
    label = "add `Serialize` to the `#[derive(...)]` of `{Self}`",
    note = "`use connect_sdk::prelude::*;` brings connect-sdk's `Serialize` derive: `#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]`"
)]
pub trait ConfigSerialize {
    /// The config as a JSON value.
    fn to_config_json(&self) -> Result<serde_json::Value, serde_json::Error>;
}

#[diagnostic::do_not_recommend]
impl<T: Serialize> ConfigSerialize for T {
    fn to_config_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// A config type that can be read from a connector config: every `Deserialize` type (derive it).
#[diagnostic::on_unimplemented(
    message = "the config `{Self}` cannot be read from a connector config: it does not implement `Deserialize`",
    label = "add `Deserialize` to the `#[derive(...)]` of `{Self}`",
    note = "`use connect_sdk::prelude::*;` brings connect-sdk's `Deserialize` derive: `#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]`"
)]
pub trait ConfigDeserialize: Sized {
    /// Reads the config from a JSON object whose keys are its field names.
    fn from_config_json(json: serde_json::Value) -> Result<Self, serde_path_to_error::Error<serde_json::Error>>;
}

#[diagnostic::do_not_recommend]
impl<T: DeserializeOwned> ConfigDeserialize for T {
    fn from_config_json(json: serde_json::Value) -> Result<Self, serde_path_to_error::Error<serde_json::Error>> {
        serde_path_to_error::deserialize(json)
    }
}

/// A config type whose keys can be listed and documented: every `JsonSchema` type (derive it;
/// its doc comments become the keys' documentation).
#[diagnostic::on_unimplemented(
    message = "the config `{Self}` cannot describe its keys: it does not implement `JsonSchema`",
    label = "add `JsonSchema` to the `#[derive(...)]` of `{Self}`",
    note = "`use connect_sdk::prelude::*;` brings connect-sdk's `JsonSchema` derive: `#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]`"
)]
pub trait ConfigSchema {
    /// The JSON Schema of the config.
    fn config_schema() -> schemars::Schema;
}

#[diagnostic::do_not_recommend]
impl<T: JsonSchema> ConfigSchema for T {
    fn config_schema() -> schemars::Schema {
        crate::config::schema_info::schema_of::<T>()
    }
}
