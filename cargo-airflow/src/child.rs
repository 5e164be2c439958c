//! Running a child process that must not hang this one or fill its memory: the bounded runner of
//! [`airflow_process::child`] (stdin closed, a timeout, stdout read up to a limit, the end of
//! stderr kept), with every child registered with [`crate::signals`] while it runs, so Ctrl-C
//! stops it too.

use std::process::Command;

pub use airflow_process::child::{Finished, Limits, RunError, last_lines};

/// Runs `cmd` under `limits` and returns what it printed, whatever its exit status; a signal
/// that stops `cargo airflow` stops the child too.
pub fn run(cmd: &mut Command, limits: Limits) -> Result<Finished, RunError> {
    airflow_process::child::run_watched(cmd, limits, crate::signals::ChildGuard::new)
}
