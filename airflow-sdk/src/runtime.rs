//! Running a task under Airflow's supervisor (the coordinator protocol).

use std::process::ExitCode;

use crate::Bundle;

/// Runs the task Airflow asks for over the `--comm` and `--logs` sockets.
pub(crate) fn run(_bundle: &Bundle, comm: &str, logs: &str) -> ExitCode {
    eprintln!(
        "error: this bundle was launched to run a task (--comm={comm} --logs={logs}), but this airflow-sdk {} cannot run tasks yet; no task was run",
        crate::VERSION
    );
    ExitCode::from(1)
}
