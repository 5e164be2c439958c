//! `cargo airflow` (or `cargo-airflow`): see the library for the commands and exit codes.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    cargo_airflow::run(std::env::args_os()).into()
}
