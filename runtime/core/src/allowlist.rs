//! What a worker lets its users reach: the files connectors and `${file:...}` placeholders may
//! touch ([`AllowedPaths`], `--allowed-paths`, as Kafka's `allowed.paths` of its file config
//! provider) and the linked plugins it offers ([`PluginFilter`], `--plugins-allow` /
//! `--plugins-deny`).
//!
//! A path is resolved once ([`AllowedPaths::resolve`]): made absolute (against the worker's
//! directory), then its existing part canonicalised by the operating system, so `..` is
//! applied after the symbolic links before it are followed (`allowed/link/../x` is where the
//! kernel would open it, not where the text suggests), and the rest, which does not exist yet,
//! holds no link. What is checked is that resolved path, and it is the one handed to the
//! connector. The refusal never says whether the path exists.

use std::path::{Component, Path, PathBuf};

use connect_sdk::config::schema_info::KeyInfo;
use connect_sdk::config::{ConfigErrors, ConfigMap};
use connect_sdk::host::plugin::PluginDescriptor;
use connect_sdk::host::registry::Registry;
use serde_json::Value as Json;

/// The directories paths must lie under (unrestricted when none were given), less the
/// worker's own files.
#[derive(Clone, Debug, Default)]
pub struct AllowedPaths {
    /// Canonical directories; `None` allows every path.
    dirs: Option<Vec<PathBuf>>,
    /// Canonical paths never allowed, nor anything under them: the worker's own state.
    reserved: Vec<PathBuf>,
}

/// A path outside the allowed directories.
#[derive(Debug, thiserror::Error)]
#[error("{path} is outside the worker's allowed paths ({allowed})")]
pub struct PathRefused {
    /// The path as given.
    pub path: String,
    /// The allowed directories, comma-separated.
    pub allowed: String,
}

impl AllowedPaths {
    /// Every path allowed (but the worker's own files, see [`except`](Self::except)).
    pub fn any() -> AllowedPaths {
        AllowedPaths { dirs: None, reserved: Vec::new() }
    }

    /// No path allowed.
    pub fn none() -> AllowedPaths {
        AllowedPaths { dirs: Some(Vec::new()), reserved: Vec::new() }
    }

    /// Paths under these directories only; each must exist.
    pub fn under(dirs: &[PathBuf]) -> std::io::Result<AllowedPaths> {
        let dirs = dirs
            .iter()
            .map(|dir| dir.canonicalize().map_err(|e| std::io::Error::new(e.kind(), format!("allowed path {}: {e}", dir.display()))))
            .collect::<Result<_, _>>()?;
        Ok(AllowedPaths { dirs: Some(dirs), reserved: Vec::new() })
    }

    /// These paths (and what lies under them) refused even inside an allowed directory: the
    /// worker's state files in its data directory, which a file sink must not overwrite nor a
    /// file source read.
    pub fn except(mut self, reserved: &[PathBuf]) -> AllowedPaths {
        self.reserved.extend(reserved.iter().filter_map(|p| resolve(p).ok()));
        self
    }

    /// Whether every path is allowed.
    pub fn is_unrestricted(&self) -> bool {
        self.dirs.is_none() && self.reserved.is_empty()
    }

    /// The allowed directories, for messages.
    pub fn describe(&self) -> String {
        match &self.dirs {
            None => "any".to_owned(),
            Some(dirs) if dirs.is_empty() => "none".to_owned(),
            Some(dirs) => dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(","),
        }
    }

    /// `path` resolved (see the module documentation): the path to open, refused unless it
    /// lies under an allowed directory and outside the worker's own files.
    ///
    /// ```
    /// use connect_runtime::AllowedPaths;
    ///
    /// let dir = std::env::temp_dir().join("allowed-paths-doc");
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let allowed = AllowedPaths::under(&[dir.clone()]).unwrap();
    /// let opened = allowed.resolve(&dir.join("sub/../in.txt").display().to_string()).unwrap();
    /// assert_eq!(opened, dir.canonicalize().unwrap().join("in.txt"));
    /// assert!(allowed.resolve(&dir.join("../out.txt").display().to_string()).is_err());
    /// assert!(allowed.resolve("/etc/passwd").is_err());
    /// ```
    pub fn resolve(&self, path: &str) -> Result<PathBuf, PathRefused> {
        let refused = || PathRefused { path: path.to_owned(), allowed: self.describe() };
        if path.is_empty() || path.contains('\0') {
            return Err(refused());
        }
        let resolved = resolve(Path::new(path)).map_err(|()| refused())?;
        let inside = self.dirs.as_ref().is_none_or(|dirs| dirs.iter().any(|dir| resolved.starts_with(dir)));
        if !inside || self.reserved.iter().any(|r| resolved.starts_with(r)) {
            return Err(refused());
        }
        Ok(resolved)
    }

