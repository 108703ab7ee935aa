//! The command line: `connect-worker standalone ...`, `cluster ...`, `broker ...`, `plugins`,
//! `ctl ...` (the admin client, [`connect_ctl`]) and `completions SHELL`, with options from the
//! command line, `CONNECT_*` environment variables and `--config worker.toml` (in that order of
//! precedence).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use connect_sdk::host::registry::Registry;
use serde::Deserialize;
use serde_json::Value as Json;

use connect_runtime::embedded::{EmbeddedConfig, EmbeddedRocketMq, NameServer};
use connect_runtime::{ClusterSettings, Worker, WorkerBuilder};

/// Runs connectors between external systems and RocketMQ.
#[derive(Debug, Parser)]
#[command(name = "connect-worker", version, about)]
struct Cli {
    /// Log lines as `text` (coloured only on a terminal) or `json` (one object per line, for log shippers).
    #[arg(long, global = true, env = "CONNECT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written to standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines; ANSI colours only when standard error is a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

impl From<LogFormat> for connect_runtime::logging::LogFormat {
    fn from(format: LogFormat) -> Self {
        match format {
            LogFormat::Text => connect_runtime::logging::LogFormat::Text,
            LogFormat::Json => connect_runtime::logging::LogFormat::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a standalone worker; each CONNECTOR.json (`{"name": ..., "config": {...}}`) is created at start-up.
    Standalone(StandaloneArgs),
    /// Runs a member of a cluster: workers with the same cluster name and name server share
    /// connectors, offsets and statuses through RocketMQ topics, and split the work.
    Cluster(ClusterArgs),
    /// Runs only RocketMQ: the name server and broker a standalone worker embeds, as a process
    /// of their own (workers on this machine join with `--namesrv 127.0.0.1:<namesrv-port>`);
    /// with `--namesrv`, one more broker of that name server's RocketMQ cluster.
    Broker(BrokerArgs),
    /// Runs a connector config in-process against fixture records (or, for a source, its
    /// upstream), no broker: prints what it would write as JSON lines, or compares them with
    /// `--expect` (exit 1 when they differ or a record is refused).
    Test(crate::dry_run::TestArgs),
    /// Lists every plugin linked into this binary, with its configuration schema.
    Plugins {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Manages the connectors of a running worker or cluster through its REST API (any Kafka
    /// Connect-compatible one): list, describe, apply, pause, restart, offsets, watch...
    Ctl(connect_ctl::CtlArgs),
    /// Prints shell completions: `connect-worker completions bash > /etc/bash_completion.d/connect-worker`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Options of both modes.
#[derive(Debug, clap::Args)]
struct WorkerArgs {
    /// Worker settings file (TOML with the same keys as these options, e.g. `rest_addr = "127.0.0.1:8083"`).
    #[arg(long, env = "CONNECT_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for connector configs, offsets and the embedded broker's data [default: ./connect-data].
    #[arg(long, env = "CONNECT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// REST listener [default: 127.0.0.1:8083].
    #[arg(long, env = "CONNECT_REST_ADDR")]
    rest_addr: Option<SocketAddr>,
    /// This worker's id, unique in its cluster [default: the REST address in cluster mode, `<host>:<pid>` standalone].
    #[arg(long, env = "CONNECT_WORKER_ID")]
    worker_id: Option<String>,
    /// Milliseconds between offset commits [default: 5000].
    #[arg(long, env = "CONNECT_OFFSET_FLUSH_INTERVAL_MS")]
    offset_flush_interval_ms: Option<u64>,
    /// Exactly-once source delivery (`enabled`: a restarted source task sends nothing the
    /// broker already holds; `disabled`: at least once) [default: enabled].
    #[arg(long, env = "CONNECT_EXACTLY_ONCE_SOURCE_SUPPORT", value_enum)]
    exactly_once_source_support: Option<Support>,
    /// Serve RocketMQ Connect's GET calls that change state (`GET /connectors/{name}/pause`,
    /// `/connectors/stop/all`, `?config=` creates); off, any web page can make a browser send them.
    #[arg(long, env = "CONNECT_REST_GET_WRITES")]
    rest_get_writes: bool,
    /// Users of the REST API, one `name:secret:role` per line (role `read` or `admin`); callers
    /// send `Authorization: Bearer <secret>` or basic auth. Without it every caller is admin.
    #[arg(long, env = "CONNECT_REST_AUTH_FILE")]
    rest_auth_file: Option<PathBuf>,
    /// Paths whose GET needs no credentials, comma-separated (e.g. `/health,/ready,/metrics`).
    #[arg(long, env = "CONNECT_REST_OPEN_PATHS", value_delimiter = ',')]
    rest_open_paths: Vec<String>,
    /// PEM certificate chain of the REST listener: it serves HTTPS (with `--rest-tls-key`).
    #[arg(long, env = "CONNECT_REST_TLS_CERT", requires = "rest_tls_key")]
    rest_tls_cert: Option<PathBuf>,
    /// PEM private key of `--rest-tls-cert`.
    #[arg(long, env = "CONNECT_REST_TLS_KEY", requires = "rest_tls_cert")]
    rest_tls_key: Option<PathBuf>,
    /// Directories, comma-separated, that connector configs (file paths) and `${file:...}`
    /// placeholders may name [default: the data directory]; the worker's own state files in
    /// the data directory are refused in any case.
    #[arg(long, env = "CONNECT_ALLOWED_PATHS", value_delimiter = ',')]
    allowed_paths: Vec<PathBuf>,
    /// Placeholders connector configs may hold, comma-separated: `env` (`${env:NAME}`), `file`
    /// (`${file:path:key}`, under the allowed paths) [default: none, a config holding one is
    /// refused].
    #[arg(long, env = "CONNECT_CONFIG_PROVIDERS", value_delimiter = ',')]
    config_providers: Vec<String>,
    /// Plugins offered, comma-separated names, aliases or `*` patterns (default: every linked plugin).
    #[arg(long, env = "CONNECT_PLUGINS_ALLOW", value_delimiter = ',')]
    plugins_allow: Vec<String>,
    /// Plugins never offered, comma-separated names, aliases or `*` patterns (e.g. `file-*`).
    #[arg(long, env = "CONNECT_PLUGINS_DENY", value_delimiter = ',')]
    plugins_deny: Vec<String>,
    /// Heap budget of the worker (`2GiB`, `512MiB`, bytes): near it, the task holding the most
    /// heap is failed, not the worker [default: none].
    #[arg(long, env = "CONNECT_MEMORY_LIMIT", value_parser = connect_runtime::memory::parse_size)]
    memory_limit: Option<usize>,
    /// Also serve the schema registry (always at `/registry` on the REST listener) at the root
    /// of this address, for tools that take a registry URL without a path [default: none].
    #[arg(long, env = "CONNECT_SCHEMA_REGISTRY_ADDR")]
    schema_registry_addr: Option<SocketAddr>,
}

/// Kafka's `exactly.once.source.support` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
enum Support {
    /// Sources deliver exactly once.
    Enabled,
    /// Sources deliver at least once.
    Disabled,
}

#[derive(Debug, clap::Args)]
struct StandaloneArgs {
    #[command(flatten)]
    worker: WorkerArgs,
    /// Name server of an external RocketMQ cluster; without it the worker starts one in-process.
    #[arg(long, env = "CONNECT_NAMESRV")]
    namesrv: Option<String>,
    /// Port of the embedded name server (0 = any free port) [default: 9876].
    #[arg(long, env = "CONNECT_EMBEDDED_NAMESRV_PORT")]
    embedded_namesrv_port: Option<u16>,
    /// Port of the embedded broker (0 = any free port) [default: 10911].
    #[arg(long, env = "CONNECT_EMBEDDED_BROKER_PORT")]
    embedded_broker_port: Option<u16>,
    /// Connector files to create at start-up.
    connectors: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ClusterArgs {
    #[command(flatten)]
    worker: WorkerArgs,
    /// The cluster's name: workers with the same name share their work.
    #[arg(long, env = "CONNECT_CLUSTER_NAME")]
    cluster_name: Option<String>,
    /// Name server of the RocketMQ cluster the workers share.
    #[arg(long, env = "CONNECT_NAMESRV")]
    namesrv: Option<String>,
    /// Topic of connector configs [default: <cluster-name>-configs].
    #[arg(long, env = "CONNECT_CONFIG_TOPIC")]
    config_topic: Option<String>,
    /// Topic of source offsets [default: <cluster-name>-offsets].
    #[arg(long, env = "CONNECT_OFFSET_TOPIC")]
    offset_topic: Option<String>,
    /// Topic of statuses [default: <cluster-name>-statuses].
    #[arg(long, env = "CONNECT_STATUS_TOPIC")]
    status_topic: Option<String>,
    /// How often this worker writes its heartbeat to the status topic [default: 1000].
    #[arg(long, env = "CONNECT_HEARTBEAT_INTERVAL_MS")]
    heartbeat_interval_ms: Option<u64>,
    /// How long a worker's heartbeat may stand still (it hangs, or lost the broker) before the
    /// others count it gone and take its work over 2 s later [default: 8000].
    #[arg(long, env = "CONNECT_MEMBER_TIMEOUT_MS")]
    member_timeout_ms: Option<u64>,
}

#[derive(Debug, clap::Args)]
struct BrokerArgs {
    /// Directory of the name server's and broker's files [default: ./connect-data/rocketmq].
    #[arg(long, env = "CONNECT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Port of the name server this process starts (not with `--namesrv`).
    #[arg(long, default_value_t = 9876, conflicts_with = "namesrv")]
    namesrv_port: u16,
    /// Join the running name server at host:port instead of starting one: this broker becomes
    /// one more broker of its RocketMQ cluster, and topics created from then on get queues on it
    /// (it listens on loopback, as the embedded one: workers on this machine reach it).
    #[arg(long, requires = "broker_name")]
    namesrv: Option<String>,
    /// The broker's name, unique among the name server's brokers [default: connect-broker].
    #[arg(long)]
    broker_name: Option<String>,
    /// The RocketMQ cluster the broker registers in [default: DefaultCluster].
    #[arg(long)]
    cluster_name: Option<String>,
    /// Broker port (the broker also listens on this port minus 2).
    #[arg(long, default_value_t = 10911)]
    broker_port: u16,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerFile {
    data_dir: Option<PathBuf>,
    rest_addr: Option<SocketAddr>,
    worker_id: Option<String>,
    namesrv: Option<String>,
    embedded_namesrv_port: Option<u16>,
    embedded_broker_port: Option<u16>,
    offset_flush_interval_ms: Option<u64>,
    exactly_once_source_support: Option<Support>,
    rest_get_writes: Option<bool>,
    rest_auth_file: Option<PathBuf>,
    rest_open_paths: Option<Vec<String>>,
    rest_tls_cert: Option<PathBuf>,
    rest_tls_key: Option<PathBuf>,
    allowed_paths: Option<Vec<PathBuf>>,
    config_providers: Option<Vec<String>>,
    plugins_allow: Option<Vec<String>>,
    plugins_deny: Option<Vec<String>>,
    memory_limit: Option<String>,
    schema_registry_addr: Option<SocketAddr>,
    cluster_name: Option<String>,
    config_topic: Option<String>,
    offset_topic: Option<String>,
    status_topic: Option<String>,
    heartbeat_interval_ms: Option<u64>,
    member_timeout_ms: Option<u64>,
}

/// The `connect-worker` command line: parse arguments, run, return the exit code.
///
/// A custom worker binary is `fn main() -> ExitCode { connect_worker::main() }` in a crate
/// that links its connector crates (`use my_connectors as _;`).
pub fn main() -> ExitCode {
    // Counting starts before anything is allocated; a worker without --memory-limit stops it.
    connect_runtime::memory::start_counting();
    let cli = Cli::parse();
    connect_runtime::logging::init(cli.log_format.into());
    if matches!(
        cli.command,
        Command::Plugins { .. } | Command::Broker(_) | Command::Ctl(_) | Command::Completions { .. } | Command::Test(_)
    ) {
        connect_runtime::memory::stop_counting();
    }
    match cli.command {
        Command::Plugins { json } => {
            print_plugins(json);
            ExitCode::SUCCESS
        }
        Command::Standalone(args) => block_on(standalone(args)),
        Command::Cluster(args) => block_on(cluster(args)),
        Command::Broker(args) => block_on(broker(args)),
        Command::Ctl(args) => connect_ctl::run(args),
        Command::Test(args) => crate::dry_run::run(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "connect-worker", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}

fn block_on(run: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_plugins(json: bool) {
    let registry = Registry::global();
    if json {
        let plugins: Vec<Json> = registry
            .plugins()
            .map(|p| {
                serde_json::json!({
                    "name": p.name, "aliases": p.aliases, "kind": p.kind.as_str(), "version": p.version,
                    "description": p.description, "config_schema": p.user_config_schema(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&plugins).unwrap_or_default());
        return;
    }
    if let Err(e) = registry.check() {
        eprintln!("warning: {e}");
    }
    println!("{:<14} {:<28} {:<9} DESCRIPTION", "KIND", "NAME", "VERSION");
    for p in registry.plugins() {
        let summary = p.description.lines().next().unwrap_or_default();
        println!("{:<14} {:<28} {:<9} {summary}", p.kind.as_str(), p.name, p.version);
    }
}

fn read_worker_file(path: &Path) -> anyhow::Result<WorkerFile> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[derive(Deserialize)]
struct ConnectorFile {
    name: String,
    config: Json,
}

/// The settings both modes share, with the file's values under the command line's.
struct Common {
    file: WorkerFile,
    data_dir: PathBuf,
    rest_addr: SocketAddr,
    worker_id: Option<String>,
    settings: Option<connect_runtime::RunnerSettings>,
    rest: connect_rest::RestOptions,
    allowed_paths: Option<connect_runtime::AllowedPaths>,
    config_providers: connect_runtime::ConfigProviders,
    plugins: connect_runtime::PluginFilter,
    memory_limit: Option<usize>,
    schema_registry_addr: Option<SocketAddr>,
}

impl Common {
    fn read(args: WorkerArgs) -> anyhow::Result<Common> {
        let file = match &args.config {
            Some(path) => read_worker_file(path)?,
            None => WorkerFile::default(),
        };
        let flush = args.offset_flush_interval_ms.or(file.offset_flush_interval_ms);
        let support = args.exactly_once_source_support.or(file.exactly_once_source_support);
        let settings = (flush.is_some() || support.is_some()).then(|| {
            let defaults = connect_runtime::RunnerSettings::default();
            connect_runtime::RunnerSettings {
                offset_flush_interval: flush.map_or(defaults.offset_flush_interval, std::time::Duration::from_millis),
                exactly_once_source: support.map_or(defaults.exactly_once_source, |s| s == Support::Enabled),
                ..defaults
            }
        });
        let rest = rest_options(&args, &file)?;
        let listed =
            |given: Vec<String>, filed: &Option<Vec<String>>| if given.is_empty() { filed.clone().unwrap_or_default() } else { given };
        let allowed =
            if args.allowed_paths.is_empty() { file.allowed_paths.clone().unwrap_or_default() } else { args.allowed_paths.clone() };
        let allowed_paths = if allowed.is_empty() { None } else { Some(connect_runtime::AllowedPaths::under(&allowed)?) };
        let config_providers = connect_runtime::ConfigProviders::parse(&listed(args.config_providers.clone(), &file.config_providers))
            .map_err(anyhow::Error::from)?;
        let plugins = connect_runtime::PluginFilter::new(
            &listed(args.plugins_allow.clone(), &file.plugins_allow),
            &listed(args.plugins_deny.clone(), &file.plugins_deny),
        );
        let memory_limit = match (args.memory_limit, &file.memory_limit) {
            (Some(limit), _) => Some(limit),
            (None, Some(text)) => Some(connect_runtime::memory::parse_size(text).map_err(|e| anyhow::anyhow!("memory_limit: {e}"))?),
            (None, None) => None,
        };
        if memory_limit.is_none() {
            connect_runtime::memory::stop_counting();
        }
        Ok(Common {
            allowed_paths,
            config_providers,
            plugins,
            memory_limit,
            data_dir: args.data_dir.or(file.data_dir.clone()).unwrap_or_else(|| PathBuf::from("connect-data")),
            rest_addr: args.rest_addr.or(file.rest_addr).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8083))),
            worker_id: args.worker_id.or(file.worker_id.clone()),
            schema_registry_addr: args.schema_registry_addr.or(file.schema_registry_addr),
            settings,
            rest,
            file,
        })
    }

    /// The schema registry's own listener, when asked for.
    async fn bind_registry(&self) -> anyhow::Result<Option<tokio::net::TcpListener>> {
        match self.schema_registry_addr {
            Some(addr) => Ok(Some(bind(addr).await?)),
            None => Ok(None),
        }
    }

    /// Warns when the API is reachable from other machines and lets anyone in.
    fn warn_if_open(&self) {
        if !self.rest_addr.ip().is_loopback() && self.rest.credentials.is_none() {
            tracing::warn!(addr = %self.rest_addr, "the REST API listens beyond loopback without --rest-auth-file: anyone who reaches it can create connectors that read and write files");
        }
    }

    fn apply(&self, mut builder: WorkerBuilder) -> WorkerBuilder {
        builder = builder.data_dir(&self.data_dir).config_providers(self.config_providers);
        if let Some(allowed) = &self.allowed_paths {
            builder = builder.allowed_paths(allowed.clone());
        }
        if !self.plugins.is_empty() {
            // One registry for the life of the process.
            let offered: &'static Registry = Box::leak(Box::new(self.plugins.apply(Registry::global())));
            builder = builder.registry(offered);
        }
        if let Some(id) = &self.worker_id {
            builder = builder.worker_id(id);
        }
        if let Some(settings) = self.settings {
            builder = builder.settings(settings);
        }
        if let Some(limit) = self.memory_limit {
            builder = builder.memory_limit(limit);
        }
        builder
    }
}

/// The REST listener's options: the command line's, else the worker file's.
fn rest_options(args: &WorkerArgs, file: &WorkerFile) -> anyhow::Result<connect_rest::RestOptions> {
    let credentials = match args.rest_auth_file.as_ref().or(file.rest_auth_file.as_ref()) {
        Some(path) => {
            #[cfg(unix)]
            if let Ok(meta) = std::fs::metadata(path) {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(file = %path.display(), "the REST auth file can be read by other users of this machine: chmod 600 it");
                }
            }
            Some(connect_rest::Credentials::from_file(path)?)
        }
        None => None,
    };
    let open_paths =
        if args.rest_open_paths.is_empty() { file.rest_open_paths.clone().unwrap_or_default() } else { args.rest_open_paths.clone() };
    if !open_paths.is_empty() && credentials.is_none() {
        anyhow::bail!("--rest-open-paths needs --rest-auth-file: without users every path is open");
    }
    if let Some(path) = open_paths.iter().find(|p| !p.starts_with('/')) {
        anyhow::bail!("--rest-open-paths: {path:?} is not a path (it starts with /)");
    }
    let tls = match (args.rest_tls_cert.as_ref().or(file.rest_tls_cert.as_ref()), args.rest_tls_key.as_ref().or(file.rest_tls_key.as_ref()))
    {
        (Some(cert), Some(key)) => Some(connect_rest::RestTls::from_pem_files(cert, key)?),
        (None, None) => None,
        _ => anyhow::bail!("rest_tls_cert and rest_tls_key go together"),
    };
    Ok(connect_rest::RestOptions {
        get_writes: args.rest_get_writes || file.rest_get_writes.unwrap_or(false),
        credentials,
        open_paths,
        tls,
    })
}

async fn standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let mut signal = Box::pin(shutdown_signal());
    let common = Common::read(args.worker)?;
    common.warn_if_open();
    let mut connectors = Vec::new();
    for path in &args.connectors {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let parsed: ConnectorFile = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: expected {{\"name\": ..., \"config\": {{...}}}}: {e}", path.display()))?;
        connectors.push(parsed);
    }
    let file = &common.file;
    let mut builder = common.apply(Worker::builder().standalone(&common.data_dir));
    builder = match args.namesrv.or(file.namesrv.clone()) {
        Some(addr) => builder.namesrv(addr),
        None => builder.embedded(
            args.embedded_namesrv_port.or(file.embedded_namesrv_port).unwrap_or(9876),
            args.embedded_broker_port.or(file.embedded_broker_port).unwrap_or(10911),
        ),
    };
    let listener = bind(common.rest_addr).await?;
    let registry = common.bind_registry().await?;
    let worker = while_starting(
        &listener,
        &common.rest,
        &mut signal,
        builder.schema_registry_url(own_registry_url(&listener, &common.rest)?).build(),
    )
    .await??;
    tracing::info!(namesrv = worker.namesrv_addr(), data_dir = %common.data_dir.display(), "RocketMQ name server in use");
    for connector in connectors {
        let result = worker.put_connector_config(&connector.name, connector.config).await;
        match result {
            Ok((_, created)) => tracing::info!(connector = %connector.name, created, "connector configured from file"),
            Err(e) => anyhow::bail!("connector {}: {e}", connector.name),
        }
    }
    serve_until_signal(worker, [Some(listener), registry], common.rest.clone(), signal).await
}

async fn cluster(args: ClusterArgs) -> anyhow::Result<()> {
    let mut signal = Box::pin(shutdown_signal());
    let common = Common::read(args.worker)?;
    common.warn_if_open();
    let file = &common.file;
    let name = args.cluster_name.or(file.cluster_name.clone()).ok_or_else(|| anyhow::anyhow!("--cluster-name is required"))?;
    let namesrv = args
        .namesrv
        .or(file.namesrv.clone())
        .ok_or_else(|| anyhow::anyhow!("--namesrv is required: the workers of a cluster share one RocketMQ"))?;
    let mut settings = ClusterSettings::new(&name);
    for (slot, value) in [
        (&mut settings.config_topic, args.config_topic.or(file.config_topic.clone())),
        (&mut settings.offset_topic, args.offset_topic.or(file.offset_topic.clone())),
        (&mut settings.status_topic, args.status_topic.or(file.status_topic.clone())),
    ] {
        if let Some(value) = value {
            *slot = value;
        }
    }
    for (slot, value) in [
        (&mut settings.heartbeat_interval, args.heartbeat_interval_ms.or(file.heartbeat_interval_ms)),
        (&mut settings.member_timeout, args.member_timeout_ms.or(file.member_timeout_ms)),
    ] {
        if let Some(ms) = value {
            *slot = std::time::Duration::from_millis(ms);
        }
    }
    let listener = bind(common.rest_addr).await?;
    let registry = common.bind_registry().await?;
    let mut builder = common
        .apply(Worker::builder().cluster_settings(settings).namesrv(namesrv))
        .schema_registry_url(own_registry_url(&listener, &common.rest)?);
    if common.worker_id.is_none() {
        // As Kafka Connect: a worker is known by the address of its REST API.
        let bound = listener.local_addr()?;
        let host = if bound.ip().is_unspecified() { connect_runtime::hostname() } else { bound.ip().to_string() };
        builder = builder.worker_id(format!("{host}:{}", bound.port()));
    }
    let worker = while_starting(&listener, &common.rest, &mut signal, builder.build()).await??;
    tracing::info!(cluster = %name, worker = worker.id(), namesrv = worker.namesrv_addr(), "joined the cluster");
    serve_until_signal(worker, [Some(listener), registry], common.rest.clone(), signal).await
}

async fn broker(args: BrokerArgs) -> anyhow::Result<()> {
    let signal = shutdown_signal();
    let data_dir = args.data_dir.unwrap_or_else(|| Path::new("connect-data").join("rocketmq"));
    let namesrv = match args.namesrv {
        Some(addr) => NameServer::Join(addr),
        None => NameServer::Start { port: args.namesrv_port },
    };
    let mut config = EmbeddedConfig::new(data_dir, namesrv, args.broker_port);
    config.broker_name = args.broker_name.unwrap_or(config.broker_name);
    config.cluster_name = args.cluster_name.unwrap_or(config.cluster_name);
    let mq = EmbeddedRocketMq::start(&config).await?;
    tracing::info!(
        namesrv = mq.namesrv_addr(),
        broker = config.broker_name,
        cluster = config.cluster_name,
        broker_port = args.broker_port,
        data_dir = %config.data_dir.display(),
        "RocketMQ serving"
    );
    signal.await;
    tracing::info!("stopping the broker");
    mq.shutdown().await;
    Ok(())
}

/// This worker's registry as its converters reach it: `/registry` on its REST listener (by
/// loopback when it listens on every address; by `localhost`, the name a certificate of a
/// local listener carries, over HTTPS).
fn own_registry_url(listener: &tokio::net::TcpListener, rest: &connect_rest::RestOptions) -> anyhow::Result<String> {
    let addr = listener.local_addr()?;
    let (scheme, host) = match (rest.tls.is_some(), addr.ip()) {
        (true, ip) if ip.is_loopback() || ip.is_unspecified() => ("https", "localhost".to_owned()),
        (tls, ip) => {
            let host = match ip {
                ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            };
            (if tls { "https" } else { "http" }, host)
        }
    };
    Ok(format!("{scheme}://{host}:{}/registry", addr.port()))
}

async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Runs `starting` (the worker's start-up) while `listener` answers every request with 503
/// "starting" (a start-up waiting for a broker leaves no connection unanswered); a stop
/// signal meanwhile ends the process.
async fn while_starting<T>(
    listener: &tokio::net::TcpListener,
    options: &connect_rest::RestOptions,
    signal: &mut (impl std::future::Future<Output = ()> + Unpin),
    starting: impl std::future::Future<Output = T>,
) -> anyhow::Result<T> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = match listener_clone(listener) {
        Ok(answering) => {
            let options = options.clone();
            Some(tokio::spawn(async move {
                connect_rest::serve_starting_on(answering, &options, async move {
                    let _ = stopped.await;
                })
                .await
            }))
        }
        Err(error) => {
            tracing::warn!(%error, "cannot answer requests while starting; they wait until the worker has started");
            None
        }
    };
    let started = tokio::select! {
        started = starting => Ok(started),
        () = signal => Err(anyhow::anyhow!("stopped by a signal while starting")),
    };
    let _ = stop.send(());
    if let Some(server) = server
        && let Ok(Err(error)) = server.await
    {
        tracing::debug!(%error, "the start-up responder stopped with an error");
    }
    started
}

/// A second handle on `listener`'s socket.
fn listener_clone(listener: &tokio::net::TcpListener) -> anyhow::Result<tokio::net::TcpListener> {
    #[cfg(unix)]
    let handle = std::os::fd::AsFd::as_fd(listener).try_clone_to_owned()?;
    #[cfg(windows)]
    let handle = std::os::windows::io::AsSocket::as_socket(listener).try_clone_to_owned()?;
    let std_listener = std::net::TcpListener::from(handle);
    std_listener.set_nonblocking(true)?;
    Ok(tokio::net::TcpListener::from_std(std_listener)?)
}

/// Serves the REST API until SIGINT or SIGTERM, then stops the worker gracefully.
///
/// The API runs on a runtime of its own (two threads named `connect-rest`): connector code that
/// blocks the threads of the worker's runtime cannot take the API down with it, so an operator
/// still sees (the watchdog names the call) and can stop the task.
async fn serve_until_signal(
    worker: Worker,
    [listener, registry]: [Option<tokio::net::TcpListener>; 2],
    options: connect_rest::RestOptions,
    signal: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let scheme = if options.tls.is_some() { "https" } else { "http" };
    let rest = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("connect-rest")
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the REST API's runtime: {e}"))?;
    let mut servers = Vec::new();
    for (listener, registry_only) in [(listener, false), (registry, true)] {
        let Some(listener) = listener else { continue };
        let what = if registry_only { "schema registry listening" } else { "REST API listening" };
        tracing::info!(addr = %listener.local_addr()?, scheme, authenticated = options.credentials.is_some(), "{what}");
        // The listener moves to the API's runtime.
        let listener = listener.into_std()?;
        let (serving, options, mut stop) = (worker.clone(), options.clone(), stop_rx.clone());
        servers.push(rest.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let stopped = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            if registry_only {
                connect_rest::serve_registry_on(listener, serving, options, stopped).await
            } else {
                connect_rest::serve_on(listener, serving, options, stopped).await
            }
        }));
    }
    signal.await;
    tracing::info!("stopping: tasks flush and commit");
    let _ = stop_tx.send(true);
    for server in servers {
        let _ = server.await;
    }
    tracing::debug!("REST API stopped");
    worker.shutdown().await;
    // Last: what REST calls started on its runtime (RocketMQ admin connections) served the shutdown too.
    rest.shutdown_background();
    tracing::info!("stopped");
    Ok(())
}

/// Resolves at the first SIGINT or SIGTERM received from the moment it is called (not first
/// polled), so one that arrives during a start-up is not missed.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let mut signals: Vec<Signal> =
            [SignalKind::interrupt(), SignalKind::terminate()].into_iter().filter_map(|k| signal(k).ok()).collect();
        async move {
            if signals.is_empty() {
                return std::future::pending().await;
            }
            let received = signals.iter_mut().map(|s| Box::pin(s.recv()));
            futures_util::future::select_all(received).await;
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
