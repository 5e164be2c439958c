//! `cargo airflow`: see the library for the commands.
fn main() -> std::process::ExitCode {
    cargo_airflow::main()
}
