//! Config placeholders: `${env:NAME}` and `${file:/path/to/file.properties:key}` are resolved
//! only when a connector or task starts, and only by the providers the worker enables
//! ([`ConfigProviders`], `--config-providers env,file`; none by default, since whoever may
//! create a connector could otherwise send the worker's environment or files wherever a
//! connector writes). Stored configs, REST answers and logs keep the placeholder, never the
//! secret. A `${file:...}` path must lie under the worker's allowed paths (`--allowed-paths`).
//!
//! What a secret resolved to is masked by where it came from ([`Secrets`]), in every form text
//! can carry it: as it is, JSON- or Rust-escaped (any depth), percent-encoded (either case of
//! hex, `+` for a space, `\` turned into `/` as URL parsers do), or `\u`-escaped. The log is
//! masked too ([`mask_log`]): every secret this process resolved is put back to its
//! placeholder in every line, the dependencies' lines included.

use std::borrow::Cow;
use std::sync::{LazyLock, PoisonError, RwLock};

use connect_sdk::config::{ConfigErrors, ConfigMap};
use regex::Regex;
use serde_json::Value as Json;

use crate::allowlist::{AllowedPaths, PathRefused};

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\$\{(env|file):([^}]*)\}").expect("a valid pattern"));

/// The placeholder providers a worker resolves (Kafka's `config.providers`); none by default.
///
/// ```
/// use connect_runtime::ConfigProviders;
///
/// let providers = ConfigProviders::parse(&["env".to_owned(), "file".to_owned()]).unwrap();
/// assert_eq!(providers, ConfigProviders::none().with_env().with_file());
/// assert!(ConfigProviders::parse(&["vault".to_owned()]).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfigProviders {
    env: bool,
    file: bool,
}

/// A provider name `--config-providers` does not know.
#[derive(Debug, thiserror::Error)]
#[error("config provider {0:?} is unknown: use env, file or both (env,file)")]
pub struct UnknownProvider(String);

impl ConfigProviders {
    /// No placeholder is resolved: a config holding one is refused, naming its key.
    pub fn none() -> ConfigProviders {
        ConfigProviders::default()
    }

    /// `${env:NAME}` resolved too.
    pub fn with_env(mut self) -> ConfigProviders {
        self.env = true;
        self
    }

    /// `${file:path:key}` resolved too (under the allowed paths).
    pub fn with_file(mut self) -> ConfigProviders {
        self.file = true;
        self
    }

    /// Providers by name (`env`, `file`).
    pub fn parse(names: &[String]) -> Result<ConfigProviders, UnknownProvider> {
        names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).try_fold(ConfigProviders::none(), |providers, name| match name {
            "env" => Ok(providers.with_env()),
            "file" => Ok(providers.with_file()),
            other => Err(UnknownProvider(other.to_owned())),
        })
    }

    fn enabled(&self, provider: &str) -> bool {
        match provider {
            "env" => self.env,
            _ => self.file,
        }
    }
}

/// Where placeholders are resolved from: the enabled providers, and the files `${file:}` may read.
#[derive(Clone, Debug, Default)]
pub struct Placeholders {
    /// The providers resolved.
    pub providers: ConfigProviders,
    /// The files `${file:...}` may name.
    pub allowed: AllowedPaths,
}

/// A copy of `config` with every placeholder replaced, in strings at any depth (a task
/// config may hold one in a list); each failure names its key.
pub fn resolve(config: &ConfigMap, from: &Placeholders) -> Result<ConfigMap, ConfigErrors> {
    resolve_tracked(config, from).map(|(resolved, _)| resolved)
}

/// The values placeholders were resolved to, each with its placeholder: whatever text a
/// resolved config leads to (an error, a trace, a task config a connector derived, an offset)
/// is shown with the placeholders put back wherever a secret appears in it, in any of the
/// forms the module documentation lists. Its `Debug` shows placeholders only.
#[derive(Clone, Default)]
pub struct Secrets {
    /// Longest values first.
    masks: Vec<Mask>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.masks.iter().map(|m| &m.placeholder)).finish()
    }
}

/// One secret: its value, the pattern of its forms, its placeholder.
#[derive(Clone)]
struct Mask {
    value: String,
    forms: Regex,
    placeholder: String,
}

/// Secrets shorter than this are put back only where a whole string equals them: replacing
/// every `a` of a trace would hide the trace, not the secret.
const MIN_MASKED_LEN: usize = 4;