    /// Refuses `path` unless [`resolve`](Self::resolve) allows it.
    pub fn check(&self, path: &str) -> Result<(), PathRefused> {
        self.resolve(path).map(drop)
    }

    /// Resolves, in place, every path `config` gives a path key of `keys` (a string, a list,
    /// or for a list key a comma-separated string; a `file://` URL; not a value of one of the
    /// key's remote schemes), so the connector opens the paths that were checked. Each refusal
    /// is named by its key.
    pub fn resolve_config(&self, config: &mut ConfigMap, keys: &[KeyInfo]) -> ConfigErrors {
        let mut errors = ConfigErrors::new();
        for key in keys.iter().filter(|k| k.path) {
            let list = key.types.iter().any(|t| t == "array");
            for (name, value) in config.iter_mut().filter(|(name, _)| key.answers_to(name)) {
                let mut one = |text: &str| match self.resolve_local(text, &key.remote_schemes) {
                    Ok(resolved) => Some(resolved),
                    Err(refused) => {
                        errors.push(name.clone(), refused.to_string());
                        None
                    }
                };
                let resolved = match &*value {
                    Json::String(text) if list => text
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(&mut one)
                        .collect::<Option<Vec<_>>>()
                        .map(|p| Json::String(p.join(","))),
                    Json::String(text) => one(text).map(Json::String),
                    Json::Array(items) => items
                        .iter()
                        .map(|item| match item {
                            Json::String(text) => one(text).map(Json::String),
                            other => Some(other.clone()),
                        })
                        .collect::<Option<Vec<_>>>()
                        .map(Json::Array),
                    _ => None,
                };
                if let Some(resolved) = resolved {
                    *value = resolved;
                }
            }
        }
        errors
    }

    /// One value of a path key, resolved: a remote URL as it is, `file:///path` and a plain
    /// path resolved (in the form they came in).
    fn resolve_local(&self, text: &str, remote_schemes: &[String]) -> Result<String, PathRefused> {
        let scheme = text.split_once("://").map(|(scheme, _)| scheme);
        if scheme.is_some_and(|scheme| remote_schemes.iter().any(|r| r.eq_ignore_ascii_case(scheme))) {
            return Ok(text.to_owned());
        }
        let (prefix, path) = match text.strip_prefix("file://") {
            // `file:///path` or `file://localhost/path`: another host is no local path.
            Some(rest) => ("file://", rest.strip_prefix("localhost").unwrap_or(rest)),
            None => ("", text),
        };
        if !prefix.is_empty() && !path.starts_with('/') {
            return Err(PathRefused { path: text.to_owned(), allowed: self.describe() });
        }
        let resolved = self.resolve(path)?;
        match resolved.to_str() {
            Some(resolved) => Ok(format!("{prefix}{resolved}")),
            None => Err(PathRefused { path: text.to_owned(), allowed: self.describe() }),
        }
    }
}

/// `path` absolute, its longest existing ancestor canonicalised (links followed, `..` applied
/// by the operating system), the missing rest appended with `.` and `..` applied to it. A
/// component that exists as a link the system cannot follow (dangling, a loop) is refused: a
/// file created through it would land wherever it points.
fn resolve(path: &Path) -> Result<PathBuf, ()> {
    let absolute = std::path::absolute(path).map_err(drop)?;
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    let base = loop {
        match existing.canonicalize() {
            Ok(canonical) => break canonical,
            Err(_) if existing.symlink_metadata().is_ok() => return Err(()),
            Err(_) => {
                missing.push(existing.components().next_back().ok_or(())?);
                existing = existing.parent().ok_or(())?;
            }
        }
    };
    let mut resolved = base;
    for component in missing.into_iter().rev() {
        match component {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::CurDir => {}
            Component::Normal(name) => resolved.push(name),
            Component::RootDir | Component::Prefix(_) => return Err(()),
        }
    }
    Ok(resolved)
}

/// The linked plugins a worker offers: those matching an `allow` pattern (all when there is
/// none) and no `deny` pattern. A pattern is a plugin name or alias, `*` matching any run of
/// characters (`file-*`, `*Converter`). A plugin left out is unknown to the worker: listings
/// do not show it and configs naming it are refused as naming an unknown plugin.
#[derive(Clone, Debug, Default)]
pub struct PluginFilter {
    allow: Vec<regex::Regex>,
    deny: Vec<regex::Regex>,
}

