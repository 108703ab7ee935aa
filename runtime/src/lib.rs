//! The worker runtime that executes connectors registered with [`connect_sdk`].
//!
//! This crate is being built (see the "standalone worker" issue); today it only re-exports
//! the registry so binaries can list the plugins they link.

pub use connect_sdk::registry::Registry;
