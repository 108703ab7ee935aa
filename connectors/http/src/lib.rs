//! HTTP connectors. `http-sink` sends record values to an endpoint in batches, retrying
//! 5xx/429/network failures with backoff, so a record counts as delivered only on a 2xx
//! (at least once); `http-source` polls an endpoint that pages with a cursor and resumes from
//! the committed cursor (at least once: a page whose offset was not committed is asked for
//! again).

mod client;
mod sink;
mod source;

pub use client::{AuthType, RequestConfig};
pub use sink::{BodyFormat, HttpSink, HttpSinkTask};
pub use source::{HttpSource, HttpSourceTask};
