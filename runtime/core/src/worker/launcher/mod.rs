//! The [`Launcher`]: turns connector configs into running work, by job. [`check`] checks a
//! connector config once per revision into a [`check::Revision`] (its validated config and its
//! secrets); the launcher keeps the revision each connector runs, so planning, every task
//! start and every redaction of that revision use it; [`assemble`] makes the runners tasks
//! run in.

pub(crate) mod assemble;
pub(crate) mod check;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use connect_sdk::config::{ConfigErrors, ConfigMap, ErrorHandling};
use connect_sdk::converter::ConverterDefaults;
use connect_sdk::host::registry::Registry;
use connect_sdk::{Error, TaskPlan};
use serde_json::Value as Json;

use super::herder::Launch;
use crate::allowlist::AllowedPaths;
use crate::cluster::lease::Lease;
use crate::memory::MemoryBudget;
use crate::metrics::Metrics;
use crate::mq::{MqClient, Producer};
use crate::secrets::{ConfigProviders, Placeholders, Secrets};
use crate::state::configs::ConnectorSpec;
use crate::state::offsets::SourceOffsets;
use crate::task::{RunnerSettings, TaskRunner};
use crate::topics::TopicRules;
use crate::watchdog::Calls;
use assemble::{RunnerAssembly, TaskToOpen};
use check::{ConfigCheck, Revision};

pub(crate) use assemble::sink_group;

/// Starts connectors and tasks on this worker.
pub(crate) struct Launcher {
    pub(super) check: ConfigCheck,
    assembly: RunnerAssembly,
    /// Per connector, the revision last checked here.
    revisions: Mutex<BTreeMap<String, (u64, Revision)>>,
}

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
        let check = ConfigCheck {
            registry,
            converters,
            placeholders: Placeholders::default(),
            topics: TopicRules::default(),
            exactly_once_source: settings.exactly_once_source,
            schema_registry_url: None,
        };
        let assembly = RunnerAssembly {
            settings,
            mq,
            producer: Mutex::new(Some(producer)),
            offsets,
            metrics,
            lease: None,
            calls: Calls::default(),
            memory: None,
            topics: TopicRules::default(),
        };
        Launcher { check, assembly, revisions: Mutex::default() }
    }

    /// Converters reading `schema.registry.url` and given none use `url` (this worker's registry).
    pub(super) fn with_schema_registry_url(mut self, url: Option<String>) -> Launcher {
        self.check.schema_registry_url = url;
        self
    }

    /// Tasks' heaps count against `memory`.
    pub(super) fn with_memory(mut self, memory: Option<MemoryBudget>) -> Launcher {
        self.assembly.memory = memory;
        self
    }

    /// Tasks register their calls in `calls` (watched by the worker's watchdog).
    pub(super) fn with_calls(mut self, calls: Calls) -> Launcher {
        self.assembly.calls = calls;
        self
    }

    /// Tasks check `lease` before they write (a cluster worker's).
    pub(super) fn with_lease(mut self, lease: Option<Arc<Lease>>) -> Launcher {
        self.assembly.lease = lease;
        self
    }

    /// Connector configs and `${file:...}` placeholders may name files under `allowed` only.
    pub(super) fn with_allowed_paths(mut self, allowed: AllowedPaths) -> Launcher {
        self.check.placeholders.allowed = allowed;
        self
    }

    /// Connectors may use the topics `rules` allow.
    pub(super) fn with_topic_rules(mut self, rules: TopicRules) -> Launcher {
        self.check.topics = rules.clone();
        self.assembly.topics = rules;
        self
    }

    /// Placeholders are resolved by `providers` only.
    pub(super) fn with_config_providers(mut self, providers: ConfigProviders) -> Launcher {
        self.check.placeholders.providers = providers;
        self
    }

    /// The plugins this worker runs.
    pub(super) fn registry(&self) -> &'static Registry {
        self.check.registry
    }

    /// Keeps `revision`, checked, as revision `number` of connector `name`, so the units of
    /// that revision started here do not check it again.
    pub(super) fn remember(&self, name: &str, number: u64, revision: Revision) {
        self.cache().insert(name.to_owned(), (number, revision));
    }

    /// Forgets a deleted connector.
    pub(super) fn forget(&self, name: &str) {
        self.cache().remove(name);
    }

    /// What `spec`'s placeholders resolve to, to keep them out of what its units report.
    pub(super) fn secrets(&self, spec: &ConnectorSpec) -> Secrets {
        match self.cache().get(&spec.name) {
            Some((number, revision)) if *number == spec.revision => revision.secrets.clone(),
            _ => self.check.secrets_of(&spec.config),
        }
    }

    /// No more tasks start: the producer is handed back for the worker to stop.
    pub(super) fn close(&self) -> Option<Arc<Producer>> {
        self.assembly.close()
    }

    /// The worker's producer (an error once the worker stops).
    pub(crate) fn producer(&self) -> Result<std::sync::Arc<crate::mq::Producer>, connect_sdk::Error> {
        self.assembly.producer()
    }

    /// The checked revision `spec` is, checked now if it was not checked here yet.
    fn revision(&self, spec: &ConnectorSpec) -> Result<Revision, ConfigErrors> {
        if let Some((number, revision)) = self.cache().get(&spec.name)
            && *number == spec.revision
        {
            return Ok(revision.clone());
        }
        let revision = self.check.revision(&spec.config)?;
        self.cache().insert(spec.name.clone(), (spec.revision, revision.clone()));
        Ok(revision)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (u64, Revision)>> {
        self.revisions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Launch for Launcher {
    fn errors(&self, spec: &ConnectorSpec) -> ErrorHandling {
        self.revision(spec).map(|r| r.validated.common().errors.clone()).unwrap_or_default()
    }

    fn redact(&self, spec: &ConnectorSpec, text: &str) -> String {
        self.secrets(spec).redact(text)
    }

    fn count_auto_restart(&self, connector: &str, id: u32) {
        self.assembly.metrics.task(connector, id).add(crate::metrics::Counter::AutoRestarts, 1);
    }

    /// The tasks a connector plans, with the raw config's placeholders put back (secrets are
    /// resolved only to open a task, never stored).
    async fn plan(&self, spec: &ConnectorSpec) -> Result<TaskPlan<ConfigMap>, Error> {
        let revision = self.revision(spec)?;
        let plan = revision.validated.plan_tasks().await?;
        let tasks = plan
            .tasks
            .into_iter()
            .filter_map(|task| match revision.secrets.redact_json(Json::Object(task)) {
                Json::Object(map) => Some(map),
                _ => None,
            })
            .collect();
        Ok(TaskPlan { tasks, replan_after: plan.replan_after })
    }

    async fn open_task(&self, spec: &ConnectorSpec, id: u32, generation: u64) -> Result<Box<dyn TaskRunner>, Error> {
        let name = spec.name.as_str();
        let tasks = spec.tasks.as_ref().map(|t| t.configs.as_slice()).unwrap_or_default();
        let raw = tasks.get(id as usize).ok_or_else(|| Error::other(format!("{name} has no task {id}")))?;
        let revision = self.revision(spec)?;
        // Not a config error: a secret or a file it names may be there when the task restarts.
        let config = self.check.task_config(raw, &spec.config).map_err(|e| Error::with_source("the task's config did not resolve", e))?;
        let task = TaskToOpen { connector: name, id, count: tasks.len() as u32, generation, validated: &revision.validated, config };
        self.assembly.open(task).await
    }
}
