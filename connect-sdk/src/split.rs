//! Built-in ways to split a connector into task configurations, named in
//! `#[connector(split = ...)]` instead of a hand-written function:
//!
//! - `split = identical`: `tasks.max` identical tasks; each takes its share of the work by
//!   its index and the task count in its context (`ctx.task_id()`, `ctx.task_count()`), for
//!   example the numbers `n` with `n % count == id` (a round-robin of a numeric space).
//! - `split = each(field)`: one task per item of the list `field` (a `Vec`), or, with more
//!   items than `tasks.max`, each task a round-robin share of them; each task's config holds
//!   its own items in `field`.
//!
//! ```
//! use connect_sdk::prelude::*;
//!
//! /// Copies the named tables, spread over the tasks.
//! #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
//! #[connector(task = TablesTask, split = each(tables))]
//! struct Tables {
//!     /// The tables to copy.
//!     tables: Vec<String>,
//! }
//!
//! struct TablesTask;
//!
//! impl SourceTask for TablesTask {
//!     type Config = Tables;
//!     async fn open(_config: Tables, _ctx: SourceContext) -> Result<Self> {
//!         Ok(TablesTask)
//!     }
//!     async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
//!         Ok(Vec::new())
//!     }
//! }
//!
//! let config = Tables { tables: ["a", "b", "c"].map(String::from).to_vec() };
//! let tasks = config.task_configs(2);
//! assert_eq!(tasks.iter().map(|t| t.tables.clone()).collect::<Vec<_>>(), [vec!["a", "c"], vec!["b"]]);
//! ```

/// `max_tasks` copies of `config` (at least one): each task takes its share of the work by
/// its index and the task count in its context.
///
/// ```
/// assert_eq!(connect_sdk::split::identical(&"config", 3), ["config"; 3]);
/// ```
pub fn identical<C: Clone>(config: &C, max_tasks: usize) -> Vec<C> {
    vec![config.clone(); max_tasks.max(1)]
}

/// One copy of `config` per item of the list `items` picks in it, at most `max_tasks` (at
/// least one): task `i` holds the items `i`, `i + n`, `i + 2n`, ... of the `n` tasks. An empty
/// list gives one task with an empty list.
///
/// ```
/// let tasks = connect_sdk::split::each(&vec![1, 2, 3, 4, 5], 2, |list| list);
/// assert_eq!(tasks, [vec![1, 3, 5], vec![2, 4]]);
/// ```
pub fn each<C: Clone, T: Clone>(config: &C, max_tasks: usize, items: impl Fn(&mut C) -> &mut Vec<T>) -> Vec<C> {
    let mut template = config.clone();
    let all = std::mem::take(items(&mut template));
    let tasks = all.len().clamp(1, max_tasks.max(1));
    let mut shares: Vec<Vec<T>> = vec![Vec::new(); tasks];
    for (i, item) in all.into_iter().enumerate() {
        shares[i % tasks].push(item);
    }
    shares
        .into_iter()
        .map(|share| {
            let mut task = template.clone();
            *items(&mut task) = share;
            task
        })
        .collect()
}
