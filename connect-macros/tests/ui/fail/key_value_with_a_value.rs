use connect_sdk::prelude::*;

/// Upper-cases values.
#[derive(Deserialize, JsonSchema, connect_sdk::Transform)]
#[transform(name = "Upper", key_value = true)]
pub struct Upper {}

fn main() {}
