//! Derive macros of `connect-sdk`. Use them through `connect_sdk::prelude`; this crate is
//! re-exported there and is not meant to be depended on directly.
//!
//! Each derive parses its attribute (`parse.rs`), validates it with spans on the offending
//! tokens, and expands (`expand.rs`) to a trait impl plus one `inventory::submit!` of a plugin
//! descriptor. On error it still emits a fallback impl, so one mistake gives one error.

mod attr;
mod docs;
mod expand;
mod field_checks;
mod serde_attrs;
mod shadow;
mod target;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

use crate::shadow::ShadowKind;
use crate::target::DeriveKind;

/// Makes a config struct a source connector: `#[connector(task = MyTask)]`, optionally
/// `name = "..."` (default: the type name in kebab case), `version = "..."` (default: the
/// crate version), `split = ...` (`identical`: `tasks.max` identical tasks, each taking its
/// share by its context's `task_id()` and `task_count()`; `each(field)`: one task per item of
/// the list `field`, or a round-robin share of them; or the path of a function
/// `fn(&Self, usize) -> Vec<Self>`; see `connect_sdk::split`) and `validate = path::to::fn`
/// (`fn(&Self) -> Result<(), ConfigErrors>`).
#[proc_macro_derive(SourceConnector, attributes(connector))]
pub fn derive_source_connector(input: TokenStream) -> TokenStream {
    expand::derive(parse_macro_input!(input as DeriveInput), DeriveKind::Source).into()
}

/// Makes a config struct a sink connector; the same attribute as `SourceConnector`.
#[proc_macro_derive(SinkConnector, attributes(connector))]
pub fn derive_sink_connector(input: TokenStream) -> TokenStream {
    expand::derive(parse_macro_input!(input as DeriveInput), DeriveKind::Sink).into()
}

/// Registers a transform whose config is this struct: `#[transform(name = "...")]`; with
/// `key_value`, the type implements `KeyValueTransform` and registers `<name>$Key` and
/// `<name>$Value`.
#[proc_macro_derive(Transform, attributes(transform))]
pub fn derive_transform(input: TokenStream) -> TokenStream {
    expand::derive(parse_macro_input!(input as DeriveInput), DeriveKind::Transform).into()
}

/// Registers a predicate whose config is this struct: `#[predicate(name = "...")]`.
#[proc_macro_derive(Predicate, attributes(predicate))]
pub fn derive_predicate(input: TokenStream) -> TokenStream {
    expand::derive(parse_macro_input!(input as DeriveInput), DeriveKind::Predicate).into()
}

/// Registers a converter whose config is this struct: `#[converter(name = "...")]`.
#[proc_macro_derive(Converter, attributes(converter))]
pub fn derive_converter(input: TokenStream) -> TokenStream {
    expand::derive(parse_macro_input!(input as DeriveInput), DeriveKind::Converter).into()
}

/// serde's `Deserialize`, usable with only `connect-sdk` as a dependency (takes `#[serde]` attributes).
#[proc_macro_derive(Deserialize, attributes(serde))]
pub fn derive_deserialize(input: TokenStream) -> TokenStream {
    shadow::derive(parse_macro_input!(input as DeriveInput), ShadowKind::Deserialize).into()
}

/// serde's `Serialize`, usable with only `connect-sdk` as a dependency (takes `#[serde]` attributes).
#[proc_macro_derive(Serialize, attributes(serde))]
pub fn derive_serialize(input: TokenStream) -> TokenStream {
    shadow::derive(parse_macro_input!(input as DeriveInput), ShadowKind::Serialize).into()
}

/// schemars' `JsonSchema`, usable with only `connect-sdk` as a dependency (takes `#[serde]`
/// and `#[schemars]` attributes; doc comments become descriptions). On a config field,
/// `#[config(task_only)]` marks a field the connector sets for its tasks (users may not set
/// it; validation and `plugins` do not show it), `#[config(path)]` a file or directory path
/// (or a list of them, or a `file://` URL) the worker resolves and checks against its
/// `--allowed-paths` (the task gets the resolved path), `#[config(path, remote = "s3")]` a
/// path key whose `s3://` values name no local file, `#[config(topic)]` a RocketMQ topic name
/// or a list of them and `#[config(topic_part)]` a part of topic names (a prefix), both
/// checked against RocketMQ's rules at validation, and `#[config(alias = "old.name")]`
/// accepts another key for it. Refused at compile time, each with one error on the option:
/// `task_only` on a field without `#[serde(default)]` (a config without it could never be
/// read), `path` on a field that is not a `String` or `PathBuf` (or an `Option`/`Vec` of
/// one), `#[schemars(range(...))]` on a field that is not a number, and a misspelt serde or
/// config option (with the option it resembles).
#[proc_macro_derive(JsonSchema, attributes(serde, schemars, config))]
pub fn derive_json_schema(input: TokenStream) -> TokenStream {
    shadow::derive(parse_macro_input!(input as DeriveInput), ShadowKind::JsonSchema).into()
}
