//! How far behind its upstream a source task is: what a change-data-capture task (or any
//! source reading a log with a head) reports through
//! [`SourceContext::report_lag`](crate::SourceContext::report_lag) and
//! [`SourceContext::report_snapshot`](crate::SourceContext::report_snapshot), and what the
//! worker shows in `/metrics` (`connect_source_lag_bytes`, `connect_source_lag_seconds`,
//! `connect_source_snapshot_rows_done`, `connect_source_snapshot_rows_total`), in the task's
//! status trace while a snapshot is read, and on the dashboard.
//!
//! ```
//! use connect_sdk::lag::{SnapshotProgress, SourceLag};
//! use connect_sdk::testing::InMemoryOffsetStore;
//! use connect_sdk::SourceContext;
//! use std::sync::Arc;
//!
//! let ctx = SourceContext::new("orders-cdc", 0, Arc::new(InMemoryOffsetStore::new()));
//! ctx.report_snapshot(250, 1_000);
//! assert_eq!(ctx.lag().snapshot, Some(SnapshotProgress { rows_done: 250, rows_total: 1_000 }));
//! ctx.report_lag(Some(4_096), Some(1.5));
//! assert_eq!((ctx.lag().bytes, ctx.lag().seconds), (Some(4_096), Some(1.5)));
//! assert_eq!(SourceLag::default().snapshot, None, "nothing reported: nothing shown");
//! ```

/// What a source task last reported of its lag; `None` where it reported nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SourceLag {
    /// Bytes of the upstream's change log (a binlog, a write-ahead log) written and not read
    /// yet.
    pub bytes: Option<u64>,
    /// Seconds from the upstream writing the last change read to now; 0 once the task has read
    /// everything there is.
    pub seconds: Option<f64>,
    /// The initial snapshot's progress (kept once it is done, with `rows_done == rows_total`).
    pub snapshot: Option<SnapshotProgress>,
}

/// Rows of an initial snapshot read so far, of how many it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotProgress {
    /// Rows read.
    pub rows_done: u64,
    /// Rows the snapshot holds (counted, or the database's estimate for a large table), never
    /// fewer than `rows_done`.
    pub rows_total: u64,
}

impl SnapshotProgress {
    /// Whether every row was read.
    pub fn finished(&self) -> bool {
        self.rows_done >= self.rows_total
    }

    /// Percent read, 0 to 100 (100 for an empty snapshot).
    pub fn percent(&self) -> u64 {
        (self.rows_done.min(self.rows_total) * 100).checked_div(self.rows_total).unwrap_or(100)
    }
}

impl SourceLag {
    /// One line for a task's status trace while there is something an operator should know:
    /// a snapshot being read (in steps of 10 %, so the status changes ten times a snapshot),
    /// or the task a minute or more behind its upstream (in whole minutes: the bytes behind
    /// are in `/metrics`). `None` otherwise.
    ///
    /// ```
    /// use connect_sdk::lag::{SnapshotProgress, SourceLag};
    /// let reading = SourceLag { snapshot: Some(SnapshotProgress { rows_done: 2_345, rows_total: 10_000 }), ..SourceLag::default() };
    /// assert_eq!(reading.status_note().as_deref(), Some("reading the initial snapshot: 20 % of 10000 rows"));
    /// let behind = SourceLag { seconds: Some(185.0), bytes: Some(3 << 20), ..SourceLag::default() };
    /// assert_eq!(behind.status_note().as_deref(), Some("3 minutes behind its upstream"));
    /// assert_eq!(SourceLag { seconds: Some(2.0), ..SourceLag::default() }.status_note(), None);
    /// ```
    pub fn status_note(&self) -> Option<String> {
        if let Some(snapshot) = self.snapshot.filter(|s| !s.finished()) {
            let step = snapshot.percent() / 10 * 10;
            return Some(format!("reading the initial snapshot: {step} % of {} rows", snapshot.rows_total));
        }
        let minutes = (self.seconds? / 60.0) as u64;
        if minutes == 0 {
            return None;
        }
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        Some(format!("{minutes} {unit} behind its upstream"))
    }
}
