//! The `connect-worker` command line: `standalone`, `cluster`, `broker`, `test`, `plugins`,
//! `ctl` and `completions`, over the worker library ([`connect_runtime`]), its REST API
//! ([`connect_rest`]) and its admin client ([`connect_ctl`]).
//!
//! The `connect-worker` binary of this crate links the built-in connectors, each behind a
//! cargo feature. A platform team's own binary depends on this crate without its default
//! features, links the connector crates it wants, and calls [`main`]:
//!
//! ```ignore
//! use my_connectors as _;
//!
//! #[global_allocator]
//! static ALLOCATOR: connect_runtime::memory::Allocator = connect_runtime::memory::Allocator::system();
//!
//! fn main() -> std::process::ExitCode {
//!     connect_worker::main()
//! }
//! ```

mod cli;
mod dry_run;

pub use cli::main;
