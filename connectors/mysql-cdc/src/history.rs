//! The schema history: each captured table's column declarations and the binlog position
//! from which they hold, so a row is decoded with the columns it was written with, however
//! far behind the binlog the reader is.
//!
//! It lives in the offsets: every schema change record carries the whole history as the
//! offset of its own source partition, committed with the records around it. A restarted
//! task keeps what holds up to its resume position and reads the later DDL again.

use std::collections::BTreeMap;

use connect_sdk::offsets::{SourceOffset, SourcePartition};
use connect_sdk::prelude::*;

use crate::binlog::Position;
use crate::ddl::TableId;
use crate::schema::ColumnSpec;

/// One definition of a table, from a binlog position on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Definition {
    file: String,
    pos: u64,
    /// The columns; `None` once the table was dropped.
    columns: Option<Vec<ColumnSpec>>,
}

impl Definition {
    fn holds_at(&self, position: &Position) -> bool {
        (self.file.as_str(), self.pos) <= (position.file.as_str(), position.pos)
    }
}

/// Each table's definitions, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchemaHistory {
    tables: BTreeMap<TableId, Vec<Definition>>,
}

/// The offset key that holds the history.
const TABLES: &str = "tables";

impl SchemaHistory {
    /// The source partition the history is committed under, beside the binlog's.
    pub fn partition(server: &str) -> SourcePartition {
        SourcePartition::new().with("server", server).with("history", "schemas")
    }

    /// The history a committed offset holds, as it was at `resume` (later definitions come
    /// again from the binlog, earlier ones are no longer needed: offsets only move on). An
    /// offset that cannot be read gives an empty history.
    pub fn committed(offset: Option<&SourceOffset>, resume: &Position) -> SchemaHistory {
        let tables: Vec<(String, String, Vec<Definition>)> = offset
            .and_then(|o| o.get(TABLES))
            .and_then(|tables| connect_sdk::serde_json::from_value(tables.clone()).ok())
            .unwrap_or_default();
        let mut history = SchemaHistory {
            tables: tables.into_iter().map(|(database, table, definitions)| (TableId { database, table }, definitions)).collect(),
        };
        history.rewind(resume);
        history.prune(resume);
        history
    }

    /// Forgets what was defined after `position` (it is read again from there).
    pub fn rewind(&mut self, position: &Position) {
        for definitions in self.tables.values_mut() {
            definitions.retain(|d| d.holds_at(position));
        }
        self.tables.retain(|_, definitions| !definitions.is_empty());
    }

    /// The columns of `table` now; `None` when the history does not know it, `Some(None)`
    /// when it was dropped.
    pub fn columns(&self, table: &TableId) -> Option<Option<&[ColumnSpec]>> {
        self.tables.get(table)?.last().map(|d| d.columns.as_deref())
    }

    /// Records that `table` has `columns` from `position` on (`None`: dropped). Of what
    /// holds before, only the latest definition is kept.
    pub fn define(&mut self, table: &TableId, position: &Position, columns: Option<Vec<ColumnSpec>>) {
        let definitions = self.tables.entry(table.clone()).or_default();
        if definitions.last().is_some_and(|d| d.columns == columns) {
            return;
        }
        definitions.retain(|d| d.file != position.file || d.pos != position.pos);
        definitions.push(Definition { file: position.file.clone(), pos: position.pos, columns });
    }

    /// Keeps, of each table, the definition in force at `position` and those after it: what a
    /// restart from `position` (or later) can need.
    pub fn prune(&mut self, position: &Position) {
        for definitions in self.tables.values_mut() {
            let in_force = definitions.iter().rposition(|d| d.holds_at(position)).unwrap_or(0);
            definitions.drain(..in_force);
        }
        self.tables.retain(|_, definitions| definitions.iter().any(|d| d.columns.is_some()) || definitions.len() > 1);
    }

    /// The offset that carries the history.
    pub fn offset(&self) -> SourceOffset {
        let tables: Vec<(&str, &str, &Vec<Definition>)> =
            self.tables.iter().map(|(id, definitions)| (id.database.as_str(), id.table.as_str(), definitions)).collect();
        SourceOffset::new().with(TABLES, connect_sdk::serde_json::to_value(tables).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(pos: u64) -> Position {
        Position { file: "bin.000001".into(), pos, rows: 0 }
    }

    fn columns(names: &[&str]) -> Option<Vec<ColumnSpec>> {
        Some(
            names
                .iter()
                .map(|n| ColumnSpec {
                    name: (*n).into(),
                    data_type: "int".into(),
                    column_type: "int".into(),
                    scale: 0,
                    fraction_digits: 0,
                    key: false,
                })
                .collect(),
        )
    }

    #[test]
    fn a_committed_history_is_read_back_as_it_was_at_the_resume_position() {
        let t = TableId::new("db", "t");
        let mut history = SchemaHistory::default();
        history.define(&t, &at(100), columns(&["a"]));
        history.define(&t, &at(200), columns(&["a", "b"]));
        history.define(&t, &at(300), None);
        let offset = history.offset();
        assert_eq!(SchemaHistory::committed(Some(&offset), &at(350)), SchemaHistory::default(), "dropped before 350");
        let rewound = SchemaHistory::committed(Some(&offset), &at(250));
        assert_eq!(rewound.columns(&t).unwrap().unwrap().len(), 2, "the definition of 200 holds at 250");
        assert_eq!(SchemaHistory::committed(Some(&offset), &at(150)).columns(&t).unwrap().unwrap().len(), 1);
        assert_eq!(SchemaHistory::committed(Some(&offset), &at(50)).columns(&t), None, "nothing was known yet");
        let mut kept = history.clone();
        kept.define(&TableId::new("db", "u"), &at(320), columns(&["x"]));
        let offset = kept.offset();
        assert_eq!(SchemaHistory::committed(Some(&offset), &at(330)).columns(&TableId::new("db", "u")).unwrap().unwrap().len(), 1);
        assert_eq!(SchemaHistory::committed(None, &at(1)), SchemaHistory::default());
    }

    #[test]
    fn pruning_keeps_what_a_restart_can_need() {
        let t = TableId::new("db", "t");
        let mut history = SchemaHistory::default();
        history.define(&t, &at(100), columns(&["a"]));
        history.define(&t, &at(200), columns(&["a", "b"]));
        history.define(&t, &at(300), columns(&["b"]));
        history.prune(&at(250));
        assert_eq!(history.tables[&t].iter().map(|d| d.pos).collect::<Vec<_>>(), [200, 300]);
        history.define(&t, &at(400), columns(&["b"]));
        assert_eq!(history.tables[&t].len(), 2, "an unchanged definition is not recorded again");
        history.define(&t, &at(500), None);
        history.prune(&at(600));
        assert!(history.tables.is_empty(), "a table dropped before the position is forgotten");
    }
}
