//! `file-source`: lines of files into a topic.

use std::time::Duration;

use connect_sdk::config::groups::BatchSize;
use connect_sdk::config::{ConfigError, ConfigErrors};
use connect_sdk::prelude::*;
use connect_sdk::tokio::fs::File;
use connect_sdk::tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader, SeekFrom};

/// Streams the lines of text files into a topic (Kafka's FileStreamSource). Each file is a
/// source partition `{"filename": ...}` whose offset is the byte position after the last
/// line sent, so a restarted task resumes without gaps. With `files`, the files are spread
/// over up to `tasks.max` tasks.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "file-source", aliases = ["org.apache.kafka.connect.file.FileStreamSourceConnector", "FileStreamSource"],
            task = FileSourceTask, split = FileSource::split, validate = FileSource::check)]
pub struct FileSource {
    /// File to read.
    #[serde(default)]
    pub file: Option<String>,
    /// Files to read, comma-separated (one task per file up to `tasks.max`).
    #[serde(default)]
    pub files: Vec<String>,
    /// Topic to write to.
    pub topic: String,
    /// `batch.size`.
    #[serde(flatten)]
    pub batch: BatchSize<2000>,
}

impl FileSource {
    fn all_files(&self) -> Vec<String> {
        self.file.iter().cloned().chain(self.files.iter().cloned()).collect()
    }

    fn split(&self, max_tasks: usize) -> Vec<Self> {
        let files = self.all_files();
        let tasks = max_tasks.clamp(1, files.len().max(1));
        (0..tasks)
            .map(|t| FileSource { file: None, files: files.iter().skip(t).step_by(tasks).cloned().collect(), ..self.clone() })
            .collect()
    }

    fn check(&self) -> Result<(), ConfigErrors> {
        if self.all_files().is_empty() {
            return Err(ConfigError::new("file", "set \"file\" or \"files\"").into());
        }
        Ok(())
    }
}

struct OpenFile {
    name: String,
    partition: SourcePartition,
    reader: BufReader<File>,
    position: u64,
}

/// Reads its files in turn, a batch at a time.
pub struct FileSourceTask {
    topic: String,
    batch_size: usize,
    files: Vec<OpenFile>,
    next: usize,
}

impl SourceTask for FileSourceTask {
    type Config = FileSource;

    async fn open(config: FileSource, ctx: SourceContext) -> Result<Self> {
        let mut files = Vec::new();
        for name in config.all_files() {
            let partition = SourcePartition::new().with("filename", name.as_str());
            let position = ctx.offset(&partition).and_then(|o| o.get_i64("position")).unwrap_or(0).max(0) as u64;
            let mut file = File::open(&name).await.map_err(|e| Error::with_source(format!("cannot open {name}"), e))?;
            file.seek(SeekFrom::Start(position)).await?;
            files.push(OpenFile { name, partition, reader: BufReader::with_capacity(256 * 1024, file), position });
        }
        Ok(FileSourceTask { topic: config.topic, batch_size: config.batch.batch_size, files, next: 0 })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        for _ in 0..self.files.len() {
            let index = self.next % self.files.len();
            self.next += 1;
            let records = read_lines(&mut self.files[index], &self.topic, self.batch_size).await?;
            if !records.is_empty() {
                return Ok(records);
            }
        }
        connect_sdk::tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(Vec::new())
    }
}

async fn read_lines(file: &mut OpenFile, topic: &str, max: usize) -> Result<Vec<SourceRecord>> {
    let mut records = Vec::new();
    let mut line = String::new();
    while records.len() < max {
        line.clear();
        let read = file.reader.read_line(&mut line).await.map_err(|e| Error::with_source(format!("cannot read {}", file.name), e))?;
        if read == 0 {
            break;
        }
        if !line.ends_with('\n') {
            file.reader.seek(SeekFrom::Start(file.position)).await?;
            break;
        }
        file.position += read as u64;
        let offset = SourceOffset::new().with("position", file.position);
        let text = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line);
        records.push(SourceRecord::new(file.partition.clone(), offset, topic, text));
    }
    Ok(records)
}
