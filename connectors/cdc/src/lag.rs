//! How far a CDC task is behind its database, reported to the worker through its
//! [`SourceContext`] after every poll: bytes of change log not read yet (measured against the
//! log's head every few seconds), seconds from the database writing the last change read to
//! now (0 once the stream is drained), and the initial snapshot's rows read of its total.

use std::time::{Duration, Instant};

use connect_sdk::SourceContext;
use connect_sdk::record::now_millis;

/// A table the database estimates to hold fewer rows than this is counted exactly when a
/// snapshot begins (in the snapshot's transaction); a larger one is taken at its estimate.
pub const COUNT_ROWS_BELOW: u64 = 1_000_000;

/// How often a task asks its database where the change log's head is.
const HEAD_INTERVAL: Duration = Duration::from_secs(5);

/// One task's lag, as it reads.
pub struct LagReport {
    ctx: SourceContext,
    /// When the log's head was last asked for (`None`: never).
    head_checked: Option<Instant>,
    bytes: Option<u64>,
    seconds: Option<f64>,
    /// The snapshot's rows read and total (`None`: no snapshot in this run).
    snapshot: Option<(u64, u64)>,
}

impl LagReport {
    /// Reports through `ctx`.
    pub fn new(ctx: SourceContext) -> LagReport {
        LagReport { ctx, head_checked: None, bytes: None, seconds: None, snapshot: None }
    }

    /// Whether to ask the database where its change log's head is now (every 5 s).
    pub fn head_due(&self) -> bool {
        self.head_checked.is_none_or(|at| at.elapsed() >= HEAD_INTERVAL)
    }

    /// The bytes of change log between what was read and the head, as just measured (`None`:
    /// the database could not tell).
    pub fn bytes_behind(&mut self, bytes: Option<u64>) {
        self.head_checked = Some(Instant::now());
        self.bytes = bytes;
        self.report();
    }

    /// A poll of the change stream ended: `newest_change_ms` is when the database wrote the
    /// newest change it read (`None`: it read none), `drained` whether the stream had nothing
    /// more waiting (the task is caught up).
    pub fn streamed(&mut self, newest_change_ms: Option<i64>, drained: bool) {
        self.seconds =
            if drained { Some(0.0) } else { newest_change_ms.map(|ms| (now_millis() - ms).max(0) as f64 / 1000.0).or(self.seconds) };
        self.report();
    }

    /// A snapshot of `rows_total` rows (counted or estimated) begins.
    pub fn snapshot_begins(&mut self, rows_total: u64) {
        self.snapshot = Some((0, rows_total));
        self.report();
    }

    /// `rows` more rows of the snapshot were read; `last`: they were its last.
    pub fn snapshot_read(&mut self, rows: u64, last: bool) {
        if let Some((done, total)) = &mut self.snapshot {
            *done += rows;
            if last {
                // An estimate may have been off either way: the snapshot is read.
                *total = *done;
            }
        }
        self.report();
    }

    fn report(&self) {
        self.ctx.report_lag(self.bytes, self.seconds);
        if let Some((done, total)) = self.snapshot {
            self.ctx.report_snapshot(done, total);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use connect_sdk::lag::SnapshotProgress;
    use connect_sdk::testing::InMemoryOffsetStore;

    use super::*;

    #[test]
    fn reports_the_snapshot_then_how_far_behind_the_stream_is() {
        let ctx = SourceContext::new("cdc", 0, Arc::new(InMemoryOffsetStore::new()));
        let mut lag = LagReport::new(ctx.clone());
        assert!(lag.head_due());
        lag.snapshot_begins(100);
        lag.snapshot_read(60, false);
        assert_eq!(ctx.lag().snapshot, Some(SnapshotProgress { rows_done: 60, rows_total: 100 }));
        lag.snapshot_read(30, true);
        assert_eq!(ctx.lag().snapshot, Some(SnapshotProgress { rows_done: 90, rows_total: 90 }), "read: the total is what was read");
        lag.bytes_behind(Some(8192));
        assert!(!lag.head_due(), "asked again 5 s later");
        lag.streamed(Some(now_millis() - 3_000), false);
        let seconds = ctx.lag().seconds.unwrap();
        assert!((2.9..10.0).contains(&seconds), "{seconds}");
        assert_eq!(ctx.lag().bytes, Some(8192));
        lag.streamed(None, false);
        assert_eq!(ctx.lag().seconds, Some(seconds), "no change read: the last measure stays");
        lag.streamed(None, true);
        assert_eq!(ctx.lag().seconds, Some(0.0), "drained: caught up");
    }
}
