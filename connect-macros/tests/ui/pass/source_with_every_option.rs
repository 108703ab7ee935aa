use connect_sdk::config::{ConfigError, ConfigErrors, ConfigOrigin};
use connect_sdk::prelude::*;
use connect_sdk::host::registry::Registry;
use connect_sdk::serde_json::json;

/// Numbers in a range, split over tasks.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "range", version = "2.1.0", aliases = ["com.example.RangeSource"], task = RangeTask,
            split = Range::split, validate = Range::check)]
pub struct Range {
    /// First number.
    pub start: u64,
    /// One past the last number.
    pub end: u64,
}

impl Range {
    fn split(&self, max_tasks: usize) -> Vec<Self> {
        let step = (self.end - self.start).div_ceil(max_tasks as u64).max(1);
        (self.start..self.end).step_by(step as usize).map(|s| Range { start: s, end: (s + step).min(self.end) }).collect()
    }

    fn check(&self) -> Result<(), ConfigErrors> {
        if self.start > self.end {
            return Err(ConfigError::new("start", "must not be after end").into());
        }
        Ok(())
    }
}

pub struct RangeTask;

impl SourceTask for RangeTask {
    type Config = Range;
    async fn open(_: Range, _: SourceContext) -> Result<Self> {
        Ok(RangeTask)
    }
    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        Ok(Vec::new())
    }
}

fn main() {
    let registry = Registry::global();
    let (plugin, factory) = registry.source("com.example.RangeSource").unwrap();
    assert_eq!((plugin.name, plugin.version), ("range", "2.1.0"));
    let config = json!({"name": "r", "connector.class": "range", "start": "0", "end": "10"});
    let parsed = (factory.parse)(config.as_object().unwrap(), ConfigOrigin::User).unwrap();
    let tasks = connect_sdk::testing::block_on((factory.plan)(parsed, 3)).unwrap().tasks;
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks[2]["start"], 8);
    let reversed = json!({"name": "r", "connector.class": "range", "start": "5", "end": "1"});
    let errors = (factory.parse)(reversed.as_object().unwrap(), ConfigOrigin::User).err().unwrap();
    assert_eq!(errors.iter().next().unwrap().key, "start");
}
