//! The worker's memory budget (`--memory-limit`): every task's heap is counted, and when the
//! worker's heap approaches the limit the task holding the most of it is failed (its status
//! trace names the limit; the heap is judged on what it really holds, [`held_bytes`]), so a connector that buffers without bound ends as one FAILED task
//! instead of taking the worker, its other connectors and its embedded broker with it.
//!
//! Counting needs the binary's global allocator to be [`Allocator`], which stores with each
//! allocation the task it was made for (a word before the object), and [`start_counting`] at
//! the start of `main` ([`crate::main`] calls it; it costs nothing once [`stop_counting`] turned
//! it off for a worker without a budget):
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: connect_runtime::memory::Allocator = connect_runtime::memory::Allocator::system();
//! ```
//!
//! A task's heap is what its loop allocates and still holds: its connector's buffers, the
//! records it polled or was handed and not yet released. What a connector allocates on threads
//! or async tasks of its own is the worker's. A task is failed between two polls of its loop: a
//! call that never yields (a busy loop) is the watchdog's to report, not this budget's to stop.

use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use connect_sdk::Error;
use futures_util::task::AtomicWaker;
use tracking_allocator::{AllocationGroupId, AllocationGroupToken, AllocationRegistry, AllocationTracker};

use crate::task::{Control, StatusCell, TaskRunner};

/// The global allocator that lets the worker count each task's heap (the system allocator,
/// with one word per allocation naming its task).
pub type Allocator = tracking_allocator::Allocator<std::alloc::System>;

/// How many groups are counted: the worker (group 1) and up to this many tasks at once, less two.
const GROUPS: usize = 4096;
/// Live bytes per allocation group (index: the group's id; 1 is everything outside a task).
static LIVE: [AtomicIsize; GROUPS] = [const { AtomicIsize::new(0) }; GROUPS];
/// The share of the limit at which the biggest task is failed.
const ACT_AT_PERCENT: usize = 90;
/// A task holding less than this is never failed for the budget.
const SMALLEST_CULPRIT: usize = 1 << 20;
/// How often the budget is checked.
const LOOK_EVERY: Duration = Duration::from_millis(100);
/// How long a failed task is given to release its heap before another is chosen.
const RELEASE_WAIT: Duration = Duration::from_secs(2);

/// Adds and removes each allocation's size to and from its group's count.
struct Counter;

impl AllocationTracker for Counter {
    fn allocated(&self, _addr: usize, _object_size: usize, wrapped_size: usize, group: AllocationGroupId) {
        if let Some(live) = LIVE.get(group.as_usize().get()) {
            live.fetch_add(wrapped_size as isize, Ordering::Relaxed);
        }
    }

    fn deallocated(&self, _addr: usize, _size: usize, wrapped_size: usize, source: AllocationGroupId, _current: AllocationGroupId) {
        if let Some(live) = LIVE.get(source.as_usize().get()) {
            live.fetch_sub(wrapped_size as isize, Ordering::Relaxed);
        }
    }
}

/// Starts counting allocations (the earlier the better: an allocation made before is not
/// counted, and may be miscounted when it is freed). Does nothing when the global allocator is
/// not [`Allocator`].
pub fn start_counting() {
    let _ = AllocationRegistry::set_global_tracker(Counter);
    AllocationRegistry::enable_tracking();
}

/// Stops counting (a worker without a budget pays nothing for it); counting cannot resume.
pub fn stop_counting() {
    AllocationRegistry::disable_tracking();
}

/// Whether allocations are counted: the global allocator is [`Allocator`] and counting is on.
pub fn counting() -> bool {
    let Some(mut token) = AllocationGroupToken::register() else { return false };
    let id = token.id().as_usize().get();
    let Some(live) = LIVE.get(id) else { return false };
    let before = live.load(Ordering::Relaxed);
    let probe = {
        let _in_group = token.enter();
        std::hint::black_box(vec![0_u8; 4096])
    };
    let counted = live.load(Ordering::Relaxed) - before >= 4096;
    drop(probe);
    counted
}

/// The worker's heap, as counted.
pub fn heap_bytes() -> usize {
    LIVE.iter().map(|live| live.load(Ordering::Relaxed)).sum::<isize>().max(0) as usize
}

/// The worker's memory as the budget judges it: its counted heap, or its resident anonymous
/// memory when that is less. Heap allocated and never touched holds no memory (each RocketMQ
/// client instance allocates a 32 MiB request table and touches it page by page), and
/// resident memory the allocator kept after a free is no longer the heap's: what is both
/// counted and resident is what the worker really holds.
pub fn held_bytes() -> usize {
    let heap = heap_bytes();
    resident_anonymous_bytes().map_or(heap, |resident| heap.min(resident))
}