/// Secrets longer than this are masked in fewer forms (see [`forms_of`]).
const MAX_PATTERNED_LEN: usize = 512;

impl Mask {
    fn new(value: String, placeholder: String) -> Mask {
        Mask { forms: forms_of(&value), value, placeholder }
    }
}

/// The pattern of every form of `secret` (see the module documentation): each character as
/// itself, escaped by any number of backslashes, percent-encoded (either case), `\u`-escaped,
/// and a space as `+`, a backslash as `/`.
fn forms_of(secret: &str) -> Regex {
    if secret.len() > MAX_PATTERNED_LEN {
        // A key file or certificate: masked as it is and JSON-escaped, not character by character.
        let quoted = serde_json::to_string(secret).unwrap_or_default();
        let escaped = quoted.trim_matches('"');
        return Regex::new(&format!("{}|{}", regex::escape(secret), regex::escape(escaped))).expect("escaped patterns");
    }
    let mut pattern = String::from("(?:");
    for c in secret.chars() {
        let mut forms = vec![regex::escape(c.encode_utf8(&mut [0; 4]))];
        let mut utf8 = [0; 4];
        let bytes = c.encode_utf8(&mut utf8).as_bytes();
        forms.push(format!("(?i:{})", bytes.iter().map(|b| format!("%{b:02x}")).collect::<String>()));
        // JSON's and Rust's escapes, repeated once per level of quoting.
        let mut units = [0; 2];
        let escaped_units: String = c.encode_utf16(&mut units).iter().map(|u| format!(r"\\+u{u:04x}")).collect();
        forms.push(format!("(?i:{escaped_units})"));
        forms.push(format!(r"(?i:\\+u\{{{:x}\}})", c as u32));
        if !c.is_ascii() {
            // Its UTF-8 bytes read as Latin-1 (`ü` shown as `Ã¼`).
            forms.push(regex::escape(&bytes.iter().map(|&b| char::from(b)).collect::<String>()));
        }
        match c {
            '"' | '\'' | '/' => forms.push(format!(r"\\+{}", regex::escape(&c.to_string()))),
            '\\' => forms.extend([r"\\+".to_owned(), "/".to_owned()]),
            ' ' => forms.push(r"\+".to_owned()),
            '\n' => forms.push(r"\\+n".to_owned()),
            '\r' => forms.push(r"\\+r".to_owned()),
            '\t' => forms.push(r"\\+t".to_owned()),
            _ => {}
        }
        pattern.push_str(&format!("(?:{})", forms.join("|")));
    }
    pattern.push(')');
    for core in base64_cores(secret.as_bytes()) {
        pattern.push('|');
        pattern.push_str(&regex::escape(&core));
    }
    Regex::new(&pattern).unwrap_or_else(|_| Regex::new(&regex::escape(secret)).expect("an escaped pattern"))
}

/// The parts of `secret`'s base64 encodings (standard and URL-safe) that depend on its bytes
/// only, for each of the three ways it can align with base64's groups of three bytes: inside
/// `Basic dXNlcjpzZWNyZXQ=` (`user:secret`), the secret's part is there whatever the user.
fn base64_cores(secret: &[u8]) -> Vec<String> {
    use base64::Engine;
    let mut cores = Vec::new();
    for offset in 0..3 {
        let mut aligned = vec![0u8; offset];
        aligned.extend_from_slice(secret);
        // The first group mixes in what comes before (when offset > 0), the last partial
        // group what comes after.
        let (start, end) = (if offset == 0 { 0 } else { 4 }, aligned.len() / 3 * 4);
        if end < start + 8 {
            continue;
        }
        for engine in [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD] {
            cores.push(engine.encode(&aligned)[start..end].to_owned());
        }
    }
    cores
}

impl Secrets {
    /// `text` with every resolved secret replaced by its placeholder.
    pub fn redact(&self, text: &str) -> String {
        let mut text = Cow::Borrowed(text);
        for mask in &self.masks {
            if *text == mask.value {
                return mask.placeholder.clone();
            }
            if mask.value.chars().count() >= MIN_MASKED_LEN
                && let Cow::Owned(replaced) = mask.forms.replace_all(&text, regex::NoExpand(&mask.placeholder))
            {
                text = Cow::Owned(replaced);
            }
        }
        text.into_owned()
    }

