//! `connect-worker ctl`: the command line of a connect cluster, for operators and scripts,
//! and the library under it. It speaks Kafka Connect's REST API only (so it drives any Kafka
//! Connect-compatible worker, not only ours, and links nothing of the worker), prints tables
//! for people and JSON or YAML for scripts (`-o`), and exits with a code per kind of failure
//! ([`CtlError::exit_code`]).
//!
//! As a library: [`Client`] calls the API, [`specs`] reads connector files and diffs configs,
//! and [`CtlArgs`] with [`run`] is the whole command, for a binary of one's own.
//!
//! ```no_run
//! # async fn run() -> Result<(), connect_ctl::CtlError> {
//! let client = connect_ctl::Client::new("http://127.0.0.1:8083", None, None, None)?;
//! let connectors = client.get("/connectors?expand=status").await?;
//! println!("{connectors:#}");
//! # Ok(()) }
//! ```

mod client;
mod cluster;
mod connectors;
mod dlq;
mod output;
mod plugins;
mod rates;
pub mod specs;

pub use client::{Client, CtlError, segment};

use std::path::PathBuf;
use std::process::ExitCode;

use output::Format;

/// `ctl`'s options and command.
#[derive(Debug, clap::Args)]
pub struct CtlArgs {
    /// The worker's REST API.
    #[arg(long, env = "CONNECT_URL", default_value = "http://127.0.0.1:8083", global = true)]
    url: String,
    /// Bearer token (a secret of the worker's `--rest-auth-file`).
    #[arg(long, env = "CONNECT_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Basic auth, `name:password`.
    #[arg(long, env = "CONNECT_USER", hide_env_values = true, global = true)]
    user: Option<String>,
    /// PEM certificate(s) to trust for an HTTPS worker, besides the system's roots.
    #[arg(long, env = "CONNECT_CACERT", global = true)]
    cacert: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table, global = true)]
    output: Format,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CtlCommand {
    /// Every connector: type, state, tasks running, worker and records per second.
    List {
        /// Milliseconds between the two readings of /metrics the rates come from (0: no rates).
        #[arg(long, default_value_t = 1000)]
        rate_window_ms: u64,
    },
    /// One connector: config, state, tasks and offsets.
    Describe {
        /// The connector.
        name: String,
    },
    /// Creates the connector of a file (JSON or YAML: `{"name", "config"}` or a flat config with `name`).
    Create {
        /// The file.
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Creates or updates the connectors of a file or of every file of a directory, showing what changes.
    Apply {
        /// A file, or a directory of `.json`, `.yaml` and `.yml` files.
        #[arg(short = 'f', long)]
        file: PathBuf,
        /// Show the changes only.
        #[arg(long)]
        dry_run: bool,
    },
    /// Deletes a connector.
    Delete {
        /// The connector.
        name: String,
    },
    /// Pauses a connector and its tasks.
    Pause {
        /// The connector.
        name: String,
    },
    /// Resumes a paused or stopped connector.
    Resume {
        /// The connector.
        name: String,
    },
    /// Stops a connector and its tasks (its config is kept; offsets can then be changed).
    Stop {
        /// The connector.
        name: String,
    },
    /// Restarts a connector, and with `--tasks` its tasks.
    Restart {
        /// The connector.
        name: String,
        /// Its tasks too.
        #[arg(long)]
        tasks: bool,
        /// Only what failed.
        #[arg(long)]
        failed: bool,
    },
    /// A connector's committed offsets: get, set from a file, reset.
    Offsets {
        #[command(subcommand)]
        command: OffsetsCommand,
    },
    /// A sink's dead-letter topic: `replay` sends what it dead-lettered back, once its config is fixed.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// The connector plugins, or one plugin's keys with types, defaults and docs.
    Plugins {
        /// A plugin (class name or alias).
        name: Option<String>,
    },
    /// Validates the config of a file: errors per key, with the key meant when one is misspelt.
    Validate {
        /// The file.
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// The cluster's workers and what each runs.
    Cluster,
    /// A connector's state and rate, refreshed in place until interrupted.
    Watch {
        /// The connector.
        name: String,
        /// Milliseconds between refreshes.
        #[arg(long, default_value_t = 2000)]
        interval_ms: u64,
        /// Stop after this many refreshes.
        #[arg(long)]
        count: Option<u64>,
    },
}

#[derive(Debug, clap::Subcommand)]
enum DlqCommand {
    /// Sends the records the sink dead-lettered back to the topics it read them from, each
    /// once (a replay cut short and run again sends nothing twice); the ones that fail again
    /// are dead-lettered again.
    Replay {
        /// The sink connector.
        name: String,
        /// List what would be sent, send nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
enum OffsetsCommand {
    /// Prints the offsets.
    Get {
        /// The connector.
        name: String,
    },
    /// Sets offsets of a stopped connector from a file (`{"offsets": [{"partition": ..., "offset": ...}]}`).
    Set {
        /// The connector.
        name: String,
        /// The file.
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Removes every offset of a stopped connector: it starts over.
    Reset {
        /// The connector.
        name: String,
    },
}

/// What every command works with.
pub(crate) struct Ctl {
    client: Client,
    format: Format,
}

impl Ctl {
    /// Prints `value` as JSON or YAML, or `table` for people.
    fn print(&self, value: &serde_json::Value, table: impl FnOnce() -> String) {
        match self.format {
            Format::Table => print!("{}", table()),
            format => print!("{}", format.document(value)),
        }
    }
}

/// Runs `ctl` and returns its exit code.
pub fn run(args: CtlArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

async fn execute(args: CtlArgs) -> Result<(), CtlError> {
    let client = Client::new(&args.url, args.token.as_deref(), args.user.as_deref(), args.cacert.as_deref())?;
    let ctl = Ctl { client, format: args.output };
    match args.command {
        CtlCommand::List { rate_window_ms } => connectors::list(&ctl, rate_window_ms).await,
        CtlCommand::Describe { name } => connectors::describe(&ctl, &name).await,
        CtlCommand::Create { file } => connectors::create(&ctl, &file).await,
        CtlCommand::Apply { file, dry_run } => connectors::apply(&ctl, &file, dry_run).await,
        CtlCommand::Delete { name } => connectors::lifecycle(&ctl, &name, connectors::Lifecycle::Delete).await,
        CtlCommand::Pause { name } => connectors::lifecycle(&ctl, &name, connectors::Lifecycle::Pause).await,
        CtlCommand::Resume { name } => connectors::lifecycle(&ctl, &name, connectors::Lifecycle::Resume).await,
        CtlCommand::Stop { name } => connectors::lifecycle(&ctl, &name, connectors::Lifecycle::Stop).await,
        CtlCommand::Restart { name, tasks, failed } => connectors::restart(&ctl, &name, tasks, failed).await,
        CtlCommand::Offsets { command } => match command {
            OffsetsCommand::Get { name } => connectors::offsets(&ctl, &name).await,
            OffsetsCommand::Set { name, file } => connectors::set_offsets(&ctl, &name, &file).await,
            OffsetsCommand::Reset { name } => connectors::reset_offsets(&ctl, &name).await,
        },
        CtlCommand::Dlq { command: DlqCommand::Replay { name, dry_run } } => dlq::replay(&ctl, &name, dry_run).await,
        CtlCommand::Plugins { name: None } => plugins::list(&ctl).await,
        CtlCommand::Plugins { name: Some(name) } => plugins::keys(&ctl, &name).await,
        CtlCommand::Validate { file } => plugins::validate(&ctl, &file).await,
        CtlCommand::Cluster => cluster::show(&ctl).await,
        CtlCommand::Watch { name, interval_ms, count } => connectors::watch(&ctl, &name, interval_ms, count).await,
    }
}
