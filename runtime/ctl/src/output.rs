//! How `ctl` prints: aligned tables for people, JSON or YAML for scripts.

use serde_json::Value as Json;

/// `-o`: the output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns.
    Table,
    /// JSON, pretty-printed.
    Json,
    /// YAML.
    Yaml,
}

impl Format {
    /// `value` as JSON or YAML text (a table is the command's own).
    pub(crate) fn document(self, value: &Json) -> String {
        match self {
            Format::Yaml => serde_yaml_ng::to_string(value).unwrap_or_default(),
            Format::Json | Format::Table => serde_json::to_string_pretty(value).unwrap_or_default() + "\n",
        }
    }
}

/// Rows under `headers`, each column as wide as its widest cell; the last column is not padded.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

/// A config value as it is shown: strings without quotes, anything else as JSON.
pub(crate) fn plain(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// The first line of `text`, with a `...` when more follows.
pub(crate) fn first_line(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().to_owned();
    if lines.next().is_some() { format!("{first} ...") } else { first }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_documents_render() {
        let text = table(&["NAME", "STATE"], &[vec!["a".into(), "RUNNING".into()], vec!["longer".into(), "PAUSED".into()]]);
        assert_eq!(text, "NAME    STATE\na       RUNNING\nlonger  PAUSED\n");
        let value = serde_json::json!({"name": "a", "tasks": [1, 2]});
        assert_eq!(Format::Yaml.document(&value), "name: a\ntasks:\n- 1\n- 2\n");
        assert!(Format::Json.document(&value).starts_with("{\n  \"name\": \"a\""));
        assert_eq!(plain(&serde_json::json!(5)), "5");
        assert_eq!(first_line("boom\nat x"), "boom ...");
    }
}
