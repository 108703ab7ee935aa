use std::time::Duration;

use connect_sdk::config::ConfigOrigin;
use connect_sdk::host::plugin::PluginFactory;
use connect_sdk::prelude::*;
use connect_sdk::host::registry::Registry;

/// One task per shard it finds when it plans.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = ShardTask, plan = ShardSource::plan)]
pub struct ShardSource {
    /// Topic to write to.
    pub topic: String,
    /// Shards this task reads (set by the plan).
    #[serde(default)]
    #[config(task_only)]
    pub shards: Vec<String>,
}

impl ShardSource {
    async fn plan(&self, max_tasks: usize) -> Result<TaskPlan<Self>> {
        let found = ["a", "b", "c"]; // what a lookup in the external system returned
        let tasks = (0..max_tasks.min(found.len()))
            .map(|t| ShardSource { shards: found.iter().skip(t).step_by(max_tasks).map(|s| s.to_string()).collect(), ..self.clone() })
            .collect();
        Ok(TaskPlan::new(tasks).replan_after(Duration::from_secs(30)))
    }
}

pub struct ShardTask;

impl SourceTask for ShardTask {
    type Config = ShardSource;
    async fn open(_: ShardSource, _: SourceContext) -> Result<Self> {
        Ok(ShardTask)
    }
    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        Ok(Vec::new())
    }
}

fn main() {
    let plugin = Registry::global().connector("shard-source").expect("registered");
    let PluginFactory::Source(factory) = plugin.factory else { panic!("a source") };
    let config = connect_sdk::serde_json::json!({"topic": "t"}).as_object().cloned().unwrap();
    let parsed = (factory.parse)(&config, ConfigOrigin::User).expect("a valid config");
    let plan = connect_sdk::testing::block_on((factory.plan)(parsed, 2)).expect("planned");
    assert_eq!(plan.tasks.len(), 2);
    assert_eq!(plan.tasks[0]["shards"], connect_sdk::serde_json::json!(["a", "c"]));
    assert_eq!(plan.replan_after, Some(Duration::from_secs(30)));
    // Only the plan sets the shards: a user config may not, and a task config may.
    let user = connect_sdk::serde_json::json!({"topic": "t", "shards": "a"}).as_object().cloned().unwrap();
    assert_eq!((factory.parse)(&user, ConfigOrigin::User).err().unwrap().iter().next().unwrap().key, "shards");
    assert!((factory.parse)(&plan.tasks[0], ConfigOrigin::Task).is_ok());
}
