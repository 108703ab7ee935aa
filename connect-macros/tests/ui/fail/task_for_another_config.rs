use connect_sdk::prelude::*;

#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = Task)]
pub struct Config {
    pub topic: String,
}

#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct Other {
    pub topic: String,
}

pub struct Task;

impl SourceTask for Task {
    type Config = Other;
    async fn open(_: Other, _: SourceContext) -> Result<Self> {
        Ok(Task)
    }
    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        Ok(Vec::new())
    }
}

fn main() {}
