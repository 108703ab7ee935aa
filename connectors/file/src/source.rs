//! `file-source`: lines of files into a topic.

use std::time::Duration;

use connect_sdk::config::groups::BatchSize;
use connect_sdk::config::{ConfigError, ConfigErrors};
use connect_sdk::prelude::*;
use connect_sdk::tokio::fs::File;
use connect_sdk::tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, BufReader, SeekFrom};

/// Streams the lines of text files into a topic (Kafka's FileStreamSource). Each file is a
/// source partition `{"filename": ...}` whose offset is the byte position after the last
/// line sent, so a restarted task resumes without gaps. With `files`, the files are spread
/// over up to `tasks.max` tasks. A line longer than `max.line.bytes` fails the task (a file
/// without newlines never makes the worker grow). A named pipe or another file that cannot be
/// read again (`/dev/stdin`) is read as a stream: there is no position to resume from, so
/// lines read but not yet committed when the worker stops are not read again.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "file-source", aliases = ["org.apache.kafka.connect.file.FileStreamSourceConnector", "FileStreamSource"],
            task = FileSourceTask, split = FileSource::split, validate = FileSource::check)]
pub struct FileSource {
    /// File to read.
    #[serde(default)]
    #[config(path)]
    pub file: Option<String>,
    /// Files to read, comma-separated (one task per file up to `tasks.max`).
    #[serde(default)]
    #[config(path)]
    pub files: Vec<String>,
    /// Topic to write to.
    #[config(topic)]
    pub topic: String,
    /// `batch.size`.
    #[serde(flatten)]
    pub batch: BatchSize<2000>,
    /// The longest line accepted, in bytes; a longer one fails the task.
    #[serde(default = "default_max_line_bytes")]
    #[schemars(range(min = 1, max = 16_777_216))]
    pub max_line_bytes: usize,
}

fn default_max_line_bytes() -> usize {
    1024 * 1024
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
    /// Bytes of the complete lines read so far (of a regular file: where to resume).
    position: u64,
    /// The start of a line whose end has not been written yet.
    partial: Vec<u8>,
}

/// Reads its files in turn, a batch at a time.
pub struct FileSourceTask {
    topic: String,
    batch_size: usize,
    max_line_bytes: usize,
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
            let regular = file.metadata().await.map_err(|e| Error::with_source(format!("cannot inspect {name}"), e))?.is_file();
            if regular {
                file.seek(SeekFrom::Start(position)).await?;
            } else if position > 0 {
                connect_sdk::tracing::warn!(file = %name, position, "not a regular file: it is read as a stream, from where it is now");
            }
            let reader = BufReader::with_capacity(256 * 1024, file);
            files.push(OpenFile { name, partition, reader, position, partial: Vec::new() });
        }
        Ok(FileSourceTask {
            topic: config.topic,
            batch_size: config.batch.batch_size,
            max_line_bytes: config.max_line_bytes,
            files,
            next: 0,
        })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        for _ in 0..self.files.len() {
            let index = self.next % self.files.len();
            self.next += 1;
            let records = read_lines(&mut self.files[index], &self.topic, self.batch_size, self.max_line_bytes).await?;
            if !records.is_empty() {
                return Ok(records);
            }
        }
        connect_sdk::tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(Vec::new())
    }
}

/// Reads up to `max` complete lines. The start of a line not ended yet is kept for the next
/// poll (never read twice, so pipes work too); a line longer than `max_line` is an error,
/// found before more than `max_line + 1` bytes of it are held.
async fn read_lines(file: &mut OpenFile, topic: &str, max: usize, max_line: usize) -> Result<Vec<SourceRecord>> {
    let mut records = Vec::new();
    while records.len() < max {
        let room = (max_line + 1).saturating_sub(file.partial.len()) as u64;
        let read = (&mut file.reader)
            .take(room)
            .read_until(b'\n', &mut file.partial)
            .await
            .map_err(|e| Error::with_source(format!("cannot read {}", file.name), e))?;
        if !file.partial.ends_with(b"\n") {
            if file.partial.len() > max_line {
                return Err(Error::other(format!(
                    "{}: a line at byte {} is longer than max.line.bytes ({max_line} bytes)",
                    file.name, file.position
                )));
            }
            debug_assert!(read == 0 || room > 0);
            break; // the end for now, possibly in the middle of a line
        }
        file.position += file.partial.len() as u64;
        let line = std::str::from_utf8(&file.partial)
            .map_err(|e| Error::with_source(format!("{}: the line ending at byte {} is not UTF-8", file.name, file.position), e))?;
        let text = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(line);
        let offset = SourceOffset::new().with("position", file.position);
        records.push(SourceRecord::new(file.partition.clone(), offset, topic, text));
        file.partial.clear();
    }
    Ok(records)
}
