//! `split = identical` and `split = each(field)`: the built-in splits, and the task count a
//! task reads its share by.
use connect_sdk::prelude::*;

/// Counts down from `start`; task `i` of `n` takes the numbers `≡ i (mod n)`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = CountdownTask, split = identical)]
pub struct Countdown {
    pub start: u64,
}

pub struct CountdownTask {
    numbers: Vec<u64>,
}

impl SourceTask for CountdownTask {
    type Config = Countdown;
    async fn open(config: Countdown, ctx: SourceContext) -> Result<Self> {
        let (id, count) = (u64::from(ctx.task_id()), u64::from(ctx.task_count()));
        Ok(CountdownTask { numbers: (1..=config.start).rev().filter(|n| n % count == id).collect() })
    }
    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        Ok(Vec::new())
    }
}

/// Writes to the listed files, one task per file.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(task = FilesTask, split = each(files))]
pub struct Files {
    pub files: Vec<String>,
}

pub struct FilesTask;

impl SinkTask for FilesTask {
    type Config = Files;
    async fn open(_: Files, _: SinkContext) -> Result<Self> {
        Ok(FilesTask)
    }
    async fn put(&mut self, _: Vec<SinkRecord>) -> Result<()> {
        Ok(())
    }
}

fn main() {
    assert_eq!(Countdown { start: 9 }.task_configs(3).len(), 3);
    let files = Files { files: vec!["a".into(), "b".into()] }.task_configs(5);
    assert_eq!(files.iter().map(|f| f.files.clone()).collect::<Vec<_>>(), [vec!["a".to_owned()], vec!["b".to_owned()]]);
}