/// This process's resident anonymous memory (`RssAnon`, Linux); `None` elsewhere.
fn resident_anonymous_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: usize = status.lines().find_map(|l| l.strip_prefix("RssAnon:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// A task's counted heap.
struct Slot {
    connector: String,
    task: u32,
    group: usize,
    /// The group's count when the task got it (a group is reused once its task ended).
    base: isize,
    /// Why the budget failed the task.
    failed: OnceLock<String>,
    /// Wakes the task's loop to fail it.
    waker: AtomicWaker,
}

impl Slot {
    fn held(&self) -> usize {
        (LIVE[self.group].load(Ordering::Relaxed) - self.base).max(0) as usize
    }
}

/// A worker's memory budget: the limit, the tasks it counts, and the thread that watches them.
#[derive(Clone)]
pub struct MemoryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    limit: usize,
    slots: Mutex<Vec<Weak<Slot>>>,
    /// Groups of ended tasks, for the next tasks.
    free_groups: Mutex<Vec<AllocationGroupToken>>,
    /// Tasks failed for the budget.
    failed: AtomicU64,
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBudget").field("limit", &self.inner.limit).finish_non_exhaustive()
    }
}

impl MemoryBudget {
    /// A budget of `limit` bytes of heap; refused when allocations are not counted in this
    /// process.
    pub fn new(limit: usize) -> Result<MemoryBudget, BudgetError> {
        if !counting() {
            return Err(BudgetError::NotCounting);
        }
        let inner = Arc::new(Inner { limit, slots: Mutex::default(), free_groups: Mutex::default(), failed: AtomicU64::new(0) });
        let watched = Arc::downgrade(&inner);
        let spawned = std::thread::Builder::new().name("connect-memory".into()).spawn(move || {
            let mut waiting_for: Option<(Weak<Slot>, Instant)> = None;
            let mut warned = None::<Instant>;
            loop {
                std::thread::sleep(LOOK_EVERY);
                let Some(inner) = watched.upgrade() else { return };
                inner.look(&mut waiting_for, &mut warned);
            }
        });
        spawned.map_err(BudgetError::Thread)?;
        Ok(MemoryBudget { inner })
    }

    /// The limit, in bytes.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// Tasks failed for the budget so far.
    pub fn failed_total(&self) -> u64 {
        self.inner.failed.load(Ordering::Relaxed)
    }

    /// `runner` with its heap counted as task `task` of `connector`'s, failed when the budget
    /// chooses it.
    pub(crate) fn count(&self, connector: &str, task: u32, runner: Box<dyn TaskRunner>) -> Box<dyn TaskRunner> {
        let token = self
            .inner
            .free_groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .or_else(|| AllocationGroupToken::register().filter(|t| t.id().as_usize().get() < GROUPS));
        let Some(token) = token else {
            tracing::warn!(connector, task, "more tasks than the memory budget counts: this one's heap counts as the worker's");
            return runner;
        };
        let group = token.id().as_usize().get();
        let slot = Arc::new(Slot {
            connector: connector.to_owned(),
            task,
            group,
            base: LIVE[group].load(Ordering::Relaxed),
            failed: OnceLock::new(),
            waker: AtomicWaker::new(),
        });
        let mut slots = self.inner.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.retain(|s| s.strong_count() > 0);
        slots.push(Arc::downgrade(&slot));
        Box::new(Counted { runner, token: Some(token), slot, budget: self.inner.clone() })
    }
}

impl Inner {
    /// One look at the heap: fails the task holding the most when the heap is near the limit
    /// (once the last task failed has released its heap, or had the time to).
    fn look(&self, waiting_for: &mut Option<(Weak<Slot>, Instant)>, warned: &mut Option<Instant>) {
        let threshold = self.limit / 100 * ACT_AT_PERCENT;
        // The counted heap first (no system call while it is below the threshold).
        if heap_bytes() < threshold {
            return;
        }
        let heap = held_bytes();
        if heap < threshold {
            return;
        }
        if let Some((slot, since)) = waiting_for
            && slot.strong_count() > 0
            && since.elapsed() < RELEASE_WAIT
        {
            return;
        }
        let slots: Vec<Arc<Slot>> = self.slots.lock().unwrap_or_else(PoisonError::into_inner).iter().filter_map(Weak::upgrade).collect();
        let biggest = slots.iter().filter(|s| s.failed.get().is_none()).max_by_key(|s| s.held());
        match biggest {
            Some(slot) if slot.held() >= SMALLEST_CULPRIT => {
                let held = slot.held();
                let why = format!(
                    "the worker's heap reached {} of its --memory-limit of {}: this task held the most of it ({}) and was stopped \
                     to keep the worker and its other tasks running",
                    human(heap),
                    human(self.limit),
                    human(held)
                );
                tracing::error!(connector = %slot.connector, task = slot.task, held, heap, limit = self.limit, "memory budget: {why}");
                let _ = slot.failed.set(why);
                slot.waker.wake();
                self.failed.fetch_add(1, Ordering::Relaxed);
                *waiting_for = Some((Arc::downgrade(slot), Instant::now()));
            }
            _ if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(30)) => {
                *warned = Some(Instant::now());
                tracing::warn!(
                    heap,
                    limit = self.limit,
                    "memory budget: the worker's heap is at {} of its --memory-limit of {}, and no task holds 1 MiB of it",
                    human(heap),
                    human(self.limit)
                );
            }
            _ => {}
        }
    }
}