    /// `value` with every string in it redacted, at any depth (object keys too).
    pub fn redact_json(&self, value: Json) -> Json {
        if self.masks.is_empty() {
            return value;
        }
        match value {
            Json::String(text) => Json::String(self.redact(&text)),
            Json::Array(items) => Json::Array(items.into_iter().map(|v| self.redact_json(v)).collect()),
            Json::Object(map) => Json::Object(map.into_iter().map(|(k, v)| (self.redact(&k), self.redact_json(v))).collect()),
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

    /// The message of an error found in the resolved value of `key`: withheld when `raw` (the
    /// config as written) gives the key a placeholder, since a message may quote any part of
    /// the value (one character of it, say) where no mask can recognise the secret; redacted
    /// otherwise.
    pub fn redact_error(&self, key: &str, message: &str, raw: &ConfigMap) -> String {
        match raw.get(key).map(|value| value.to_string()) {
            Some(text) if PLACEHOLDER.is_match(&text) => format!(
                "the value {} resolved to is invalid; why is not shown, as it could show the secret (check the value the placeholder names)",
                self.redact(raw.get(key).and_then(Json::as_str).unwrap_or("of this key"))
            ),
            _ => self.redact(message),
        }
    }

    /// [`redact_error`](Self::redact_error) for every error of `errors`.
    pub fn redact_errors_of(&self, errors: ConfigErrors, raw: &ConfigMap) -> ConfigErrors {
        let mut redacted = ConfigErrors::new();
        for error in errors {
            let message = self.redact_error(&error.key, &error.message, raw);
            redacted.push(error.key, message);
        }
        redacted
    }

    /// These and `other`'s secrets.
    pub(crate) fn extend(&mut self, other: Secrets) {
        for mask in other.masks {
            self.add(mask.value, mask.placeholder);
        }
    }

    fn add(&mut self, value: String, placeholder: String) {
        if !self.masks.iter().any(|m| m.value == value && m.placeholder == placeholder) {
            self.masks.push(Mask::new(value, placeholder));
            self.masks.sort_by(|a, b| b.value.len().cmp(&a.value.len()).then_with(|| a.value.cmp(&b.value)));
        }
    }
}

/// Every secret this process resolved, masked in its log lines.
static LOGGED: LazyLock<RwLock<Secrets>> = LazyLock::new(Default::default);

/// The most secrets the log masks; past it the oldest are dropped (a config can resolve many).
const MAX_LOGGED: usize = 4096;

/// `line` with every secret this process resolved put back to its placeholder (see the module
/// documentation); the log writer passes every line through it.
pub fn mask_log(line: &str) -> Cow<'_, str> {
    let logged = LOGGED.read().unwrap_or_else(PoisonError::into_inner);
    if logged.masks.is_empty() {
        return Cow::Borrowed(line);
    }
    match logged.redact(line) {
        masked if masked == line => Cow::Borrowed(line),
        masked => Cow::Owned(masked),
    }
}

fn remember_for_log(secrets: &Secrets) {
    if secrets.masks.is_empty() {
        return;
    }
    let mut logged = LOGGED.write().unwrap_or_else(PoisonError::into_inner);
    for mask in &secrets.masks {
        if !logged.masks.iter().any(|m| m.value == mask.value) {
            if logged.masks.len() >= MAX_LOGGED {
                logged.masks.pop();
            }
            logged.masks.push(mask.clone());
        }
    }
    logged.masks.sort_by(|a, b| b.value.len().cmp(&a.value.len()).then_with(|| a.value.cmp(&b.value)));
}

/// [`resolve`], also returning what each placeholder resolved to.
pub fn resolve_tracked(config: &ConfigMap, from: &Placeholders) -> Result<(ConfigMap, Secrets), ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let mut resolved = ConfigMap::new();
    let mut secrets = Secrets::default();
    for (key, value) in config {
        match resolve_value(value, from, &mut secrets) {
            Ok(value) => {
                resolved.insert(key.clone(), value);
            }
            Err(error) => errors.push(key.clone(), error.to_string()),
        }
    }
    remember_for_log(&secrets);
    errors.into_result((resolved, secrets))
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
    /// The worker does not resolve this provider's placeholders.
    #[error("${{{0}:...}} placeholders are off on this worker: start it with --config-providers {0}")]
    ProviderOff(String),
    /// The file has no such key.
    #[error("{path} has no key {key}")]
    NoKey {
        /// The file.
        path: String,
        /// The key.
        key: String,
    },
}

