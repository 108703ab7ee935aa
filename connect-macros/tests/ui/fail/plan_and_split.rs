use connect_sdk::prelude::*;

#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = Task, split = Config::split, plan = Config::plan)]
pub struct Config {
    pub topic: String,
}

impl Config {
    fn split(&self, _: usize) -> Vec<Self> {
        vec![self.clone()]
    }
    async fn plan(&self, _: usize) -> Result<TaskPlan<Self>> {
        Ok(TaskPlan::new(vec![self.clone()]))
    }
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
