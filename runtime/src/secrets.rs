//! Config placeholders: `${env:NAME}` and `${file:/path/to/file.properties:key}` are resolved
//! only when a connector or task starts. Stored configs, REST answers and logs keep the
//! placeholder, never the secret. A `${file:...}` path must lie under the worker's allowed
//! paths (`--allowed-paths`).

use std::sync::LazyLock;

use connect_sdk::config::{ConfigErrors, ConfigMap};
use regex::Regex;
use serde_json::Value as Json;

use crate::allowlist::{AllowedPaths, PathRefused};

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\$\{(env|file):([^}]*)\}").expect("a valid pattern"));

/// A copy of `config` with every placeholder replaced, in strings at any depth (a task
/// config may hold one in a list); each failure names its key.
pub fn resolve(config: &ConfigMap, allowed: &AllowedPaths) -> Result<ConfigMap, ConfigErrors> {
    resolve_tracked(config, allowed).map(|(resolved, _)| resolved)
}

/// The values placeholders were resolved to, each with its placeholder: whatever text a
/// resolved config leads to (an error, a trace, a task config a connector derived) is shown
/// with the placeholders put back wherever a secret appears in it, whole or within other text.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    /// (value, placeholder), longest values first.
    pairs: Vec<(String, String)>,
}

/// Secrets shorter than this are put back only where a whole string equals them: replacing
/// every `a` of a trace would hide the trace, not the secret.
const MIN_MASKED_LEN: usize = 4;

impl Secrets {
    /// `text` with every resolved secret replaced by its placeholder.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (value, placeholder) in &self.pairs {
            if text == *value {
                return placeholder.clone();
            }
            if value.len() >= MIN_MASKED_LEN && text.contains(value.as_str()) {
                text = text.replace(value.as_str(), placeholder);
            }
        }
        text
    }

    /// `value` with every string in it redacted, at any depth.
    pub fn redact_json(&self, value: Json) -> Json {
        if self.pairs.is_empty() {
            return value;
        }
        match value {
            Json::String(text) => Json::String(self.redact(&text)),
            Json::Array(items) => Json::Array(items.into_iter().map(|v| self.redact_json(v)).collect()),
            Json::Object(map) => Json::Object(map.into_iter().map(|(k, v)| (k, self.redact_json(v))).collect()),
            other => other,
        }
    }

    /// `errors` with their messages redacted.
    pub fn redact_errors(&self, errors: ConfigErrors) -> ConfigErrors {
        let mut redacted = ConfigErrors::new();
        for error in errors {
            redacted.push(error.key, self.redact(&error.message));
        }
        redacted
    }
}

/// [`resolve`], also returning what each placeholder resolved to.
pub fn resolve_tracked(config: &ConfigMap, allowed: &AllowedPaths) -> Result<(ConfigMap, Secrets), ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let mut resolved = ConfigMap::new();
    let mut secrets = Secrets::default();
    for (key, value) in config {
        collect_secrets(value, allowed, &mut secrets);
        match resolve_value(value, allowed) {
            Ok(value) => {
                resolved.insert(key.clone(), value);
            }
            Err(error) => errors.push(key.clone(), error.to_string()),
        }
    }
    secrets.pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.cmp(b)));
    secrets.pairs.dedup();
    errors.into_result((resolved, secrets))
}

