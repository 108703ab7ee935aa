//! The names a config can give: topics ([`check_topic`], RocketMQ's rules) and the bounds
//! every value is held to ([`MAX_VALUE_CHARS`], [`MAX_LIST_ITEMS`]), so a hostile or mistaken
//! config is refused with a message naming its key before anything is sized from it.

/// The longest topic name RocketMQ takes.
pub const MAX_TOPIC_CHARS: usize = 127;

/// The most characters of one config value (a string, or one item of a list) unless its field
/// declares a `maxLength` of its own (`#[schemars(length(max = ...))]`).
pub const MAX_VALUE_CHARS: usize = 64 * 1024;

/// The most items of one list value unless its field declares a `maxItems` of its own.
pub const MAX_LIST_ITEMS: usize = 10_000;

/// Name prefixes RocketMQ keeps for itself: retry and dead-letter topics of consumer groups,
/// and its system topics.
const RESERVED_PREFIXES: [&str; 4] = ["%RETRY%", "%DLQ%", "RMQ_SYS_", "rmq_sys_"];

/// Why a topic name is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTopic {
    /// The name is empty.
    #[error("a topic name cannot be empty")]
    Empty,
    /// The name is longer than RocketMQ allows.
    #[error("a topic name is at most {MAX_TOPIC_CHARS} characters; this one has {0}")]
    TooLong(usize),
    /// The name holds a character RocketMQ refuses.
    #[error("a topic name holds only letters, digits, '-', '_', '%' and '|'; this one holds {0:?}")]
    Character(char),
    /// The name is one RocketMQ keeps for itself.
    #[error("{0:?} names topics RocketMQ keeps for itself")]
    Reserved(&'static str),
}

/// Checks a topic name against RocketMQ's rules (what its client and broker accept): 1 to
/// [`MAX_TOPIC_CHARS`] characters of `[A-Za-z0-9_%|-]`, and not one of its own (`%RETRY%...`,
/// `%DLQ%...`, `RMQ_SYS_...`). The error never repeats the name (it may be megabytes long).
///
/// ```
/// use connect_sdk::config::{InvalidTopic, check_topic};
///
/// assert!(check_topic("orders-v1").is_ok());
/// assert_eq!(check_topic(""), Err(InvalidTopic::Empty));
/// assert_eq!(check_topic("a b"), Err(InvalidTopic::Character(' ')));
/// assert_eq!(check_topic(&"x".repeat(200)), Err(InvalidTopic::TooLong(200)));
/// assert!(check_topic("%RETRY%group").is_err());
/// ```
pub fn check_topic(name: &str) -> Result<(), InvalidTopic> {
    check_topic_part(name)?;
    if name.is_empty() {
        return Err(InvalidTopic::Empty);
    }
    match RESERVED_PREFIXES.iter().find(|prefix| name.starts_with(**prefix)) {
        Some(prefix) => Err(InvalidTopic::Reserved(prefix)),
        None => Ok(()),
    }
}

/// Checks a part of topic names (a prefix, a delimiter): [`check_topic`]'s characters and
/// length, empty allowed.
pub fn check_topic_part(part: &str) -> Result<(), InvalidTopic> {
    let chars = part.chars().count();
    if chars > MAX_TOPIC_CHARS {
        return Err(InvalidTopic::TooLong(chars));
    }
    match part.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '%' | '|'))) {
        Some(c) => Err(InvalidTopic::Character(c)),
        None => Ok(()),
    }
}