/// A task runner whose loop runs in its task's allocation group.
struct Counted {
    runner: Box<dyn TaskRunner>,
    token: Option<AllocationGroupToken>,
    slot: Arc<Slot>,
    budget: Arc<Inner>,
}

impl TaskRunner for Counted {
    fn run(self: Box<Self>, control: Control, status: StatusCell) -> connect_sdk::context::BoxFuture<'static, Result<(), Error>> {
        let Counted { runner, token, slot, budget } = *self;
        Box::pin(InGroup { inner: Some(runner.run(control, status)), token, slot, budget })
    }
}

/// A task's loop, entering its group at every poll.
struct InGroup {
    inner: Option<connect_sdk::context::BoxFuture<'static, Result<(), Error>>>,
    token: Option<AllocationGroupToken>,
    slot: Arc<Slot>,
    budget: Arc<Inner>,
}

impl std::future::Future for InGroup {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.slot.waker.register(cx.waker());
        if let Some(why) = this.slot.failed.get() {
            // Its heap goes now, not when the worker drops the finished loop.
            this.inner = None;
            return Poll::Ready(Err(Error::other(why)));
        }
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(Ok(())) };
        let _in_group = this.token.as_mut().map(AllocationGroupToken::enter);
        inner.as_mut().poll(cx)
    }
}

impl Drop for InGroup {
    fn drop(&mut self) {
        // The loop's heap is released before its group goes to another task.
        self.inner = None;
        if let Some(token) = self.token.take() {
            self.budget.free_groups.lock().unwrap_or_else(PoisonError::into_inner).push(token);
        }
    }
}

/// `bytes` for people: `850.2 MiB`.
pub(crate) fn human(bytes: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// Why a memory budget cannot be kept.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// Allocations are not counted in this process.
    #[error(
        "--memory-limit needs the binary's global allocator to be connect_runtime::memory::Allocator, \
         and connect_runtime::memory::start_counting() called at the start of main"
    )]
    NotCounting,
    /// The thread that watches the budget did not start.
    #[error("the memory budget's thread could not start: {0}")]
    Thread(#[source] std::io::Error),
}

/// Text that is not a size.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// No number of bytes.
    #[error("{0:?} is not a size: write bytes, or a number with KiB, MiB or GiB")]
    NotANumber(String),
    /// A unit other than B, KiB, MiB, GiB, TiB (or their short forms).
    #[error("{0:?} is not a size: unknown unit {1:?} (use KiB, MiB, GiB or TiB)")]
    UnknownUnit(String, String),
    /// More bytes than this machine counts.
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// A size as operators write it: `1073741824`, `512MiB`, `512M`, `2GiB`, `2g`, `64KiB` (units
/// are powers of 1024; `MB` and `GB` are read as `MiB` and `GiB`).
pub fn parse_size(text: &str) -> Result<usize, SizeError> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: usize = digits.parse().map_err(|_| SizeError::NotANumber(text.to_owned()))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(SizeError::UnknownUnit(text.to_owned(), other.to_owned())),
    };
    number.checked_mul(1 << shift).ok_or_else(|| SizeError::TooLarge(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_without_the_counting_allocator_says_what_is_missing() {
        // This test binary keeps the system allocator.
        start_counting();
        assert!(!counting());
        let refused = MemoryBudget::new(1 << 30).unwrap_err();
        assert!(refused.to_string().contains("global allocator to be connect_runtime::memory::Allocator"), "{refused}");
    }

    #[test]
    fn sizes_read_as_operators_write_them() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size(" 64 KB "), Ok(64 << 10));
        assert!(parse_size("lots").unwrap_err().to_string().contains("not a size"));
        assert!(parse_size("5 parsecs").unwrap_err().to_string().contains("unknown unit"));
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 29), "1.5 GiB");
    }
}
