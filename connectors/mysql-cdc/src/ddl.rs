//! DDL statements of the binlog, read for what they do to the columns of tables: the input of
//! the schema history. Parsing is `sqlparser`'s (MySQL dialect); this module turns its syntax
//! tree into [`TableDdl`] changes and applies them to column declarations.

use sqlparser::ast::{
    AlterTableOperation, ColumnDef, ColumnOption, ColumnOptionDef, CreateTableLikeKind, Expr, Ident, MySQLColumnPosition, ObjectName,
    ObjectType, RenameTableNameKind, Statement, TableConstraint,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use crate::schema::ColumnSpec;

/// A table, by database and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId {
    /// Database.
    pub database: String,
    /// Table.
    pub table: String,
}

impl TableId {
    /// `database.table`.
    pub fn new(database: &str, table: &str) -> TableId {
        TableId { database: database.to_owned(), table: table.to_owned() }
    }

    /// The table a (possibly unqualified) name in a statement run in `database` means.
    fn named(name: &ObjectName, database: &str) -> Option<TableId> {
        let parts: Vec<&Ident> = name.0.iter().map(|part| part.as_ident()).collect::<Option<_>>()?;
        match parts.as_slice() {
            [table] => Some(TableId::new(database, &table.value)),
            [database, table] => Some(TableId::new(&database.value, &table.value)),
            _ => None,
        }
    }
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.database, self.table)
    }
}

/// What a statement does to one table's columns.
#[derive(Clone, Debug, PartialEq)]
pub enum TableDdl {
    /// `CREATE TABLE t (...)`: these columns.
    Create(TableId, Vec<ColumnSpec>),
    /// `CREATE TABLE t LIKE source`: the source's columns.
    CreateLike(TableId, TableId),
    /// `CREATE TABLE t AS SELECT ...` and other definitions only the server knows.
    Redefined(TableId),
    /// `ALTER TABLE t ...`: these changes, in order.
    Alter(TableId, Vec<ColumnChange>),
    /// `DROP TABLE t`.
    Drop(TableId),
    /// `RENAME TABLE from TO to` (or `ALTER TABLE from RENAME TO to`).
    Rename(TableId, TableId),
}

/// One change of `ALTER TABLE`.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnChange {
    /// `ADD [COLUMN] c type [FIRST | AFTER x]`.
    Add(ColumnSpec, Option<Placement>),
    /// `DROP [COLUMN] c`.
    Drop(String),
    /// `CHANGE old new type` / `MODIFY c type` (`new` is `old` then).
    Change(String, ColumnSpec, Option<Placement>),
    /// `RENAME COLUMN old TO new`.
    Rename(String, String),
    /// `ADD PRIMARY KEY (a, b)`.
    PrimaryKey(Vec<String>),
    /// `DROP PRIMARY KEY`.
    DropPrimaryKey,
}

/// Where `FIRST` / `AFTER x` puts a column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The first column.
    First,
    /// Right after this column.
    After(String),
}