fn resolve_value(value: &Json, from: &Placeholders, secrets: &mut Secrets) -> Result<Json, SecretError> {
    match value {
        Json::String(text) => {
            let mut failure = None;
            let replaced = PLACEHOLDER.replace_all(text, |caps: &regex::Captures<'_>| match lookup(&caps[1], &caps[2], from) {
                Ok(secret) => {
                    if !secret.is_empty() {
                        secrets.add(secret.clone(), caps[0].to_owned());
                    }
                    secret
                }
                Err(error) => {
                    failure.get_or_insert(error);
                    String::new()
                }
            });
            failure.map_or_else(|| Ok(Json::String(replaced.into_owned())), Err)
        }
        Json::Array(items) => items.iter().map(|v| resolve_value(v, from, secrets)).collect::<Result<_, _>>().map(Json::Array),
        Json::Object(map) => {
            map.iter().map(|(k, v)| resolve_value(v, from, secrets).map(|v| (k.clone(), v))).collect::<Result<_, _>>().map(Json::Object)
        }
        other => Ok(other.clone()),
    }
}

fn lookup(provider: &str, reference: &str, from: &Placeholders) -> Result<String, SecretError> {
    if !from.providers.enabled(provider) {
        return Err(SecretError::ProviderOff(provider.to_owned()));
    }
    match provider {
        "env" => std::env::var(reference).map_err(|_| SecretError::EnvNotSet(reference.to_owned())),
        _ => {
            let (path, key) = reference.rsplit_once(':').ok_or_else(|| SecretError::BadFileReference(reference.to_owned()))?;
            // The resolved path is the one read: `..` after a link cannot lead out.
            let resolved = from.allowed.resolve(path)?;
            let text = std::fs::read_to_string(&resolved).map_err(|source| SecretError::Unreadable { path: path.to_owned(), source })?;
            properties_value(&text, key).ok_or_else(|| SecretError::NoKey { path: path.to_owned(), key: key.to_owned() })
        }
    }
}

/// The value of `key` in Java properties text (`key=value` or `key: value` lines).
fn properties_value(text: &str, key: &str) -> Option<String> {
    text.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.starts_with('!')).find_map(|line| {
        let split = line.find(['=', ':'])?;
        (line[..split].trim() == key).then(|| unescape(line[split + 1..].trim()))
    })
}

