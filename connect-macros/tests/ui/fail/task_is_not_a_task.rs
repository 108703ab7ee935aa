use connect_sdk::prelude::*;

#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = String)]
pub struct Config {
    pub topic: String,
}

fn main() {}
