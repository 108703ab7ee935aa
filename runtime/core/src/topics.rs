//! The topics connectors may use: names RocketMQ accepts ([`connect_sdk::config::check_topic`]),
//! none of RocketMQ's system topics, and none of the worker's own state topics (a source
//! writing into `<cluster>-configs` would corrupt the cluster's connector configs; a sink
//! reading it would carry them elsewhere). Checked when a config is validated (every key a
//! connector marks `#[config(topic)]`, and a sink's `topics`) and for every record a source
//! sends (transforms such as `RegexRouter` make topic names at run time).

use std::collections::BTreeSet;
use std::sync::Arc;

use connect_sdk::config::check_topic;
use rocketmq_model::common::topic::TopicValidator;

/// The topics of one worker's connectors (see the module documentation).
#[derive(Clone, Debug, Default)]
pub(crate) struct TopicRules {
    /// The worker's own topics.
    state: Arc<BTreeSet<String>>,
}

impl TopicRules {
    /// Rules refusing `state`, the worker's own topics, besides what RocketMQ refuses.
    pub(crate) fn new(state: impl IntoIterator<Item = String>) -> TopicRules {
        TopicRules { state: Arc::new(state.into_iter().collect()) }
    }

    /// Why a connector may not use `topic`, if it may not. The message never repeats a name
    /// that is not a valid one (it may be megabytes long).
    pub(crate) fn refusal(&self, topic: &str) -> Option<String> {
        if let Err(invalid) = check_topic(topic) {
            return Some(format!("invalid topic: {invalid}"));
        }
        if self.state.contains(topic) {
            return Some(format!("topic {topic:?} holds this worker's own state: a connector may not use it"));
        }
        if TopicValidator::is_system_topic(topic) || TopicValidator::is_not_allowed_send_topic(topic) {
            return Some(format!("topic {topic:?} is one of RocketMQ's system topics"));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_system_and_malformed_topics_are_refused() {
        let rules = TopicRules::new(["demo-configs".to_owned()]);
        assert_eq!(rules.refusal("orders"), None);
        assert!(rules.refusal("demo-configs").unwrap().contains("own state"));
        assert!(rules.refusal("TBW102").unwrap().contains("system"));
        assert!(rules.refusal("SCHEDULE_TOPIC_XXXX").unwrap().contains("system"));
        assert!(rules.refusal("%DLQ%group").unwrap().contains("keeps for itself"));
        let long = "t".repeat(2_000_000);
        let refused = rules.refusal(&long).unwrap();
        assert!(refused.len() < 200, "the name is not repeated: {} bytes", refused.len());
        assert!(rules.refusal("a b/c%").is_some() && rules.refusal("").is_some());
    }
}
