use connect_sdk::prelude::*;

#[derive(Clone, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(task = Task, plan = Config::plan)]
pub struct Config {
    pub url: String,
}

impl Config {
    fn plan(&self, max_tasks: usize) -> Vec<Self> {
        vec![self.clone(); max_tasks]
    }
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
