//! What a worker lets its users reach: the files connectors and `${file:...}` placeholders may
//! touch ([`AllowedPaths`], `--allowed-paths`, as Kafka's `allowed.paths` of its file config
//! provider) and the linked plugins it offers ([`PluginFilter`], `--plugins-allow` /
//! `--plugins-deny`).
//!
//! A path is made absolute (against the worker's directory), `.` and `..` are resolved, and
//! symbolic links of its existing part are followed, so neither `../` nor a link inside an
//! allowed directory leads out of it. The refusal never says whether the path exists.

use std::path::{Component, Path, PathBuf};

use connect_sdk::plugin::PluginDescriptor;
use connect_sdk::registry::Registry;

/// The directories paths must lie under; unrestricted when none were given.
#[derive(Clone, Debug, Default)]
pub struct AllowedPaths {
    /// Canonical directories; `None` allows every path.
    dirs: Option<Vec<PathBuf>>,
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
    /// Every path allowed.
    pub fn any() -> AllowedPaths {
        AllowedPaths { dirs: None }
    }

    /// Paths under these directories only; each must exist.
    pub fn under(dirs: &[PathBuf]) -> std::io::Result<AllowedPaths> {
        let dirs = dirs
            .iter()
            .map(|dir| dir.canonicalize().map_err(|e| std::io::Error::new(e.kind(), format!("allowed path {}: {e}", dir.display()))))
            .collect::<Result<_, _>>()?;
        Ok(AllowedPaths { dirs: Some(dirs) })
    }

    /// Whether every path is allowed.
    pub fn is_unrestricted(&self) -> bool {
        self.dirs.is_none()
    }

    /// Refuses `path` unless it lies under an allowed directory.
    ///
    /// ```
    /// use connect_runtime::AllowedPaths;
    ///
    /// let dir = std::env::temp_dir().join("allowed-paths-doc");
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let allowed = AllowedPaths::under(&[dir.clone()]).unwrap();
    /// assert!(allowed.check(&dir.join("in.txt").display().to_string()).is_ok());
    /// assert!(allowed.check(&dir.join("../out.txt").display().to_string()).is_err());
    /// assert!(allowed.check("/etc/passwd").is_err());
    /// ```
    pub fn check(&self, path: &str) -> Result<(), PathRefused> {
        let Some(dirs) = &self.dirs else { return Ok(()) };
        let resolved = resolve(Path::new(path));
        if resolved.is_some_and(|p| dirs.iter().any(|dir| p.starts_with(dir))) {
            return Ok(());
        }
        let allowed = dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(",");
        Err(PathRefused { path: path.to_owned(), allowed })
    }
}

/// `path` absolute, `.` and `..` resolved, and the links of its longest existing ancestor followed.
fn resolve(path: &Path) -> Option<PathBuf> {
    let mut lexical = PathBuf::new();
    for component in std::path::absolute(path).ok()?.components() {
        match component {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return Some(rest.iter().rev().fold(canonical, |p, c| p.join(c)));
        }
        rest.push(existing.file_name()?.to_owned());
        existing = existing.parent()?;
    }
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
        std::fs::create_dir_all(&inside).unwrap();
        let _ = std::fs::remove_file(inside.join("escape"));
        std::os::unix::fs::symlink("/etc", inside.join("escape")).unwrap();
        let allowed = AllowedPaths::under(std::slice::from_ref(&inside)).unwrap();
        let at = |p: &str| allowed.check(&inside.join(p).display().to_string());
        assert!(at("a.txt").is_ok());
        assert!(at("new/dir/b.txt").is_ok(), "a file not created yet");
        assert!(at("./x/../c.txt").is_ok());
        assert!(at("../outside.txt").is_err());
        assert!(at("escape/passwd").is_err(), "a link out of the directory");
        let refused = allowed.check("/etc/passwd").unwrap_err().to_string();
        assert!(refused.starts_with("/etc/passwd is outside the worker's allowed paths ("), "{refused}");
        assert!(AllowedPaths::any().check("/etc/passwd").is_ok());
        assert!(AllowedPaths::under(&[root.join("missing")]).is_err());
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn plugins_are_kept_by_name_alias_or_pattern() {
        let registry = Registry::new(connect_sdk::registry::Registry::global().plugins());
        let names = |filter: &PluginFilter| filter.apply(&registry).plugins().map(|p| p.name).collect::<Vec<_>>();
        let denied = PluginFilter::new(&[], &["file-*".into()]);
        assert!(!names(&denied).contains(&"file-source") && !names(&denied).contains(&"file-sink"));
        assert!(names(&denied).contains(&"datagen-source"));
        let only = PluginFilter::new(&["datagen-source".into(), "FileStreamSink".into()], &[]);
        assert_eq!(names(&only), ["datagen-source", "file-sink"], "an alias selects its plugin");
        assert!(PluginFilter::new(&[], &[]).is_empty());
    }
}
