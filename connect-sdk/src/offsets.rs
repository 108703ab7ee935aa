//! Source partitions and offsets: string-keyed maps of JSON values, as in Kafka Connect, so
//! they persist as JSON and show up unchanged in `GET /connectors/{name}/offsets`.
//!
//! A source usually emits every record of a partition with a clone of one partition value, so
//! a [`SourcePartition`] shares its entries: a clone is a reference count, and two clones
//! compare equal without looking at their entries. A [`SourceOffset`] is built for each record
//! and owns its entries.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

/// The entries of a partition or offset, in key order.
type Entries = BTreeMap<String, OrdJson>;

/// How a map type holds its entries.
trait Storage: Default + Clone {
    fn entries(&self) -> &Entries;
    fn entries_mut(&mut self) -> &mut Entries;
    fn from_entries(entries: Entries) -> Self;
    /// True when both are known to hold the same entries without comparing them.
    fn same(&self, _other: &Self) -> bool {
        false
    }
}

/// Owned entries (an offset: built for each record, so one allocation less than shared).
impl Storage for Entries {
    fn entries(&self) -> &Entries {
        self
    }

    fn entries_mut(&mut self) -> &mut Entries {
        self
    }

    fn from_entries(entries: Entries) -> Self {
        entries
    }
}

/// No entries.
static EMPTY: Entries = BTreeMap::new();

/// Shared entries (a partition: cloned for each record), none allocated while empty.
impl Storage for Option<Arc<Entries>> {
    fn entries(&self) -> &Entries {
        self.as_deref().unwrap_or(&EMPTY)
    }

    fn entries_mut(&mut self) -> &mut Entries {
        Arc::make_mut(self.get_or_insert_with(Default::default))
    }

    fn from_entries(entries: Entries) -> Self {
        (!entries.is_empty()).then(|| Arc::new(entries))
    }

    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

macro_rules! json_map_type {
    ($(#[$doc:meta])* $name:ident, $storage:ty) => {
        $(#[$doc])*
        #[derive(Clone, Default)]
        pub struct $name($storage);

        impl $name {
            /// An empty map.
            pub fn new() -> $name {
                $name::default()
            }

            /// Adds an entry (builder style).
            pub fn with(mut self, key: impl Into<String>, value: impl Into<Json>) -> $name {
                self.insert(key, value);
                self
            }

            /// Sets an entry.
            pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Json>) {
                self.0.entries_mut().insert(key.into(), OrdJson(value.into()));
            }

            /// An entry.
            pub fn get(&self, key: &str) -> Option<&Json> {
                self.0.entries().get(key).map(|v| &v.0)
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
                self.0.entries().iter().map(|(k, v)| (k.as_str(), &v.0))
            }

            /// True when there are no entries.
            pub fn is_empty(&self) -> bool {
                self.0.entries().is_empty()
            }

            /// The canonical JSON text (keys sorted), usable as a storage key.
            pub fn to_json_string(&self) -> String {
                serde_json::to_string(self).unwrap_or_default()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &$name) -> bool {
                self.0.same(&other.0) || self.0.entries() == other.0.entries()
            }
        }

        impl Eq for $name {}

        impl Ord for $name {
            fn cmp(&self, other: &$name) -> std::cmp::Ordering {
                if self.0.same(&other.0) {
                    return std::cmp::Ordering::Equal;
                }
                self.0.entries().cmp(other.0.entries())
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &$name) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(self.0.entries()).finish()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0.entries().serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                Entries::deserialize(deserializer).map(|entries| $name(<$storage>::from_entries(entries)))
            }
        }
    };
}

json_map_type! {
    /// Identifies one independently ordered part of a source, e.g. `{"filename": "a.txt"}`.
    /// Clones share the entries (see the module documentation).
    ///
    /// ```
    /// use connect_sdk::offsets::SourcePartition;
    ///
    /// let partition = SourcePartition::new().with("filename", "a.txt");
    /// let for_a_record = partition.clone();
    /// assert_eq!(for_a_record, partition);
    /// assert_eq!(for_a_record.to_json_string(), r#"{"filename":"a.txt"}"#);
    /// ```
    SourcePartition, Option<Arc<Entries>>
}

json_map_type! {
    /// How far a source partition has been read, e.g. `{"position": 30}`.
    SourceOffset, Entries
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
