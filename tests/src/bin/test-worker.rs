//! The worker binary the cluster tests run as separate processes: the built-in connectors
//! plus this crate's test connectors (linking a crate is its registration).

use connect_datagen as _;
use connect_file as _;
use connect_http as _;
use connect_jdbc as _;
use connect_mqtt as _;
use connect_mysql_cdc as _;
use connect_nats as _;
use connect_object_store as _;
use connect_postgres_cdc as _;
use connect_rabbitmq as _;
use connect_redis as _;
use connect_rocketmq as _;
use connect_schema_registry as _;
use connect_tests as _;

/// Counts each task's heap for `--memory-limit`.
#[global_allocator]
static ALLOCATOR: connect_runtime::memory::Allocator = connect_runtime::memory::Allocator::system();

fn main() -> std::process::ExitCode {
    connect_worker::main()
}
