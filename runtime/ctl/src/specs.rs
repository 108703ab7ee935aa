//! Connector files for `create`, `apply` and `validate`: JSON or YAML, either
//! `{"name": ..., "config": {...}}` (what `POST /connectors` takes) or a flat config holding
//! `name`; and the difference between a config and the one a worker runs.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use super::client::CtlError;
use super::output::plain;

/// A connector as a file describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Its name.
    pub name: String,
    /// Its config, `name` included (as the worker stores it).
    pub config: Map<String, Json>,
    /// The file it came from.
    pub file: PathBuf,
}

/// The specs in `path`: the file, or every `.json`, `.yaml` and `.yml` file of the directory
/// in name order.
pub fn read(path: &Path) -> Result<Vec<Spec>, CtlError> {
    if !path.is_dir() {
        return Ok(vec![read_file(path)?]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| CtlError::Input(format!("{}: {e}", path.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|file| file.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "json" | "yaml" | "yml")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CtlError::Input(format!("{}: no .json, .yaml or .yml files", path.display())));
    }
    files.iter().map(|file| read_file(file)).collect()
}

fn read_file(file: &Path) -> Result<Spec, CtlError> {
    let bad = |why: String| CtlError::Input(format!("{}: {why}", file.display()));
    let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    let yaml = file.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml"));
    let document: Json = if yaml {
        serde_yaml_ng::from_str(&text).map_err(|e| bad(format!("not YAML: {e}")))?
    } else {
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?
    };
    let Json::Object(mut document) = document else { return Err(bad("a connector file holds an object".into())) };
    let mut config = match document.remove("config") {
        Some(Json::Object(config)) => config,
        Some(_) => return Err(bad("\"config\" must be an object of keys".into())),
        None => document.clone(),
    };
    let name = document.get("name").or_else(|| config.get("name")).and_then(Json::as_str).map(str::to_owned);
    let Some(name) = name.filter(|n| !n.is_empty()) else { return Err(bad("the connector has no \"name\"".into())) };
    config.insert("name".into(), Json::String(name.clone()));
    Ok(Spec { name, config, file: file.to_owned() })
}

/// One key's change from the running config to the file's.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Only in the file.
    Added(String, String),
    /// Only in the running config.
    Removed(String, String),
    /// In both, with other values.
    Changed(String, String, String),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(key, value) => write!(f, "+ {key} = {value}"),
            Change::Removed(key, value) => write!(f, "- {key} = {value}"),
            Change::Changed(key, from, to) => write!(f, "~ {key}: {from} -> {to}"),
        }
    }
}

/// What changes from `running` to `wanted`, key by key in key order; values compare as text
/// (Kafka Connect keeps every value as a string).
pub fn diff(running: &Map<String, Json>, wanted: &Map<String, Json>) -> Vec<Change> {
    let mut keys: Vec<&String> = running.keys().chain(wanted.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| match (running.get(key).map(plain), wanted.get(key).map(plain)) {
            (None, Some(to)) => Some(Change::Added(key.clone(), to)),
            (Some(from), None) => Some(Change::Removed(key.clone(), from)),
            (Some(from), Some(to)) if from != to => Some(Change::Changed(key.clone(), from, to)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Json) -> Map<String, Json> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn files_in_both_shapes_and_formats_read_with_their_name() {
        let dir = std::env::temp_dir().join(format!("connect-ctl-specs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.json"), r#"{"name": "a", "config": {"connector.class": "datagen-source"}}"#).unwrap();
        std::fs::write(dir.join("b.yaml"), "name: b\nconnector.class: file-sink\ntopics: t\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let specs = read(&dir).unwrap();
        assert_eq!(specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(specs[0].config, object(json!({"connector.class": "datagen-source", "name": "a"})));
        assert_eq!(specs[1].config["topics"], "t");
        std::fs::write(dir.join("c.json"), r#"{"config": {}}"#).unwrap();
        let refused = read(&dir.join("c.json")).unwrap_err();
        assert!(refused.to_string().contains("no \"name\""), "{refused}");
        assert_eq!(refused.exit_code(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn diffs_compare_values_as_text() {
        let running = object(json!({"name": "a", "tasks.max": "1", "topic": "old", "gone": "x"}));
        let wanted = object(json!({"name": "a", "tasks.max": 1, "topic": "new", "added": true}));
        let changes: Vec<String> = diff(&running, &wanted).iter().map(ToString::to_string).collect();
        assert_eq!(changes, ["+ added = true", "- gone = x", "~ topic: old -> new"]);
    }
}
