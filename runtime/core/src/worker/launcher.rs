//! The [`Launcher`]: turns connector configs into running work. It holds what starting a
//! unit needs (the plugin registry, the producer, the default converters, the task loop
//! settings) and checks each connector config once: a raw config is resolved (secrets),
//! parsed and validated into a [`ValidatedConfig`], kept per connector revision, and
//! planning and every task start of that revision use it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use connect_sdk::config::common_keys;
use connect_sdk::config::schema_info::{TopicKey, keys_of};
use connect_sdk::host::assembly::{ConnectorPlugin, ValidatedConfig, class_of};

use connect_sdk::config::{ConfigErrors, ConfigMap, ErrorHandling, ExactlyOnceSupport, Tolerance};
use connect_sdk::context::ErrantRecordReporter;
use connect_sdk::converter::ConverterDefaults;
use connect_sdk::host::plugin::{ConnectorFactory, PluginKind};
use connect_sdk::host::registry::Registry;
use connect_sdk::{Error, SinkContext, SourceContext, TaskPlan};
use serde_json::Value as Json;

use super::herder::Launch;
use crate::allowlist::AllowedPaths;
use crate::cluster::lease::{Lease, TaskLease};
use crate::dlq::DeadLetterQueue;
use crate::memory::MemoryBudget;
use crate::metrics::Metrics;
use crate::mq::{MqClient, Producer};
use crate::retry::RetryPolicy;
use crate::secrets::{ConfigProviders, Placeholders, Secrets};
use crate::state::configs::ConnectorSpec;
use crate::state::offsets::SourceOffsets;
use crate::task::exactly_once::{ExactlyOnce, Resume};
use crate::task::sink::SinkRunner;
use crate::task::source::{Routes, SourceRunner};
use crate::task::{RunnerSettings, TaskPipeline, TaskRunner};
use crate::topics::TopicRules;
use crate::watchdog::Calls;

/// Starts connectors and tasks on this worker.
pub(crate) struct Launcher {
    pub(super) registry: &'static Registry,
    converters: ConverterDefaults,
    settings: RunnerSettings,
    mq: MqClient,
    producer: Mutex<Option<Arc<Producer>>>,
    offsets: SourceOffsets,
    metrics: Arc<Metrics>,
    /// This worker's lease in its cluster (`None` standalone): every task checks it before it writes.
    lease: Option<Arc<Lease>>,
    /// Per connector, the revision last validated here, its result and its secrets.
    validated: Mutex<BTreeMap<String, Checked>>,
    /// The providers placeholders are resolved from, and the files connector configs and
    /// `${file:...}` placeholders may name.
    placeholders: Placeholders,
    /// Calls into tasks in progress, watched for those that do not return.
    calls: Calls,
    /// The worker's memory budget, counting every task's heap.
    memory: Option<MemoryBudget>,
    /// This worker's registry URL, for converters given no `schema.registry.url`.
    schema_registry_url: Option<String>,
    /// The topics connectors may use.
    topics: TopicRules,
}

/// One connector revision as checked here.
#[derive(Clone)]
struct Checked {
    revision: u64,
    validated: Arc<ValidatedConfig>,
    /// What its placeholders resolved to, to keep them out of what its units report.
    secrets: Secrets,
}

/// The key registry-backed converters read their registry's URL from.
const SCHEMA_REGISTRY_URL: &str = "schema.registry.url";

impl Launcher {
    pub(super) fn new(
        registry: &'static Registry,
        converters: ConverterDefaults,
        settings: RunnerSettings,
        mq: MqClient,
        producer: Arc<Producer>,
        offsets: SourceOffsets,
        metrics: Arc<Metrics>,
    ) -> Launcher {
        Launcher {
            registry,
            converters,
            settings,
            mq,
            producer: Mutex::new(Some(producer)),
            offsets,
            metrics,
            lease: None,
            validated: Mutex::default(),
            placeholders: Placeholders::default(),
            calls: Calls::default(),
            memory: None,
            schema_registry_url: None,
            topics: TopicRules::default(),
        }
    }

    /// Converters reading `schema.registry.url` and given none use `url` (this worker's registry).
    pub(super) fn with_schema_registry_url(mut self, url: Option<String>) -> Launcher {
        self.schema_registry_url = url;
        self
    }

