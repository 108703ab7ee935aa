use connect_sdk::prelude::*;

/// Upper-cases values.
#[derive(Deserialize, JsonSchema, connect_sdk::Transform)]
#[transform(name = "Upper")]
pub struct Upper {}

fn main() {}
