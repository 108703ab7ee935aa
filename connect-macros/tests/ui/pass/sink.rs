use connect_sdk::prelude::*;
use connect_sdk::host::registry::Registry;

/// Counts what it is given.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(task = CountTask)]
pub struct CountSink {}

pub struct CountTask(usize);

impl SinkTask for CountTask {
    type Config = CountSink;
    async fn open(_: CountSink, _: SinkContext) -> Result<Self> {
        Ok(CountTask(0))
    }
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        self.0 += records.len();
        Ok(())
    }
}

fn main() {
    assert!(Registry::global().sink("count-sink").is_ok());
}
