//! Support for the end-to-end tests: the Airflow venv and the harness that drives it.
//!
//! The tests prove that bundles built by this workspace are accepted and run by the **released**
//! `apache-airflow-task-sdk==1.3.2` from PyPI, not by a re-implementation of it:
//!
//! * [`venv::python`] gives the interpreter of a venv holding that package (created once under
//!   `target/airflow-venv`, or taken from `AIRFLOW_E2E_PYTHON`);
//! * [`harness::reader`] asks 1.3.2's own bundle reader and bundle lookup about files;
//! * [`harness::run_task`] runs one task of a bundle under 1.3.2's real supervisor against a
//!   mocked Task Execution API, and returns what the API server was told;
//! * [`pack`] builds and runs the `cargo-airflow` CLI of this workspace;
//! * [`cross`] packs the example for other targets (aarch64, Windows, static musl);
//! * [`git`] serves bundles from a Git repository (Airflow 3.4's `GitDagBundle`);
//! * [`fixture`] builds the example bundle's executable and writes bundle files directly with
//!   `airflow-bundle`, for tests that need hand-made (or deliberately broken) bundles.

pub mod cross;
pub mod deploy;
pub mod fixture;
pub mod git;
pub mod harness;
pub mod pack;
pub mod venv;

use std::path::{Path, PathBuf};

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace")
}

/// The workspace's top-level `Cargo.toml`.
pub fn workspace_manifest() -> PathBuf {
    workspace_root().join("Cargo.toml")
}

/// The cargo target directory the tests build into and keep their venv in: `CARGO_TARGET_DIR`
/// when set (relative paths are taken from the workspace root), else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// The names of this process's variables that a cargo started from a test must not inherit
/// (`airflow_process::toolchain::is_package_env_var`), for escargot's `env_remove`.
pub fn package_env_vars() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| airflow_process::toolchain::is_package_env_var(&k.to_string_lossy()))
        .collect()
}

/// The directory holding the Python harness scripts (`tests/harness`).
pub fn harness_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("harness")
}

/// The median of `xs` (the mean of the two middle values for an even count); NaN when empty.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => xs[n / 2],
        _ => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// How many runs a deployment benchmark makes: `BENCH_RUNS`, or `default`; `None` when the
/// harness only asks for a list of tests (`cargo test --benches` passes `--list`: there are none).
///
/// # Errors
///
/// `BENCH_RUNS` is set but not a number.
pub fn bench_runs(default: usize) -> anyhow::Result<Option<usize>> {
    use anyhow::Context;
    if std::env::args().any(|a| a == "--list") {
        return Ok(None);
    }
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .map(|s| s.parse().context("BENCH_RUNS must be a number"))
        .transpose()?
        .unwrap_or(default);
    Ok(Some(runs))
}
