//! The keys both converters share, Confluent's names and meanings: where the registry is,
//! whether schemas are registered, which subject a schema goes to, and credentials.

use connect_sdk::data::{DataError, Schema};
use connect_sdk::prelude::*;

use crate::client::RegistryClient;

/// Which subject a record's schema is registered under (Confluent's `*.subject.name.strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value`: one schema history per topic.
    #[default]
    #[serde(rename = "TopicNameStrategy", alias = "io.confluent.kafka.serializers.subject.TopicNameStrategy")]
    Topic,
    /// The record's full name: one history per record type, across topics.
    #[serde(rename = "RecordNameStrategy", alias = "io.confluent.kafka.serializers.subject.RecordNameStrategy")]
    Record,
    /// `<topic>-<record name>`: per topic and record type.
    #[serde(rename = "TopicRecordNameStrategy", alias = "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy")]
    TopicRecord,
}

/// Where `basic.auth.user.info`'s credentials come from (Confluent's `basic.auth.credentials.source`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CredentialsSource {
    /// From the URL's `user:password@` part.
    #[default]
    Url,
    /// From `basic.auth.user.info`.
    UserInfo,
}

/// The registry keys of the `avro` and `json-schema` converters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegistrySettings {
    /// The registry's URL, or several comma-separated (tried in turn); the worker fills in its
    /// own registry (`/registry` on its REST listener) when this is absent.
    #[serde(default)]
    pub schema_registry_url: Option<String>,
    /// Register a record's schema when the subject does not have it yet (else it must be there).
    #[serde(default = "yes")]
    pub auto_register_schemas: bool,
    /// Write with the subject's latest schema instead of the record's own (needs
    /// `auto.register.schemas=false`).
    #[serde(default)]
    pub use_latest_version: bool,
    /// Subject of key schemas.
    #[serde(default)]
    pub key_subject_name_strategy: SubjectNameStrategy,
    /// Subject of value schemas.
    #[serde(default)]
    pub value_subject_name_strategy: SubjectNameStrategy,
    /// Where credentials come from: `URL` or `USER_INFO`.
    #[serde(default)]
    pub basic_auth_credentials_source: CredentialsSource,
    /// `user:password` for `USER_INFO`; write a placeholder (`${env:VAR}`) so it is never stored.
    #[serde(default)]
    #[schemars(extend("x-kafka-type" = "PASSWORD"))]
    pub basic_auth_user_info: Option<String>,
}

fn yes() -> bool {
    true
}

impl RegistrySettings {
    /// A client of the configured registry; an error names the missing or bad key.
    pub fn client(&self) -> Result<RegistryClient, DataError> {
        let Some(urls) = self.schema_registry_url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Err(DataError::new("schema.registry.url is not set (a worker sets its own registry's URL; elsewhere set it)"));
        };
        let mut user_info = None;
        let mut plain = Vec::new();
        for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let mut parsed = connect_url(url)?;
            if self.basic_auth_credentials_source == CredentialsSource::Url && !parsed.username().is_empty() {
                user_info = Some(format!("{}:{}", parsed.username(), parsed.password().unwrap_or_default()));
                let _ = parsed.set_username("");
                let _ = parsed.set_password(None);
            }
            plain.push(parsed.to_string());
        }
        if self.basic_auth_credentials_source == CredentialsSource::UserInfo {
            user_info = Some(
                self.basic_auth_user_info
                    .clone()
                    .ok_or_else(|| DataError::new("basic.auth.user.info is required with basic.auth.credentials.source=USER_INFO"))?,
            );
        }
        Ok(RegistryClient::new(plain, user_info.as_deref()))
    }

    /// The subject of a key's or value's schema written to `topic`.
    pub fn subject(&self, is_key: bool, topic: &str, schema: Option<&Schema>) -> Result<String, DataError> {
        let strategy = if is_key { self.key_subject_name_strategy } else { self.value_subject_name_strategy };
        let record_name = || {
            schema.and_then(|s| s.name.clone()).ok_or_else(|| {
                DataError::new(format!(
                    "{} needs a named schema (a struct with a name); topic {topic} has none",
                    if is_key { "key.subject.name.strategy" } else { "value.subject.name.strategy" }
                ))
            })
        };
        Ok(match strategy {
            SubjectNameStrategy::Topic => format!("{topic}-{}", if is_key { "key" } else { "value" }),
            SubjectNameStrategy::Record => record_name()?,
            SubjectNameStrategy::TopicRecord => format!("{topic}-{}", record_name()?),
        })
    }
}

fn connect_url(url: &str) -> Result<reqwest::Url, DataError> {
    reqwest::Url::parse(url).map_err(|e| DataError::new(format!("schema.registry.url \"{url}\" is invalid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_strategy() {
        let named = Schema::structure().named("shop.Order");
        let mut settings = RegistrySettings { schema_registry_url: Some("http://r:8081".into()), ..RegistrySettings::default() };
        assert_eq!(settings.subject(false, "orders", Some(&named)).unwrap(), "orders-value");
        assert_eq!(settings.subject(true, "orders", None).unwrap(), "orders-key");
        settings.value_subject_name_strategy = SubjectNameStrategy::Record;
        assert_eq!(settings.subject(false, "orders", Some(&named)).unwrap(), "shop.Order");
        assert!(settings.subject(false, "orders", Some(&Schema::string())).unwrap_err().to_string().contains("named schema"));
        settings.value_subject_name_strategy = SubjectNameStrategy::TopicRecord;
        assert_eq!(settings.subject(false, "orders", Some(&named)).unwrap(), "orders-shop.Order");
    }

    #[test]
    fn credentials_come_from_the_url_or_the_user_info() {
        let from_url =
            RegistrySettings { schema_registry_url: Some("http://u:p@r:8081, http://s:8081".into()), ..RegistrySettings::default() };
        assert_eq!(from_url.client().unwrap().urls(), ["http://r:8081/", "http://s:8081/"].map(|u| u.trim_end_matches('/').to_owned()));
        let missing = RegistrySettings { basic_auth_credentials_source: CredentialsSource::UserInfo, ..from_url.clone() };
        assert!(missing.client().unwrap_err().to_string().contains("basic.auth.user.info"));
        assert!(RegistrySettings::default().client().unwrap_err().to_string().contains("schema.registry.url"));
    }
}
