//! Write Apache Airflow tasks in Rust.
//!
//! A bundle is a binary crate whose `main` hands control to this SDK:
//!
//! ```no_run
//! use airflow_sdk::{Bundle, Dag, TaskContext, TaskResult};
//!
//! fn extract(_ctx: &mut TaskContext) -> TaskResult<Vec<u32>> {
//!     Ok(vec![1, 2, 3])
//! }
//!
//! fn load(_ctx: &mut TaskContext) -> TaskResult {
//!     Ok(())
//! }
//!
//! fn bundle() -> Bundle {
//!     Bundle::new().dag(Dag::new("etl_daily").task("extract", extract).task("load", load))
//! }
//!
//! airflow_sdk::main!(bundle());
//! ```
//!
//! The binary then answers `--airflow-metadata [--format yaml|json]` (what `cargo airflow pack`
//! reads), `--help`, and `--comm=HOST:PORT --logs=HOST:PORT`, which is how Airflow's
//! `ExecutableCoordinator` launches it to run one task.
#![forbid(unsafe_code)]

mod bundle;
mod cli;
mod context;
mod error;
mod runtime;

pub use bundle::{Bundle, Dag, DeclarationError, DeclarationProblem};
pub use cli::serve;
pub use context::TaskContext;
pub use error::{TaskError, TaskResult};

/// The version of this SDK, recorded in the manifest as `sdk.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The manifest format this SDK emits (`airflow_bundle_metadata_version`).
pub const METADATA_VERSION: &str = "1.0";

/// The supervisor schema (coordinator protocol) version this SDK's runtime speaks.
///
/// `apache-airflow-task-sdk` 1.3.2 accepts exactly this value.
pub const SUPERVISOR_SCHEMA_VERSION: &str = "2026-06-16";

/// Defines the bundle's `fn main` from an expression that yields a [`Bundle`].
///
/// ```no_run
/// # use airflow_sdk::{Bundle, Dag};
/// fn bundle() -> Bundle {
///     Bundle::new().dag(Dag::new("my_dag"))
/// }
/// airflow_sdk::main!(bundle());
/// ```
#[macro_export]
macro_rules! main {
    ($bundle:expr) => {
        fn main() -> ::std::process::ExitCode {
            $crate::serve($bundle)
        }
    };
}
