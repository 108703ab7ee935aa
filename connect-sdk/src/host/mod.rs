//! What a host of connectors needs, and a connector author never does: the plugin descriptors
//! the derives register and their type-erased entry points ([`plugin`]), the lookup of plugins
//! by name ([`registry`]), and whole connector configs checked against them ([`assembly`]).
//! The worker runtime and the test harness ([`crate::testing`]) are built on it; it is left
//! out of the author's documentation.

pub mod assembly;
pub mod plugin;
pub mod registry;
