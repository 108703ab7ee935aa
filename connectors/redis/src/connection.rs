//! Connecting to Redis, and its errors as the SDK's.

use std::time::Duration;

use connect_sdk::Error;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};

/// Opens a multiplexed connection to `uri` (`redis://host:6379/db`).
pub async fn connect(uri: &str) -> Result<MultiplexedConnection, Error> {
    let client = Client::open(uri).map_err(|e| Error::with_source(format!("redis.uri {uri:?} is not a Redis URI"), e))?;
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
    client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| redis_error(&format!("cannot connect to {uri}"), e))
}

/// A Redis error: connection trouble is retriable, a refused command is not.
pub fn redis_error(doing: &str, error: RedisError) -> Error {
    let message = format!("{doing}: {error}");
    if error.is_io_error() || error.is_connection_dropped() || error.is_timeout() || error.is_connection_refusal() {
        Error::Retriable { message, source: Some(Box::new(error)) }
    } else {
        Error::Other { message, source: Some(Box::new(error)) }
    }
}
