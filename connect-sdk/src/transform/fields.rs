//! Field helpers.
