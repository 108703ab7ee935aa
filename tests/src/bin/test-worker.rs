//! The worker binary the cluster tests run as separate processes: the built-in connectors
//! plus this crate's test connectors.

use connect_tests as _;

fn main() -> std::process::ExitCode {
    connect_runtime::main()
}
