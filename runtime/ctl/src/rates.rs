//! Records per second per connector, from two readings of `/metrics` (the records a source's
//! tasks wrote plus those a sink's tasks put). A worker without these metrics (another Kafka
//! Connect implementation) has no rates: `ctl` shows `-`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;

use super::client::Client;

/// The counters a rate is taken from.
const MOVED: [&str; 2] = ["connect_source_records_written_total", "connect_sink_records_put_total"];

/// Records moved so far per connector, when `/metrics` has them.
pub(crate) async fn moved(client: &Client) -> Option<(Instant, BTreeMap<String, f64>)> {
    let text = client.text(Method::GET, "/metrics", None).await.ok()?;
    let at = Instant::now();
    let mut totals = BTreeMap::new();
    for line in text.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Some(labels) = MOVED.iter().find_map(|name| series.strip_prefix(name)?.strip_prefix('{')) else { continue };
        let (Some(connector), Ok(value)) = (label(labels, "connector"), value.parse::<f64>()) else { continue };
        *totals.entry(connector).or_insert(0.0) += value;
    }
    Some((at, totals))
}

/// Records per second per connector over `window`.
pub(crate) async fn rates(client: &Client, window: Duration) -> Option<BTreeMap<String, f64>> {
    let before = moved(client).await?;
    tokio::time::sleep(window).await;
    let after = moved(client).await?;
    Some(between(&before, &after))
}

/// The rates between two readings.
pub(crate) fn between(before: &(Instant, BTreeMap<String, f64>), after: &(Instant, BTreeMap<String, f64>)) -> BTreeMap<String, f64> {
    let seconds = after.0.duration_since(before.0).as_secs_f64().max(1e-3);
    after.1.iter().map(|(name, total)| (name.clone(), (total - before.1.get(name).copied().unwrap_or(0.0)).max(0.0) / seconds)).collect()
}

/// The value of label `key` in `connector="a",task="0"}` (escapes undone).
fn label(labels: &str, key: &str) -> Option<String> {
    let start = labels.find(&format!("{key}=\""))? + key.len() + 2;
    let mut value = String::new();
    let mut chars = labels[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            '"' => return Some(value),
            other => value.push(other),
        }
    }
    None
}

/// A rate for a table cell.
pub(crate) fn cell(rates: Option<&BTreeMap<String, f64>>, connector: &str) -> String {
    match rates {
        None => "-".to_owned(),
        Some(rates) => format!("{:.1}/s", rates.get(connector).copied().unwrap_or(0.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_with_escapes_are_read() {
        assert_eq!(label(r#"connector="orders \"eu\"",task="1"}"#, "connector").as_deref(), Some("orders \"eu\""));
        assert_eq!(label(r#"connector="a",task="1"}"#, "task").as_deref(), Some("1"));
        let now = Instant::now();
        let before = (now, BTreeMap::from([("a".to_owned(), 10.0)]));
        let after = (now + Duration::from_secs(2), BTreeMap::from([("a".to_owned(), 30.0), ("b".to_owned(), 4.0)]));
        assert_eq!(between(&before, &after), BTreeMap::from([("a".to_owned(), 10.0), ("b".to_owned(), 2.0)]));
    }
}