/// A properties value with Java's escapes read (`\\`, `\t`, `\n`, `\r`, `\f`, `\uXXXX`; any
/// other escaped character is itself).
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) if hex.len() == 4 => out.push(decoded),
                    _ => out.push_str(&format!("\\u{hex}")),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Placeholders {
        Placeholders { providers: ConfigProviders::none().with_env().with_file(), allowed: AllowedPaths::any() }
    }

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
        let resolved = resolve(config.as_object().unwrap(), &all()).unwrap();
        assert_eq!(resolved["home"], format!("{home}/x"));
        assert_eq!(resolved["password"], "s3cr3t");
        assert_eq!(resolved["plain"], 3);
        assert_eq!(resolved["list"], serde_json::json!([home, {"deep": home}]));
        let missing = serde_json::json!({"password": "${env:CONNECT_NO_SUCH_VARIABLE}"});
        let errors = resolve(missing.as_object().unwrap(), &all()).unwrap_err();
        assert_eq!(errors.iter().next().unwrap().key, "password");
        let (_, secrets) = resolve_tracked(config.as_object().unwrap(), &all()).unwrap();
        let placeholder = format!("${{file:{}:password}}", file.display());
        assert_eq!(secrets.redact("cannot open /x/s3cr3t.txt"), format!("cannot open /x/{placeholder}.txt"));
        assert_eq!(secrets.redact_json(serde_json::json!(["a", {"b": "s3cr3t"}])), serde_json::json!(["a", {"b": placeholder}]));
        assert!(!format!("{secrets:?}").contains("s3cr3t"), "Debug shows placeholders only");
        let elsewhere = std::env::temp_dir().join(format!("connect-secrets-elsewhere-{}", std::process::id()));
        std::fs::create_dir_all(&elsewhere).unwrap();
        let confined = Placeholders { allowed: AllowedPaths::under(&[elsewhere]).unwrap(), ..all() };
        let outside = serde_json::json!({"password": format!("${{file:{}:password}}", file.display())});
        let error = resolve(outside.as_object().unwrap(), &confined).unwrap_err().iter().next().unwrap().message.clone();
        assert!(error.contains("is outside the worker's allowed paths"), "{error}");
    }

    #[test]
    fn properties_values_read_java_escapes() {
        let text = "a = x\\\\y\\tz\nb: \\u00fcber\\:c\n# c = no\n";
        assert_eq!(properties_value(text, "a").as_deref(), Some("x\\y\tz"));
        assert_eq!(properties_value(text, "b").as_deref(), Some("über:c"));
        assert_eq!(properties_value(text, "c"), None);
    }

    #[test]
    fn providers_are_off_unless_enabled() {
        let config = serde_json::json!({"a": "${env:HOME}", "b": "${file:/etc/hostname:x}", "c": "plain"});
        let errors = resolve(config.as_object().unwrap(), &Placeholders::default()).unwrap_err();
        let messages: Vec<(String, String)> = errors.into_iter().map(|e| (e.key, e.message)).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].0 == "a" && messages[0].1.contains("start it with --config-providers env"), "{messages:?}");
        assert!(messages[1].0 == "b" && messages[1].1.contains("--config-providers file"), "{messages:?}");
        let env_only = Placeholders { providers: ConfigProviders::none().with_env(), allowed: AllowedPaths::any() };
        assert!(resolve(serde_json::json!({"a": "${env:HOME}"}).as_object().unwrap(), &env_only).is_ok());
    }

    #[test]
    fn a_secret_is_masked_in_every_form_text_carries_it() {
        let mut secrets = Secrets::default();
        let secret = "Tr1cky\"Sec\\ret/ü-Z9 +x";
        secrets.add(secret.to_owned(), "${env:TOKEN}".to_owned());
        // A quoted form without its quotes.
        let inner = |quoted: String| quoted[1..quoted.len() - 1].to_owned();
        let json = inner(serde_json::to_string(secret).unwrap());
        let debug = inner(format!("{secret:?}"));
        let forms = [
            secret.to_owned(),
            json.clone(),
            debug.clone(),
            inner(format!("{debug:?}")),
            inner(serde_json::to_string(&json).unwrap()),
            "Tr1cky%22Sec/ret/%C3%BC-Z9%20%2Bx".to_owned(),
            "Tr1cky%22Sec%5cret%2f%c3%bc-Z9+%2Bx".to_owned(),
            form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string(),
            "Tr1cky\\u0022Sec\\\\ret\\/\\u00fc-Z9 +x".to_owned(),
            secret.escape_default().to_string(),
            "Tr1cky\"Sec\\ret/Ã¼-Z9 +x".to_owned(),
        ];
        for form in forms {
            let text = format!("error near [{form}] here");
            assert_eq!(secrets.redact(&text), "error near [${env:TOKEN}] here", "form {form}");
        }
        assert_eq!(secrets.redact("nothing to see"), "nothing to see");
        // Base64, after a prefix of any length: `Authorization: Basic base64(user:secret)`.
        use base64::Engine;
        for user in ["u", "us", "use"] {
            let header = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
            assert!(secrets.redact(&header).contains("${env:TOKEN}"), "Basic {header} after {user:?}");
        }
        let mut short = Secrets::default();
        short.add("ab".to_owned(), "${env:X}".to_owned());
        assert_eq!(short.redact("ab"), "${env:X}");
        assert_eq!(short.redact("a cab"), "a cab", "short secrets are masked whole only");
    }

    #[test]
    fn the_log_masks_what_this_process_resolved() {
        let config = serde_json::json!({"token": format!("${{file:{}:k}}", {
            let file = std::env::temp_dir().join(format!("connect-log-secret-{}.properties", std::process::id()));
            std::fs::write(&file, "k=plain-secret-value-42\n").unwrap();
            file.display().to_string()
        })});
        resolve(config.as_object().unwrap(), &all()).unwrap();
        let line = "WARN rocketmq_client_rust: get Topic [tp-plain-secret-value-42] route failed";
        let masked = mask_log(line);
        assert!(!masked.contains("plain-secret-value-42") && masked.contains("${file:"), "{masked}");
        assert!(matches!(mask_log("an ordinary line"), Cow::Borrowed(_)));
    }
}
