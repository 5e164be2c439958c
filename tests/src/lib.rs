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
//! * [`git`] serves bundles from a Git repository (Airflow 3.4's `GitDagBundle`);
//! * [`fixture`] builds the example bundle's executable and writes bundle files directly with
//!   `airflow-bundle`, for tests that need hand-made (or deliberately broken) bundles.

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

/// The variables cargo (and nextest) set for a test process that a build started from the test
/// must not see: `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, `OUT_DIR`, ... of the test's own package.
///
/// Build scripts read some of them and declare them with `rerun-if-env-changed` (ring's reads
/// `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, ...); cargo compares such a variable's value in its
/// *own* environment. A cargo started by a test of this package, then one started by another
/// test crate (or CI's plain `cargo test --doc`) in the same target directory, would each find
/// ring's build script dirty and rebuild ring and everything above it (airflow-bundle,
/// airflow-build, each bundle's build script and sidecar, the bundle's link).
pub fn test_process_cargo_vars() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            let k = k.to_string_lossy();
            matches!(
                &*k,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
                    | "OUT_DIR"
            ) || k.starts_with("CARGO_PKG_")
                || k.starts_with("CARGO_BIN_EXE_")
        })
        .collect()
}

/// Removes [`test_process_cargo_vars`] from a command that runs cargo (directly, or through
/// `cargo airflow pack`).
pub fn without_test_cargo_env(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for k in test_process_cargo_vars() {
        cmd.env_remove(k);
    }
    cmd
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
