use connect_sdk::prelude::*;

#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct Config {
    #[config(hidden)]
    pub topic: String,
}

fn main() {}
