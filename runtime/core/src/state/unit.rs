//! [`Unit`]: what a status is about and what the assignment hands out.

use std::fmt;

/// A unit of work a worker runs: a connector (it computes its task configs and reports the
/// connector's state) or one of its tasks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// The connector itself.
    Connector(String),
    /// Task `id` of a connector.
    Task(String, u32),
}

impl Unit {
    /// Task `id` of `connector`.
    pub fn task(connector: &str, id: u32) -> Unit {
        Unit::Task(connector.to_owned(), id)
    }

    /// The connector this unit belongs to.
    pub fn connector(&self) -> &str {
        match self {
            Unit::Connector(name) | Unit::Task(name, _) => name,
        }
    }

    /// Whether this is a connector (not a task).
    pub fn is_connector(&self) -> bool {
        matches!(self, Unit::Connector(_))
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unit::Connector(name) => write!(f, "{name}"),
            Unit::Task(name, id) => write!(f, "{name}-{id}"),
        }
    }
}
