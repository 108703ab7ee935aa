use connect_sdk::prelude::*;

#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "my-source")]
pub struct Config {
    pub topic: String,
}

fn main() {}