impl PluginFilter {
    /// A filter of these patterns.
    pub fn new(allow: &[String], deny: &[String]) -> PluginFilter {
        let compile = |patterns: &[String]| -> Vec<regex::Regex> {
            patterns
                .iter()
                .map(|p| p.trim())
                .filter(|p| !p.is_empty())
                .filter_map(|p| regex::Regex::new(&format!("^{}$", p.split('*').map(regex::escape).collect::<Vec<_>>().join(".*"))).ok())
                .collect()
        };
        PluginFilter { allow: compile(allow), deny: compile(deny) }
    }

    /// Whether the filter keeps every plugin.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Whether `plugin` is offered.
    pub fn allows(&self, plugin: &PluginDescriptor) -> bool {
        let names = || std::iter::once(plugin.name).chain(plugin.aliases.iter().copied());
        let matches = |patterns: &[regex::Regex]| patterns.iter().any(|p| names().any(|n| p.is_match(n)));
        (self.allow.is_empty() || matches(&self.allow)) && !matches(&self.deny)
    }

    /// A registry of the plugins of `registry` this filter offers.
    pub fn apply(&self, registry: &Registry) -> Registry {
        Registry::new(registry.plugins().filter(|p| self.allows(p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // Linked for their plugins.
    use connect_datagen as _;
    use connect_file as _;

    #[test]
    fn links_and_dot_dots_do_not_lead_out() {
        let root = std::env::temp_dir().join(format!("connect-allowed-{}", std::process::id()));
        let inside = root.join("inside");
        std::fs::create_dir_all(inside.join("state")).unwrap();
        for (link, target) in [("escape", Path::new("/etc")), ("dangling", &root.join("nowhere/x")), ("loop", &inside.join("loop"))] {
            let _ = std::fs::remove_file(inside.join(link));
            std::os::unix::fs::symlink(target, inside.join(link)).unwrap();
        }
        let allowed = AllowedPaths::under(std::slice::from_ref(&inside)).unwrap().except(&[inside.join("state")]);
        let canonical = inside.canonicalize().unwrap();
        let at = |p: &str| allowed.resolve(&inside.join(p).display().to_string());
        assert_eq!(at("a.txt").unwrap(), canonical.join("a.txt"));
        assert_eq!(at("new/dir/b.txt").unwrap(), canonical.join("new/dir/b.txt"), "a file not created yet");
        assert_eq!(at("./x/../c.txt").unwrap(), canonical.join("c.txt"));
        assert_eq!(at("new/../../inside/d.txt").unwrap(), canonical.join("d.txt"));
        assert!(at("../outside.txt").is_err());
        assert!(at("new/../../outside.txt").is_err());
        assert!(at("escape/passwd").is_err(), "a link out of the directory");
        assert!(at("escape/../etc/passwd").is_err(), "`..` after a link is applied where the link leads");
        assert!(at("escape/../inside/a.txt").is_err());
        assert!(at("dangling").is_err(), "a file created through a dangling link would land outside");
        assert!(at("loop/x").is_err());
        assert!(at("state").is_err() && at("state/offsets.json").is_err() && at("state/../a.txt").is_ok(), "the worker's own files");
        let refused = allowed.check("/etc/passwd").unwrap_err().to_string();
        assert!(refused.starts_with("/etc/passwd is outside the worker's allowed paths ("), "{refused}");
        assert!(AllowedPaths::any().check("/etc/passwd").is_ok());
        assert!(AllowedPaths::none().check(&inside.join("a.txt").display().to_string()).is_err());
        assert!(AllowedPaths::any().check("a\0b").is_err() && AllowedPaths::any().check("").is_err());
        assert!(AllowedPaths::under(&[root.join("missing")]).is_err());
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn plugins_are_kept_by_name_alias_or_pattern() {
        let registry = Registry::new(connect_sdk::host::registry::Registry::global().plugins());
        let names = |filter: &PluginFilter| filter.apply(&registry).plugins().map(|p| p.name).collect::<Vec<_>>();
        let denied = PluginFilter::new(&[], &["file-*".into()]);
        assert!(!names(&denied).contains(&"file-source") && !names(&denied).contains(&"file-sink"));
        assert!(names(&denied).contains(&"datagen-source"));
        let only = PluginFilter::new(&["datagen-source".into(), "FileStreamSink".into()], &[]);
        assert_eq!(names(&only), ["datagen-source", "file-sink"], "an alias selects its plugin");
        assert!(PluginFilter::new(&[], &[]).is_empty());
    }
}
