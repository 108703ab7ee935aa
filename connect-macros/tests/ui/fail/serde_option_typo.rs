use connect_sdk::prelude::*;

#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = Task)]
pub struct Config {
    pub topic: String,
    #[serde(defualt)]
    pub tables: Vec<String>,
}

pub struct Task;

impl SourceTask for Task {
    type Config = Config;
    async fn open(_: Config, _: SourceContext) -> Result<Self> {
        Ok(Task)
    }
    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        Ok(Vec::new())
    }
}

fn main() {}
