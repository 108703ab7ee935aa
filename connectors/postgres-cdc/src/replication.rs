//! The replication session: creates the slot (exporting its snapshot), streams the slot's
//! changes, and reports back the position up to which the worker made them durable, so the
//! server keeps the WAL after it and frees what is before it.

use std::time::{Duration, Instant};

use connect_sdk::{Error, Result};
use pgwire_replication::{Lsn, PgWireError, ReplicationClient, ReplicationConfig, ReplicationEvent, TlsConfig};

use crate::database::Endpoint;
use crate::types::SESSION_OPTIONS;

/// How long opening waits for a slot still held by a session that is ending (a task that
/// was just stopped, a worker that was killed and whose connection the server has not yet
/// noticed is gone).
const SLOT_BUSY_WAIT: Duration = Duration::from_secs(60);

/// A slot just created.
pub struct CreatedSlot {
    /// The position from which the slot streams.
    pub consistent_point: u64,
    /// The snapshot other sessions import to read the tables as of `consistent_point`.
    pub snapshot: String,
}

/// One replication session on one slot.
pub struct Stream {
    client: ReplicationClient,
    slot: String,
    /// Whether the session streams (else it waits after creating the slot).
    streaming: bool,
}

fn replication_error(doing: &str, error: PgWireError) -> Error {
    let message = format!("{doing}: {error}");
    if error.is_transient() { Error::Retriable { message, source: Some(Box::new(error)) } } else { Error::with_source(message, error) }
}

fn config(endpoint: &Endpoint, slot: &str, publication: &str, start: u64) -> ReplicationConfig {
    let mut config = ReplicationConfig::new(&endpoint.host, &endpoint.user, &endpoint.password, &endpoint.database, slot, publication)
        .with_port(endpoint.port)
        .with_tls(TlsConfig::disabled());
    config.start_lsn = Lsn::from_u64(start);
    config.status_interval = Duration::from_secs(5);
    config.buffer_events = 4096;
    config.options = Some(SESSION_OPTIONS.to_owned());
    config.application_name = Some(format!("connect-{slot}"));
    config
}

impl Stream {
    /// Creates `slot` on a new session and exports its snapshot. The session then waits: the
    /// snapshot stays importable until [`Stream::start`] streams from the slot.
    pub async fn create_slot(endpoint: &Endpoint, slot: &str, publication: &str) -> Result<(Stream, CreatedSlot)> {
        let mut client = ReplicationClient::connect_gated(config(endpoint, slot, publication, 0))
            .await
            .map_err(|e| replication_error("cannot open a replication session", e))?;
        let rows = client
            .simple_query(&format!("CREATE_REPLICATION_SLOT {slot} LOGICAL pgoutput EXPORT_SNAPSHOT"))
            .await
            .map_err(|e| replication_error(&format!("cannot create the replication slot {slot}"), e))?;
        let text = |i: usize| rows.first().and_then(|r| r.get(i)).and_then(|v| v.as_ref()).map(|b| String::from_utf8_lossy(b).into_owned());
        let consistent_point = text(1).and_then(|l| Lsn::parse(&l).ok()).map(Lsn::as_u64);
        let (Some(consistent_point), Some(snapshot)) = (consistent_point, text(2)) else {
            return Err(Error::other(format!("CREATE_REPLICATION_SLOT {slot} answered {rows:?}")));
        };
        Ok((Stream { client, slot: slot.to_owned(), streaming: false }, CreatedSlot { consistent_point, snapshot }))
    }

    /// Creates `slot` without a snapshot (to stream from now).
    pub async fn create_slot_only(endpoint: &Endpoint, slot: &str, publication: &str) -> Result<()> {
        let mut client = ReplicationClient::connect_gated(config(endpoint, slot, publication, 0))
            .await
            .map_err(|e| replication_error("cannot open a replication session", e))?;
        client
            .simple_query(&format!("CREATE_REPLICATION_SLOT {slot} LOGICAL pgoutput NOEXPORT_SNAPSHOT"))
            .await
            .map_err(|e| replication_error(&format!("cannot create the replication slot {slot}"), e))?;
        // Dropping a session that did not start ends it.
        drop(client);
        Ok(())
    }

    /// Streams from a slot created by [`Stream::create_slot`] (ends its snapshot).
    pub async fn start(&mut self) -> Result<()> {
        self.client.start().await.map_err(|e| replication_error("cannot start replication", e))?;
        self.client.wait_started().await.map_err(|e| replication_error(&format!("cannot stream from slot {}", self.slot), e))?;
        self.streaming = true;
        Ok(())
    }

    /// Streams from an existing `slot`, from `from` (or the slot's confirmed position when
    /// that is later), reporting `from` as done. Waits for a slot another session still holds.
    pub async fn open(endpoint: &Endpoint, slot: &str, publication: &str, from: u64) -> Result<Stream> {
        let started = Instant::now();
        loop {
            let mut client = ReplicationClient::connect(config(endpoint, slot, publication, from))
                .await
                .map_err(|e| replication_error("cannot open a replication session", e))?;
            match client.wait_started().await {
                Ok(()) => return Ok(Stream { client, slot: slot.to_owned(), streaming: true }),
                Err(e) if e.to_string().contains("is active for PID") && started.elapsed() < SLOT_BUSY_WAIT => {
                    connect_sdk::tracing::info!(slot, "the replication slot is still held by another session; waiting for it");
                    connect_sdk::tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(replication_error(&format!("cannot stream from slot {slot}"), e)),
            }
        }
    }

    /// The next event, or `None` when none came within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<ReplicationEvent>> {
        match connect_sdk::tokio::time::timeout(wait, self.client.recv()).await {
            Err(_elapsed) => Ok(None),
            Ok(Ok(Some(event))) => Ok(Some(event)),
            Ok(Ok(None)) => Err(Error::retriable(format!("the replication stream of slot {} ended", self.slot))),
            Ok(Err(e)) => Err(replication_error(&format!("the replication stream of slot {} failed", self.slot), e)),
        }
    }

    /// Tells the server everything before `lsn` is durable: the slot may free that WAL.
    pub fn acknowledge(&self, lsn: u64) {
        self.client.update_applied_lsn(Lsn::from_u64(lsn));
    }

    /// Ends the session (a streaming one sends the last acknowledged position first).
    pub async fn close(mut self) {
        if self.streaming {
            let _ = connect_sdk::tokio::time::timeout(Duration::from_secs(5), self.client.shutdown()).await;
        }
    }
}
