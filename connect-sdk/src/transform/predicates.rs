//! Built-in predicates.