    /// `config` with this worker's registry as the `schema.registry.url` of its key and value
    /// converters when they read one and the config (or the worker's default converter) gives none.
    fn with_own_registry(&self, mut config: ConfigMap) -> ConfigMap {
        let Some(url) = &self.schema_registry_url else { return config };
        for default in [&self.converters.key, &self.converters.value] {
            let role = &default.alias;
            let given = config.get(role.as_str()).and_then(Json::as_str).filter(|c| !c.is_empty());
            let class = given.map_or_else(|| default.class.clone(), str::to_owned);
            let Ok(plugin) = self.registry.get(&class) else { continue };
            let reads_url = keys_of(&(plugin.config_schema)()).iter().any(|k| k.answers_to(SCHEMA_REGISTRY_URL));
            let key = format!("{role}.{SCHEMA_REGISTRY_URL}");
            let from_default = given.is_none() && default.config.contains_key(SCHEMA_REGISTRY_URL);
            if reads_url && !config.contains_key(&key) && !from_default {
                config.insert(key, Json::String(url.clone()));
            }
        }
        config
    }

    /// Tasks' heaps count against `memory`.
    pub(super) fn with_memory(mut self, memory: Option<MemoryBudget>) -> Launcher {
        self.memory = memory;
        self
    }

    /// Tasks register their calls in `calls` (watched by the worker's watchdog).
    pub(super) fn with_calls(mut self, calls: Calls) -> Launcher {
        self.calls = calls;
        self
    }

    /// Tasks check `lease` before they write (a cluster worker's).
    pub(super) fn with_lease(mut self, lease: Option<Arc<Lease>>) -> Launcher {
        self.lease = lease;
        self
    }

    /// Connector configs and `${file:...}` placeholders may name files under `allowed` only.
    pub(super) fn with_allowed_paths(mut self, allowed: AllowedPaths) -> Launcher {
        self.placeholders.allowed = allowed;
        self
    }

    /// Connectors may use the topics `rules` allow.
    pub(super) fn with_topic_rules(mut self, rules: TopicRules) -> Launcher {
        self.topics = rules;
        self
    }

    /// Placeholders are resolved by `providers` only.
    pub(super) fn with_config_providers(mut self, providers: ConfigProviders) -> Launcher {
        self.placeholders.providers = providers;
        self
    }

    /// `raw` with its placeholders resolved, and the paths it names (the connector's keys marked
    /// `#[config(path)]`) resolved and checked against the allowed paths, so its units open the
    /// paths that were checked; each failure names its key, with the placeholders put back
    /// where a secret would show.
    pub(super) fn resolve(&self, raw: &ConfigMap) -> Result<(ConfigMap, Secrets), ConfigErrors> {
        let (mut resolved, secrets) = match crate::secrets::resolve_tracked(raw, &self.placeholders) {
            Ok(resolved) => resolved,
            // What did resolve is masked in the messages of what did not.
            Err(errors) => return Err(self.secrets_of(raw).redact_errors(errors)),
        };
        let connector_config = resolved.clone();
        self.resolve_paths(&mut resolved, &connector_config).map_err(|e| secrets.redact_errors_of(e, raw))?;
        Ok((resolved, secrets))
    }

    /// Resolves in place the paths of `config`, a config of the connector `connector_config` names.
    fn resolve_paths(&self, config: &mut ConfigMap, connector_config: &ConfigMap) -> Result<(), ConfigErrors> {
        let Some(plugin) = class_of(connector_config).and_then(|class| self.registry.connector(&class).ok()) else {
            return Ok(());
        };
        self.placeholders.allowed.resolve_config(config, &keys_of(&(plugin.config_schema)())).into_result(())
    }

    /// What the placeholders of `raw` that resolve resolve to.
    fn secrets_of(&self, raw: &ConfigMap) -> Secrets {
        let mut secrets = Secrets::default();
        for (key, value) in raw {
            let one = ConfigMap::from_iter([(key.clone(), value.clone())]);
            if let Ok((_, found)) = crate::secrets::resolve_tracked(&one, &self.placeholders) {
                secrets.extend(found);
            }
        }
        secrets
    }

    /// What `spec`'s placeholders resolve to, to keep them out of what its units report.
    pub(super) fn secrets(&self, spec: &ConnectorSpec) -> Secrets {
        match self.cache().get(&spec.name) {
            Some(checked) if checked.revision == spec.revision => checked.secrets.clone(),
            _ => self.secrets_of(&spec.config),
        }
    }

