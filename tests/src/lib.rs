//! Workspace-level integration tests. Multi-process worker tests arrive with the runtime.
