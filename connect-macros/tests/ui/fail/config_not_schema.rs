use connect_sdk::prelude::*;

#[derive(Clone, Serialize, Deserialize, SinkConnector)]
#[connector(task = Task)]
pub struct Config {
    pub topic: String,
}

pub struct Task;

impl SinkTask for Task {
    type Config = Config;
    async fn open(_: Config, _: SinkContext) -> Result<Self> {
        Ok(Task)
    }
    async fn put(&mut self, _: Vec<SinkRecord>) -> Result<()> {
        Ok(())
    }
}

fn main() {}
