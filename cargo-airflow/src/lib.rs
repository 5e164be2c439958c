//! The `cargo airflow` subcommand.

/// Runs `cargo airflow` with the process's arguments.
pub fn main() -> std::process::ExitCode {
    eprintln!("error: cargo airflow is not implemented yet");
    std::process::ExitCode::from(1)
}
