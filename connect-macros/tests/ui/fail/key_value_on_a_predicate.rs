use connect_sdk::prelude::*;
use connect_sdk::transform::Predicate;

/// Always true.
#[derive(Deserialize, JsonSchema, connect_sdk::Predicate)]
#[predicate(name = "Always", key_value)]
pub struct Always {}

impl Predicate for Always {
    fn test(&self, _: &Record) -> bool {
        true
    }
}

fn main() {}
