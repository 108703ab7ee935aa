//! The `connect-worker` binary: the runtime with the built-in connectors linked in.

#[cfg(feature = "datagen")]
use connect_datagen as _;
#[cfg(feature = "file")]
use connect_file as _;
#[cfg(feature = "http")]
use connect_http as _;
#[cfg(feature = "jdbc")]
use connect_jdbc as _;
#[cfg(feature = "mqtt")]
use connect_mqtt as _;
#[cfg(feature = "mysql-cdc")]
use connect_mysql_cdc as _;
#[cfg(feature = "nats")]
use connect_nats as _;
#[cfg(feature = "object-store")]
use connect_object_store as _;
#[cfg(feature = "postgres-cdc")]
use connect_postgres_cdc as _;
#[cfg(feature = "rabbitmq")]
use connect_rabbitmq as _;
#[cfg(feature = "redis")]
use connect_redis as _;
#[cfg(feature = "rocketmq")]
use connect_rocketmq as _;
#[cfg(feature = "schema-registry")]
use connect_schema_registry as _;

/// Counts each task's heap for `--memory-limit`.
#[global_allocator]
static ALLOCATOR: connect_runtime::memory::Allocator = connect_runtime::memory::Allocator::system();

fn main() -> std::process::ExitCode {
    connect_worker::main()
}
