//! The plugin commands of `ctl`: the catalogue, one plugin's keys, and config validation with
//! suggestions for misspelt keys.

use std::path::Path;

use reqwest::Method;
use serde_json::{Value as Json, json};

use super::Ctl;
use super::client::{CtlError, segment};
use super::output::{first_line, plain, table};
use super::specs;

/// `plugins`: every plugin the worker offers.
pub(super) async fn list(ctl: &Ctl) -> Result<(), CtlError> {
    let plugins = ctl.client.get("/connector-plugins?connectorsOnly=false").await?;
    let rows: Vec<Vec<String>> =
        plugins.as_array().into_iter().flatten().map(|p| vec![plain(&p["class"]), plain(&p["type"]), plain(&p["version"])]).collect();
    ctl.print(&plugins, || table(&["CLASS", "TYPE", "VERSION"], &rows));
    Ok(())
}

/// `plugins NAME`: its keys with types, defaults and docs.
pub(super) async fn keys(ctl: &Ctl, name: &str) -> Result<(), CtlError> {
    let keys = ctl.client.get(&format!("/connector-plugins/{}/config", segment(name))).await?;
    let rows: Vec<Vec<String>> = keys
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            let required = if k["required"].as_bool() == Some(true) { "yes" } else { "" };
            vec![
                plain(&k["name"]),
                plain(&k["type"]),
                required.to_owned(),
                plain(&k["default_value"]),
                first_line(&plain(&k["documentation"])),
            ]
        })
        .collect();
    ctl.print(&keys, || table(&["KEY", "TYPE", "REQUIRED", "DEFAULT", "DOC"], &rows));
    Ok(())
}

/// `validate -f FILE`: the worker's verdict per key; keys the plugin does not know are named
/// with the known key they are closest to. Fails (exit 1) when the worker found errors.
pub(super) async fn validate(ctl: &Ctl, file: &Path) -> Result<(), CtlError> {
    let mut found = specs::read(file)?;
    let (Some(spec), true) = (found.pop(), found.is_empty()) else {
        return Err(CtlError::Input(format!("{}: validate takes one connector file", file.display())));
    };
    let Some(class) = spec.config.get("connector.class").and_then(Json::as_str).map(str::to_owned) else {
        return Err(CtlError::Input(format!("{}: the config has no \"connector.class\"", file.display())));
    };
    let path = format!("/connector-plugins/{}/config/validate", segment(&class));
    let verdict = ctl.client.call(Method::PUT, &path, Some(&Json::Object(spec.config.clone()))).await?;
    let configs = verdict["configs"].as_array().map(Vec::as_slice).unwrap_or_default();
    let known: Vec<&str> = configs.iter().filter_map(|c| c["definition"]["name"].as_str()).collect();
    let mut problems = Vec::new();
    for config in configs {
        let key = config["value"]["name"].as_str().or(config["definition"]["name"].as_str()).unwrap_or_default();
        for error in config["value"]["errors"].as_array().into_iter().flatten() {
            // A required key that is missing while a misspelling of it is set.
            let hint = (!spec.config.contains_key(key)).then(|| given_like(&spec.config, key)).flatten();
            let hint = hint.map(|given| format!("you set \"{given}\": did you mean \"{key}\"?"));
            problems.push(json!({"key": key, "error": plain(error), "suggestion": hint}));
        }
    }
    for given in spec.config.keys().filter(|k| !known.contains(&k.as_str()) && !is_open_ended(k)) {
        if let Some(meant) = closest(given, &known) {
            problems.push(json!({"key": given, "warning": "the plugin has no such key",
                                  "suggestion": format!("did you mean \"{meant}\"?")}));
        }
    }
    let errors = verdict["error_count"].as_u64().unwrap_or(0);
    let document = json!({"name": spec.name, "class": class, "error_count": errors, "problems": problems});
    ctl.print(&document, || {
        let rows: Vec<Vec<String>> = problems
            .iter()
            .map(|p| {
                let what = p["error"].as_str().map_or_else(|| format!("warning: {}", plain(&p["warning"])), str::to_owned);
                vec![plain(&p["key"]), what, plain(&p["suggestion"])]
            })
            .collect();
        match rows.is_empty() {
            true => format!("{} is valid for {class}\n", spec.name),
            false => table(&["KEY", "PROBLEM", "SUGGESTION"], &rows),
        }
    });
    match errors {
        0 => Ok(()),
        n => Err(CtlError::Invalid(format!("{}: {n} invalid key(s)", file.display()))),
    }
}

/// Keys whose names are chosen by the user (`transforms.<alias>.*`, ...), never misspellings.
fn is_open_ended(key: &str) -> bool {
    ["transforms.", "predicates.", "name"].iter().any(|prefix| key.starts_with(prefix)) || key.contains(".override.")
}

/// The known key closest to `given`, when one is close (a typo, not another key).
fn closest<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|key| (strsim::osa_distance(given, key), *key))
        .filter(|(distance, key)| *distance > 0 && *distance <= (key.len() / 4).clamp(1, 3))
        .min()
        .map(|(_, key)| key)
}

/// A key of `config` that looks like a misspelling of `wanted`.
fn given_like(config: &serde_json::Map<String, Json>, wanted: &str) -> Option<String> {
    config.keys().find(|given| closest(given, &[wanted]).is_some()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key_and_other_keys_do_not() {
        let known = ["topic", "records.per.second", "tasks.max"];
        assert_eq!(closest("topci", &known), Some("topic"));
        assert_eq!(closest("records.per.secnd", &known), Some("records.per.second"));
        assert_eq!(closest("file", &known), None);
        assert!(is_open_ended("transforms.route.type"));
    }
}
