//! A custom static worker: the runtime's CLI, REST API and modes, with exactly the connectors
//! linked here (the built-in file connectors and the example crate's).

use connect_examples as _;
use connect_file as _;

fn main() -> std::process::ExitCode {
    connect_worker::main()
}
