//! A file-reading source: the whole connector is this file.
use connect_sdk::prelude::*;
use connect_sdk::tokio::fs::File;
use connect_sdk::tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader, SeekFrom};

/// Streams the lines of a text file into a topic, resuming at the last committed line.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = LinesTask)]
pub struct LinesSource {
    /// File to read.
    pub file: String,
    /// Topic to write to.
    pub topic: String,
    /// Maximum lines per poll (default 100).
    pub batch_size: Option<usize>,
}

/// Reads lines from the current position.
pub struct LinesTask {
    config: LinesSource,
    partition: SourcePartition,
    reader: BufReader<File>,
    position: u64,
}

impl SourceTask for LinesTask {
    type Config = LinesSource;

    async fn open(config: LinesSource, ctx: SourceContext) -> Result<Self> {
        let partition = SourcePartition::new().with("file", config.file.as_str());
        let position = ctx.offset(&partition).and_then(|o| o.get_i64("position")).unwrap_or(0) as u64;
        let mut file = File::open(&config.file).await?;
        file.seek(SeekFrom::Start(position)).await?;
        Ok(LinesTask { reader: BufReader::new(file), config, partition, position })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let (mut records, mut line) = (Vec::new(), String::new());
        while records.len() < self.config.batch_size.unwrap_or(100) && self.reader.read_line(&mut line).await? > 0 {
            if !line.ends_with('\n') {
                self.reader.seek(SeekFrom::Start(self.position)).await?; // a partial line: wait for the rest
                break;
            }
            self.position += line.len() as u64;
            let offset = SourceOffset::new().with("position", self.position);
            records.push(SourceRecord::new(self.partition.clone(), offset, &self.config.topic, line.trim_end()));
            line.clear();
        }
        Ok(records) // empty at the end of the file: the runtime waits a little before it polls again
    }
}
