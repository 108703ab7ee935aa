//! Source partitions and offsets: string-keyed maps of JSON values, as in Kafka Connect, so
//! they persist as JSON and show up unchanged in `GET /connectors/{name}/offsets`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

macro_rules! json_map_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(BTreeMap<String, OrdJson>);

        impl $name {
            /// An empty map.
            pub fn new() -> $name {
                $name::default()
            }

            /// Adds an entry (builder style).
            pub fn with(mut self, key: impl Into<String>, value: impl Into<Json>) -> $name {
                self.0.insert(key.into(), OrdJson(value.into()));
                self
            }

            /// Sets an entry.
            pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Json>) {
                self.0.insert(key.into(), OrdJson(value.into()));
            }

            /// An entry.
            pub fn get(&self, key: &str) -> Option<&Json> {
                self.0.get(key).map(|v| &v.0)
            }

            /// An integer entry.
            pub fn get_i64(&self, key: &str) -> Option<i64> {
                self.get(key).and_then(Json::as_i64)
            }

            /// A string entry.
            pub fn get_str(&self, key: &str) -> Option<&str> {
                self.get(key).and_then(Json::as_str)
            }

            /// Iterates over the entries in key order.
            pub fn iter(&self) -> impl Iterator<Item = (&str, &Json)> {
                self.0.iter().map(|(k, v)| (k.as_str(), &v.0))
            }

            /// True when there are no entries.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// The canonical JSON text (keys sorted), usable as a storage key.
            pub fn to_json_string(&self) -> String {
                serde_json::to_string(self).unwrap_or_default()
            }
        }
    };
}

json_map_type! {
    /// Identifies one independently ordered part of a source, e.g. `{"filename": "a.txt"}`.
    SourcePartition
}

json_map_type! {
    /// How far a source partition has been read, e.g. `{"position": 30}`.
    SourceOffset
}

/// A JSON value with a total order (numbers, then by their text), so partitions can key maps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
struct OrdJson(Json);

impl Ord for OrdJson {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.to_string().cmp(&other.0.to_string())
    }
}

impl PartialOrd for OrdJson {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