    /// Checks a raw connector config: its placeholders resolved, then every key against the
    /// registered plugins. What creating or updating a connector checks first.
    pub(super) fn validate(&self, raw: &ConfigMap) -> Result<(ValidatedConfig, Secrets), ConfigErrors> {
        let (resolved, secrets) = self.resolve(raw)?;
        let resolved = self.with_own_registry(resolved);
        let validated = ValidatedConfig::new(self.registry, &resolved, &self.converters).map_err(|e| secrets.redact_errors_of(e, raw))?;
        self.check_topics(&resolved, validated.plugin()).map_err(|e| secrets.redact_errors_of(e, raw))?;
        if let ConnectorFactory::Source(factory) = validated.plugin().factory
            && validated.common().exactly_once_support == ExactlyOnceSupport::Required
        {
            let mut errors = ConfigErrors::new();
            if !self.settings.exactly_once_source {
                errors.push("exactly.once.support", "required, but this worker's exactly.once.source.support is disabled");
            } else if !factory.repeatable {
                errors.push(
                    "exactly.once.support",
                    "required, but this connector cannot poll a record again by its offset: at least once only",
                );
            }
            errors.into_result(())?;
        }
        Ok((validated, secrets))
    }

    /// Refuses topics the worker keeps for itself, or RocketMQ does, in every key of the
    /// connector or the common keys that names topics.
    fn check_topics(&self, config: &ConfigMap, plugin: ConnectorPlugin) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let own = keys_of(&(plugin.config_schema)());
        let keys = own.iter().chain(common_keys());
        for key in keys.filter(|k| k.topic == TopicKey::Name) {
            for (name, value) in config.iter().filter(|(name, _)| key.answers_to(name)) {
                let topics: Vec<&str> = match value {
                    Json::String(text) if key.types.iter().any(|t| t == "array") => text.split(',').map(str::trim).collect(),
                    Json::String(text) => vec![text.as_str()],
                    Json::Array(items) => items.iter().filter_map(Json::as_str).collect(),
                    _ => Vec::new(),
                };
                if let Some(refusal) = topics.into_iter().filter(|t| !t.is_empty()).find_map(|t| self.topics.refusal(t)) {
                    errors.push(name.clone(), refusal);
                }
            }
        }
        errors.into_result(())
    }

    /// Keeps `validated` as the check of revision `revision` of connector `name`, so the
    /// units of that revision started here do not check it again.
    pub(super) fn remember(&self, name: &str, revision: u64, (validated, secrets): (ValidatedConfig, Secrets)) {
        self.cache().insert(name.to_owned(), Checked { revision, validated: Arc::new(validated), secrets });
    }

    /// Forgets a deleted connector.
    pub(super) fn forget(&self, name: &str) {
        self.cache().remove(name);
    }

    /// The validated config of `spec`'s revision, checked now if it was not checked here yet.
    fn validated(&self, spec: &ConnectorSpec) -> Result<Arc<ValidatedConfig>, ConfigErrors> {
        if let Some(checked) = self.cache().get(&spec.name)
            && checked.revision == spec.revision
        {
            return Ok(checked.validated.clone());
        }
        let (validated, secrets) = self.validate(&spec.config)?;
        let validated = Arc::new(validated);
        self.cache().insert(spec.name.clone(), Checked { revision: spec.revision, validated: validated.clone(), secrets });
        Ok(validated)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Checked>> {
        self.validated.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a raw config is a source or a sink (a source when its class is unknown).
    pub(super) fn kind_of(&self, config: &ConfigMap) -> PluginKind {
        class_of(config)
            .and_then(|class| self.registry.connector(&class).ok())
            .and_then(ConnectorFactory::of)
            .map_or(PluginKind::Source, ConnectorFactory::kind)
    }

    /// No more tasks start: the producer is handed back for the worker to stop.
    pub(super) fn close(&self) -> Option<Arc<Producer>> {
        self.producer.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn producer(&self) -> Result<Arc<Producer>, Error> {
        self.producer.lock().unwrap_or_else(PoisonError::into_inner).clone().ok_or_else(|| Error::other("the worker is shutting down"))
    }

    fn pipeline(&self, config: &ValidatedConfig, connector: &str, task: u32) -> TaskPipeline {
        let errors = config.common().errors.clone();
        TaskPipeline {
            connector: connector.to_owned(),
            task,
            retry: RetryPolicy::from_config(&errors),
            errors,
            chain: config.chain(),
            converters: config.converters(),
            metrics: self.metrics.task(connector, task),
            settings: self.settings,
            lease: TaskLease::of(self.lease.as_ref()),
            calls: self.calls.of_task(connector, task),
            topics: self.topics.clone(),
        }
    }
}

impl Launch for Launcher {
    fn errors(&self, spec: &ConnectorSpec) -> ErrorHandling {
        self.validated(spec).map(|v| v.common().errors.clone()).unwrap_or_default()
    }

    fn redact(&self, spec: &ConnectorSpec, text: &str) -> String {
        self.secrets(spec).redact(text)
    }

    fn count_auto_restart(&self, connector: &str, id: u32) {
        self.metrics.task(connector, id).add(crate::metrics::Counter::AutoRestarts, 1);
    }

    /// The tasks a connector plans, with the raw config's placeholders put back (secrets are
    /// resolved only to open a task, never stored).
    async fn plan(&self, spec: &ConnectorSpec) -> Result<TaskPlan<ConfigMap>, Error> {
        let validated = self.validated(spec)?;
        let plan = validated.plan_tasks().await?;
        let secrets = self.secrets(spec);
        let tasks = plan
            .tasks
            .into_iter()
            .filter_map(|task| match secrets.redact_json(Json::Object(task)) {
                Json::Object(map) => Some(map),
                _ => None,
            })
            .collect();
        Ok(TaskPlan { tasks, replan_after: plan.replan_after })
    }

    async fn open_task(&self, spec: &ConnectorSpec, id: u32) -> Result<Box<dyn TaskRunner>, Error> {
        let name = spec.name.as_str();
        let tasks = spec.tasks.as_ref().map(|t| t.configs.as_slice()).unwrap_or_default();
        let raw = tasks.get(id as usize).ok_or_else(|| Error::other(format!("{name} has no task {id}")))?;
        let validated = self.validated(spec)?;
        // A task config holds paths its connector derived: they are resolved and checked here
        // too (another worker of the cluster may allow other paths).
        let mut task_config = crate::secrets::resolve(raw, &self.placeholders)?;
        self.resolve_paths(&mut task_config, &spec.config)?;
        let pipeline = self.pipeline(&validated, name, id);
        let producer = self.producer()?;
        let runner: Box<dyn TaskRunner> = match validated.plugin().factory {
            ConnectorFactory::Source(factory) => {
                // An exactly-once task looks at what the broker holds before it opens: records no
                // commit covered give it the offsets it resumes from.
                let resume = match self.settings.exactly_once_source && factory.repeatable {
                    true => Some(
                        Resume::scan(ExactlyOnce::new(name, id, self.mq.clone(), self.offsets.clone()), self.offsets.reader(name)).await?,
                    ),
                    false => None,
                };
                let reader = resume
                    .as_ref()
                    .map_or_else(|| self.offsets.reader(name), |r| r.given.clone() as Arc<dyn connect_sdk::context::OffsetReader>);
                let context = SourceContext::new(name, id, reader);
                let task = (factory.open_task)(task_config, context.clone()).await?;
                Box::new(SourceRunner {
                    pipeline,
                    task,
                    producer,
                    offsets: self.offsets.clone(),
                    routes: Routes::new(self.mq.clone()),
                    context,
                    exactly_once: resume,
                })
            }
            ConnectorFactory::Sink(factory) => {
                let errors = &validated.common().errors;
                let dlq = errors.dead_letter_topic().map(|topic| {
                    Arc::new(DeadLetterQueue { topic: topic.to_owned(), connector: name.to_owned(), task: id, producer: producer.clone() })
                });
                let reporter = match (&dlq, errors.tolerance) {
                    (Some(dlq), _) => Some(dlq.clone() as Arc<dyn ErrantRecordReporter>),
                    (None, Tolerance::All) => Some(Arc::new(LoggingReporter) as Arc<dyn ErrantRecordReporter>),
                    (None, Tolerance::None) => None,
                };
                let context = SinkContext::new(name, id, reporter);
                let topics = validated
                    .common()
                    .topic_selection()
                    .cloned()
                    .ok_or_else(|| Error::other("a sink needs \"topics\" or \"topics.regex\""))?;
                let task = (factory.open_task)(task_config, context.clone()).await?;
                let consumer =
                    self.mq.consumer(&sink_group(name), &format!("{name}-{id}"), &[], self.settings.max_batch_records as i32).await?;
                Box::new(SinkRunner {
                    pipeline,
                    task,
                    context,
                    consumer,
                    dlq,
                    topics,
                    mq: self.mq.clone(),
                    task_count: tasks.len() as u32,
                    lags: Default::default(),
                    committing: None,
                })
            }
        };
        Ok(match &self.memory {
            Some(budget) => budget.count(name, id, runner),
            None => runner,
        })
    }
}

/// The consumer group of a sink connector.
pub(super) fn sink_group(connector: &str) -> String {
    crate::mq::connector_group(connector, "")
}

/// Reports errant records to the log when tolerance is `all` and no dead-letter topic is set.
struct LoggingReporter;

impl ErrantRecordReporter for LoggingReporter {
    fn report<'a>(
        &'a self,
        record: &'a connect_sdk::record::SinkRecord,
        error: &'a Error,
    ) -> connect_sdk::context::BoxFuture<'a, Result<(), Error>> {
        tracing::warn!(topic = %record.topic, offset = record.position(), %error, "errant record skipped");
        Box::pin(async { Ok(()) })
    }
}