/// Records what each placeholder in `value` resolves to (those that resolve).
fn collect_secrets(value: &Json, allowed: &AllowedPaths, secrets: &mut Secrets) {
    match value {
        Json::String(text) => {
            for caps in PLACEHOLDER.captures_iter(text) {
                if let Ok(secret) = lookup(&caps[1], &caps[2], allowed)
                    && !secret.is_empty()
                {
                    secrets.pairs.push((secret, caps[0].to_owned()));
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|v| collect_secrets(v, allowed, secrets)),
        Json::Object(map) => map.values().for_each(|v| collect_secrets(v, allowed, secrets)),
        _ => {}
    }
}

/// Why a placeholder could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `${env:NAME}` names a variable that is not set.
    #[error("environment variable {0} (from ${{env:{0}}}) is not set")]
    EnvNotSet(String),
    /// `${file:...}` without the `:key` part.
    #[error("${{file:{0}}} must be ${{file:/path:key}}")]
    BadFileReference(String),
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is outside the allowed paths.
    #[error(transparent)]
    Refused(#[from] PathRefused),
    /// The file has no such key.
    #[error("{path} has no key {key}")]
    NoKey {
        /// The file.
        path: String,
        /// The key.
        key: String,
    },
}

fn resolve_value(value: &Json, allowed: &AllowedPaths) -> Result<Json, SecretError> {
    match value {
        Json::String(text) => {
            let mut failure = None;
            let replaced = PLACEHOLDER.replace_all(text, |caps: &regex::Captures<'_>| match lookup(&caps[1], &caps[2], allowed) {
                Ok(secret) => secret,
                Err(error) => {
                    failure.get_or_insert(error);
                    String::new()
                }
            });
            failure.map_or_else(|| Ok(Json::String(replaced.into_owned())), Err)
        }
        Json::Array(items) => items.iter().map(|v| resolve_value(v, allowed)).collect::<Result<_, _>>().map(Json::Array),
        Json::Object(map) => {
            map.iter().map(|(k, v)| resolve_value(v, allowed).map(|v| (k.clone(), v))).collect::<Result<_, _>>().map(Json::Object)
        }
        other => Ok(other.clone()),
    }
}

fn lookup(provider: &str, reference: &str, allowed: &AllowedPaths) -> Result<String, SecretError> {
    match provider {
        "env" => std::env::var(reference).map_err(|_| SecretError::EnvNotSet(reference.to_owned())),
        _ => {
            let (path, key) = reference.rsplit_once(':').ok_or_else(|| SecretError::BadFileReference(reference.to_owned()))?;
            allowed.check(path)?;
            let text = std::fs::read_to_string(path).map_err(|source| SecretError::Unreadable { path: path.to_owned(), source })?;
            properties_value(&text, key).ok_or_else(|| SecretError::NoKey { path: path.to_owned(), key: key.to_owned() })
        }
    }
}

/// The value of `key` in Java properties text (`key=value` or `key: value` lines).
fn properties_value(text: &str, key: &str) -> Option<String> {
    text.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.starts_with('!')).find_map(|line| {
        let split = line.find(['=', ':'])?;
        (line[..split].trim() == key).then(|| line[split + 1..].trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_and_file_placeholders_resolve() {
        let dir = std::env::temp_dir().join(format!("connect-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("db.properties");
        std::fs::write(&file, "# secrets\nuser=app\npassword = s3cr3t\n").unwrap();
        let home = std::env::var("HOME").unwrap();
        let config = serde_json::json!({
            "home": "${env:HOME}/x",
            "password": format!("${{file:{}:password}}", file.display()),
            "plain": 3,
            "list": ["${env:HOME}", {"deep": "${env:HOME}"}],
        });
        let resolved = resolve(config.as_object().unwrap(), &AllowedPaths::any()).unwrap();
        assert_eq!(resolved["home"], format!("{home}/x"));
        assert_eq!(resolved["password"], "s3cr3t");
        assert_eq!(resolved["plain"], 3);
        assert_eq!(resolved["list"], serde_json::json!([home, {"deep": home}]));
        let missing = serde_json::json!({"password": "${env:CONNECT_NO_SUCH_VARIABLE}"});
        let errors = resolve(missing.as_object().unwrap(), &AllowedPaths::any()).unwrap_err();
        assert_eq!(errors.iter().next().unwrap().key, "password");
        let (_, secrets) = resolve_tracked(config.as_object().unwrap(), &AllowedPaths::any()).unwrap();
        let placeholder = format!("${{file:{}:password}}", file.display());
        assert_eq!(secrets.redact("cannot open /x/s3cr3t.txt"), format!("cannot open /x/{placeholder}.txt"));
        assert_eq!(secrets.redact_json(serde_json::json!(["a", {"b": "s3cr3t"}])), serde_json::json!(["a", {"b": placeholder}]));
        let elsewhere = AllowedPaths::under(&[std::env::temp_dir().join("connect-secrets-elsewhere")]);
        let _ = std::fs::create_dir_all(std::env::temp_dir().join("connect-secrets-elsewhere"));
        let elsewhere = elsewhere.or_else(|_| AllowedPaths::under(&[std::env::temp_dir().join("connect-secrets-elsewhere")])).unwrap();
        let outside = serde_json::json!({"password": format!("${{file:{}:password}}", file.display())});
        let error = resolve(outside.as_object().unwrap(), &elsewhere).unwrap_err().iter().next().unwrap().message.clone();
        assert!(error.contains("is outside the worker's allowed paths"), "{error}");
    }
}
