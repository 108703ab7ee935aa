//! `dlq replay NAME`: sends what a sink dead-lettered back to the topics it read it from, each
//! record once (the worker's `POST /connectors/NAME/dlq/replay`), or with `--dry-run` lists
//! what would be sent.

use reqwest::Method;
use serde_json::Value as Json;

use super::Ctl;
use super::client::{CtlError, segment};
use super::output::{plain, table};

/// `dlq replay NAME [--dry-run]`.
pub(super) async fn replay(ctl: &Ctl, name: &str, dry_run: bool) -> Result<(), CtlError> {
    let path = format!("/connectors/{}/dlq/replay?dry_run={dry_run}", segment(name));
    let report = ctl.client.call(Method::POST, &path, None).await?;
    ctl.print(&report, || summary(&report));
    Ok(())
}

/// The report for people: what was (or would be) sent, then the records listed.
fn summary(report: &Json) -> String {
    let count = |key: &str| report[key].as_u64().unwrap_or(0);
    let verb = if report["dry_run"].as_bool() == Some(true) { "would send back" } else { "sent back" };
    let mut out = format!(
        "{verb} {} records from {} ({} already sent by an earlier replay, {} of other connectors left alone)\n",
        count("replayed"),
        plain(&report["topic"]),
        count("already_replayed"),
        count("other_connectors")
    );
    let rows: Vec<Vec<String>> = report["records"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r| vec![plain(&r["topic"]), plain(&r["queue"]), plain(&r["offset"]), plain(&r["stage"]), plain(&r["error"])])
        .collect();
    if !rows.is_empty() {
        out.push_str(&table(&["TOPIC", "QUEUE", "OFFSET", "STAGE", "ERROR"], &rows));
    }
    out
}
