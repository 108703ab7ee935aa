//! File connectors.