/// Why a DDL statement could not be followed.
#[derive(Debug, thiserror::Error)]
pub enum DdlError {
    /// The statement is not SQL the parser reads.
    #[error(transparent)]
    Unparsable(#[from] sqlparser::parser::ParserError),
    /// The statement names a column the table does not have.
    #[error("no column {0}")]
    NoColumn(String),
    /// The statement adds a column the table has.
    #[error("column {0} exists already")]
    ColumnExists(String),
}

/// What `sql`, run with `database` as the default database, does to tables' columns; `Err`
/// when it cannot be parsed. Statements that change no columns (`TRUNCATE`, indexes, views,
/// other objects) give nothing.
pub fn parse(sql: &str, database: &str) -> Result<Vec<TableDdl>, DdlError> {
    let statements = Parser::parse_sql(&MySqlDialect {}, sql)?;
    let mut changes = Vec::new();
    for statement in statements {
        match statement {
            Statement::CreateTable(create) => {
                let Some(table) = TableId::named(&create.name, database) else { continue };
                if create.temporary {
                    continue;
                }
                let like = match &create.like {
                    Some(CreateTableLikeKind::Parenthesized(like) | CreateTableLikeKind::Plain(like)) => {
                        TableId::named(&like.name, database)
                    }
                    None => None,
                };
                if let Some(source) = like {
                    changes.push(TableDdl::CreateLike(table, source));
                } else if create.query.is_some() || create.columns.is_empty() {
                    changes.push(TableDdl::Redefined(table));
                } else {
                    let mut columns: Vec<ColumnSpec> = create.columns.iter().map(spec_of).collect();
                    for constraint in &create.constraints {
                        if let Some(key) = primary_key_of(constraint) {
                            set_primary_key(&mut columns, &key);
                        }
                    }
                    changes.push(TableDdl::Create(table, columns));
                }
            }
            Statement::AlterTable(alter) => {
                let Some(table) = TableId::named(&alter.name, database) else { continue };
                let mut column_changes = Vec::new();
                let mut renamed = None;
                for operation in &alter.operations {
                    match operation {
                        AlterTableOperation::AddColumn { column_def, column_position, .. } => {
                            column_changes.push(ColumnChange::Add(spec_of(column_def), placement(column_position)))
                        }
                        AlterTableOperation::DropColumn { column_names, .. } => {
                            column_changes.extend(column_names.iter().map(|c| ColumnChange::Drop(c.value.clone())))
                        }
                        AlterTableOperation::ChangeColumn { old_name, new_name, data_type, options, column_position } => {
                            let def = ColumnDef {
                                name: new_name.clone(),
                                data_type: data_type.clone(),
                                options: options.iter().map(|o| ColumnOptionDef { name: None, option: o.clone() }).collect(),
                            };
                            column_changes.push(ColumnChange::Change(old_name.value.clone(), spec_of(&def), placement(column_position)))
                        }
                        AlterTableOperation::ModifyColumn { col_name, data_type, options, column_position } => {
                            let def = ColumnDef {
                                name: col_name.clone(),
                                data_type: data_type.clone(),
                                options: options.iter().map(|o| ColumnOptionDef { name: None, option: o.clone() }).collect(),
                            };
                            column_changes.push(ColumnChange::Change(col_name.value.clone(), spec_of(&def), placement(column_position)))
                        }
                        AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
                            column_changes.push(ColumnChange::Rename(old_column_name.value.clone(), new_column_name.value.clone()))
                        }
                        AlterTableOperation::AddConstraint { constraint, .. } => {
                            if let Some(key) = primary_key_of(constraint) {
                                column_changes.push(ColumnChange::PrimaryKey(key));
                            }
                        }
                        AlterTableOperation::DropPrimaryKey { .. } => column_changes.push(ColumnChange::DropPrimaryKey),
                        AlterTableOperation::RenameTable { table_name: RenameTableNameKind::As(to) | RenameTableNameKind::To(to) } => {
                            renamed = TableId::named(to, database);
                        }
                        _ => {}
                    }
                }
                if !column_changes.is_empty() {
                    changes.push(TableDdl::Alter(table.clone(), column_changes));
                }
                if let Some(to) = renamed {
                    changes.push(TableDdl::Rename(table, to));
                }
            }
            Statement::Drop { object_type: ObjectType::Table, names, temporary: false, .. } => {
                changes.extend(names.iter().filter_map(|name| TableId::named(name, database)).map(TableDdl::Drop));
            }
            Statement::RenameTable(renames) => {
                for rename in renames {
                    if let (Some(from), Some(to)) = (TableId::named(&rename.old_name, database), TableId::named(&rename.new_name, database))
                    {
                        changes.push(TableDdl::Rename(from, to));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(changes)
}

/// Applies `ALTER TABLE` changes to a table's columns; `Err` names a column the changes
/// expect and the table does not have (or already has).
pub fn apply(columns: &mut Vec<ColumnSpec>, changes: &[ColumnChange]) -> Result<(), DdlError> {
    let index_of = |columns: &[ColumnSpec], name: &str| columns.iter().position(|c| c.name.eq_ignore_ascii_case(name));
    let missing = |name: &str| DdlError::NoColumn(name.to_owned());
    for change in changes {
        match change {
            ColumnChange::Add(spec, at) => {
                if index_of(columns, &spec.name).is_some() {
                    return Err(DdlError::ColumnExists(spec.name.clone()));
                }
                place(columns, spec.clone(), at.as_ref(), columns.len())?;
            }
            ColumnChange::Drop(name) => {
                let index = index_of(columns, name).ok_or_else(|| missing(name))?;
                columns.remove(index);
            }
            ColumnChange::Change(old, spec, at) => {
                let index = index_of(columns, old).ok_or_else(|| missing(old))?;
                let previous = columns.remove(index);
                let spec = ColumnSpec { key: spec.key || previous.key, ..spec.clone() };
                place(columns, spec, at.as_ref(), index)?;
            }
            ColumnChange::Rename(old, new) => {
                let index = index_of(columns, old).ok_or_else(|| missing(old))?;
                columns[index].name = new.clone();
            }
            ColumnChange::PrimaryKey(key) => set_primary_key(columns, key),
            ColumnChange::DropPrimaryKey => columns.iter_mut().for_each(|c| c.key = false),
        }
    }
    Ok(())
}

/// Inserts `spec` where `at` says, else at `default`.
fn place(columns: &mut Vec<ColumnSpec>, spec: ColumnSpec, at: Option<&Placement>, default: usize) -> Result<(), DdlError> {
    let index = match at {
        None => default,
        Some(Placement::First) => 0,
        Some(Placement::After(name)) => {
            columns.iter().position(|c| c.name.eq_ignore_ascii_case(name)).ok_or_else(|| DdlError::NoColumn(name.clone()))? + 1
        }
    };
    columns.insert(index, spec);
    Ok(())
}

fn set_primary_key(columns: &mut [ColumnSpec], key: &[String]) {
    for column in columns {
        column.key = key.iter().any(|k| k.eq_ignore_ascii_case(&column.name));
    }
}

fn primary_key_of(constraint: &TableConstraint) -> Option<Vec<String>> {
    let TableConstraint::PrimaryKey(key) = constraint else { return None };
    let names = key.columns.iter().filter_map(|c| match &c.column.expr {
        Expr::Identifier(ident) => Some(ident.value.clone()),
        _ => None,
    });
    Some(names.collect())
}

fn placement(position: &Option<MySQLColumnPosition>) -> Option<Placement> {
    position.as_ref().map(|p| match p {
        MySQLColumnPosition::First => Placement::First,
        MySQLColumnPosition::After(column) => Placement::After(column.value.clone()),
    })
}

/// A column declaration as `information_schema` would describe it.
fn spec_of(def: &ColumnDef) -> ColumnSpec {
    let mut column_type = def.data_type.to_string().to_ascii_lowercase();
    let mut data_type = column_type.split(['(', ' ']).next().unwrap_or_default().to_owned();
    // Synonyms the server stores under another name.
    match data_type.as_str() {
        "bool" | "boolean" => (data_type, column_type) = ("tinyint".into(), "tinyint(1)".into()),
        "integer" => data_type = "int".into(),
        "dec" | "fixed" => data_type = "decimal".into(),
        "serial" => (data_type, column_type) = ("bigint".into(), "bigint unsigned".into()),
        _ => {}
    }
    let arguments: Vec<i32> = column_type
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inner, _)| inner.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    let (mut scale, mut fraction_digits) = (0, 0);
    match data_type.as_str() {
        "decimal" | "numeric" => scale = arguments.get(1).copied().unwrap_or(0),
        "datetime" | "timestamp" | "time" => fraction_digits = arguments.first().copied().unwrap_or(0),
        _ => {}
    }
    let key = def.options.iter().any(|o| matches!(o.option, ColumnOption::PrimaryKey(_)));
    ColumnSpec { name: def.name.value.clone(), data_type, column_type, scale, fraction_digits, key }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, data_type: &str, column_type: &str) -> ColumnSpec {
        ColumnSpec {
            name: name.into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            scale: 0,
            fraction_digits: 0,
            key: false,
        }
    }

    /// The one change `sql` makes.
    fn one(sql: &str, database: &str) -> TableDdl {
        let mut changes = parse(sql, database).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        changes.remove(0)
    }

    fn names(columns: &[ColumnSpec]) -> Vec<&str> {
        columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn create_table_declares_columns_types_and_the_primary_key() {
        let sql = "CREATE TABLE `shop`.`orders` (id BIGINT UNSIGNED NOT NULL, price DECIMAL(10,2), at DATETIME(6), \
                   state ENUM('new','paid'), ok BOOLEAN, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
        let TableDdl::Create(table, columns) = one(sql, "test") else { panic!() };
        assert_eq!(table, TableId::new("shop", "orders"));
        assert_eq!(names(&columns), ["id", "price", "at", "state", "ok"]);
        assert!(columns[0].key && !columns[1].key);
        assert!(columns[0].column_type.contains("unsigned"));
        assert_eq!((columns[1].data_type.as_str(), columns[1].scale), ("decimal", 2));
        assert_eq!((columns[2].data_type.as_str(), columns[2].fraction_digits), ("datetime", 6));
        assert_eq!(columns[3].data_type, "enum");
        assert_eq!(columns[4].column_type, "tinyint(1)");
    }

    #[test]
    fn alter_table_changes_apply_in_order_where_placed() {
        let mut columns = vec![spec("id", "int", "int"), spec("a", "varchar", "varchar(10)")];
        columns[0].key = true;
        let sql = "ALTER TABLE t ADD COLUMN b INT AFTER id, ADD COLUMN z TEXT FIRST, DROP COLUMN a, \
                   CHANGE COLUMN b bb BIGINT, MODIFY z VARCHAR(5), RENAME COLUMN bb TO c";
        let TableDdl::Alter(table, changes) = one(sql, "db") else { panic!() };
        assert_eq!(table, TableId::new("db", "t"));
        apply(&mut columns, &changes).unwrap();
        assert_eq!(names(&columns), ["z", "id", "c"]);
        assert_eq!(columns[2].data_type, "bigint");
        assert_eq!(columns[0].column_type, "varchar(5)");
        assert!(columns[1].key, "the key survives changes of other columns");
        assert!(matches!(apply(&mut columns, &[ColumnChange::Drop("nope".into())]), Err(DdlError::NoColumn(name)) if name == "nope"));
    }

    #[test]
    fn renames_drops_keys_and_statements_that_change_no_columns() {
        let parsed = parse("RENAME TABLE a TO b, other.c TO other.d", "db").unwrap();
        assert_eq!(parsed[0], TableDdl::Rename(TableId::new("db", "a"), TableId::new("db", "b")));
        assert_eq!(parsed[1], TableDdl::Rename(TableId::new("other", "c"), TableId::new("other", "d")));
        assert_eq!(parse("DROP TABLE `t` /* generated by server */", "db").unwrap(), [TableDdl::Drop(TableId::new("db", "t"))]);
        assert_eq!(parse("CREATE TABLE n LIKE o", "db").unwrap(), [TableDdl::CreateLike(TableId::new("db", "n"), TableId::new("db", "o"))]);
        assert!(parse("TRUNCATE TABLE t", "db").unwrap().is_empty());
        assert!(parse("CREATE INDEX i ON t (a)", "db").unwrap().is_empty());
        let TableDdl::Alter(_, changes) = one("ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (a, b)", "db") else { panic!() };
        let mut columns = vec![spec("a", "int", "int"), spec("b", "int", "int"), spec("c", "int", "int")];
        columns[2].key = true;
        apply(&mut columns, &changes).unwrap();
        assert_eq!(columns.iter().map(|c| c.key).collect::<Vec<_>>(), [true, true, false]);
        assert!(parse("ALTER TABLE t FROBNICATE", "db").is_err());
    }
}
