use connect_sdk::prelude::*;

#[derive(Clone, Serialize, Deserialize, JsonSchema, SinkConnector)]
pub struct Config {
    pub topic: String,
}

fn main() {}
