//! Which tables a change-data-capture source captures: an include list of databases (MySQL)
//! or schemas (PostgreSQL), `table.include.list` and `table.exclude.list`, comma-separated
//! regular expressions matched against whole names (`db` and `db.table`), as Debezium's.

use connect_sdk::config::ConfigErrors;
use regex::Regex;

/// The compiled include and exclude lists.
#[derive(Clone, Debug, Default)]
pub struct TableFilter {
    databases: Vec<Regex>,
    tables: Vec<Regex>,
    excluded: Vec<Regex>,
}

fn compile(key: &str, patterns: &[String], errors: &mut ConfigErrors) -> Vec<Regex> {
    patterns
        .iter()
        .filter(|p| !p.trim().is_empty())
        .filter_map(|p| match Regex::new(&format!("^(?:{})$", p.trim())) {
            Ok(regex) => Some(regex),
            Err(e) => {
                errors.push(key, format!("{p:?} is not a regular expression: {e}"));
                None
            }
        })
        .collect()
}

impl TableFilter {
    /// Compiles the lists; errors name the key of a bad pattern (`scope_key` is the key of
    /// the first list: `database.include.list` or `schema.include.list`).
    pub fn new(scope_key: &str, databases: &[String], tables: &[String], excluded: &[String]) -> Result<TableFilter, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let filter = TableFilter {
            databases: compile(scope_key, databases, &mut errors),
            tables: compile("table.include.list", tables, &mut errors),
            excluded: compile("table.exclude.list", excluded, &mut errors),
        };
        errors.into_result(filter)
    }

    /// Whether `database.table` is captured (empty include lists admit everything).
    pub fn admits(&self, database: &str, table: &str) -> bool {
        let full = format!("{database}.{table}");
        (self.databases.is_empty() || self.databases.iter().any(|r| r.is_match(database)))
            && (self.tables.is_empty() || self.tables.iter().any(|r| r.is_match(&full)))
            && !self.excluded.iter().any(|r| r.is_match(&full))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_match_whole_names() {
        let filter =
            TableFilter::new("database.include.list", &["shop".into()], &["shop\\.order.*".into()], &["shop\\.orders_archive".into()])
                .unwrap();
        assert!(filter.admits("shop", "orders"));
        assert!(!filter.admits("shop", "customers"));
        assert!(!filter.admits("shop", "orders_archive"));
        assert!(!filter.admits("shopping", "orders"));
        assert!(TableFilter::new("schema.include.list", &["(".into()], &[], &[]).is_err());
    }
}
