//! Shared helpers: fixture copies and cargo invocations.

use std::path::{Path, PathBuf};
use std::process::Command;

use airflow_bundle::record::Record;

/// The workspace root (the directory of the repository).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Where the tests keep fixture copies (persistent, for speed).
pub fn tests_root() -> PathBuf {
    workspace_root().join("target").join("airflow-build-tests")
}

/// The target directories of every test that builds a bundle crate: these tests, cargo-airflow's
/// (`Mini` in its `record` tests: `host`) and the cross tests of airflow-e2e (`xcross`). Shared
/// so that a fresh machine (CI) compiles the SDK's dependencies and the cross standard libraries
/// once per directory instead of once per test crate; the path is spelled out in each of them.
pub fn fixture_builds_root() -> PathBuf {
    workspace_root().join("target").join("fixture-builds")
}

/// A copy of the fixture bundle.
///
/// Every copy of the fixture is the same package to cargo (a path package at its workspace root
/// gets the same unit hashes wherever it lives), so copies sharing a target directory would
/// overwrite each other's build-script output: a fixture holds its target directory's lock for
/// its whole life (a file lock, so this also holds under nextest).
pub struct Fixture {
    pub dir: PathBuf,
    pub target_dir: PathBuf,
    _lock: std::fs::File,
}

/// An exclusive lock on a target directory name, across threads and processes (nextest runs
/// each test in its own process, and cargo-airflow's tests take the same lock for `host`): an
/// advisory file lock, released when the file is dropped.
fn target_lock(name: &str) -> std::fs::File {
    let dir = fixture_builds_root();
    std::fs::create_dir_all(&dir).unwrap();
    let f = std::fs::File::create(dir.join(format!("{name}.lock"))).unwrap();
    f.lock().unwrap();
    f
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

impl Fixture {
    /// A fresh copy named `name`, building into the shared target directory `target`.
    pub fn new(name: &str, target: &str) -> Fixture {
        let lock = target_lock(target);
        let root = workspace_root();
        let dir = tests_root().join("work").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&root.join("airflow-build/tests/fixtures/mini-bundle"), &dir);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap()
            .replace("@AIRFLOW_SDK@", root.join("airflow-sdk").to_str().unwrap())
            .replace(
                "@AIRFLOW_BUILD@",
                root.join("airflow-build").to_str().unwrap(),
            );
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        // Seed the lock file with the workspace's, so versions match and no network is needed.
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        Fixture {
            dir,
            target_dir: fixture_builds_root().join(target),
            _lock: lock,
        }
    }

    /// `cargo build -v` in the fixture with extra args and environment.
    pub fn cargo(&self, args: &[&str], envs: &[(&str, &str)]) -> Build {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.dir)
            .arg("build")
            .arg("-v")
            .args(args)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("CARGO_TERM_COLOR", "never");
        run_build(cmd, args, envs, &self.dir)
    }

    /// The built executable for a target triple (or the host) and profile directory.
    pub fn exe(&self, target: Option<&str>, profile_dir: &str) -> PathBuf {
        let mut p = self.target_dir.clone();
        if let Some(t) = target {
            p.push(t);
        }
        p.push(profile_dir);
        let windows = target.map_or(cfg!(windows), |t| t.contains("windows"));
        p.push(if windows {
            "mini-bundle.exe"
        } else {
            "mini-bundle"
        });
        p
    }

    /// The record embedded in the host debug executable.
    pub fn record(&self) -> Record {
        read_record(&self.exe(None, "debug"))
    }

    /// Writes a file in the fixture.
    pub fn write(&self, rel: &str, content: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

/// `cargo build -v ARGS -p example-bundle` of the workspace itself (not a copy) into the shared
/// target directory `target`, with the environment cleaned as [`Fixture::cargo`] cleans it.
///
/// A copy of a crate outside this workspace can never share its path dependencies' builds with
/// the workspace's: cargo hashes a path package's place relative to the workspace root into its
/// unit names. airflow-e2e's cross tests pack the workspace's `example-bundle`; a test that
/// builds it with the same profile, flags and environment finds it built (or builds it for
/// them). Tests must not modify the workspace's sources: a test that edits the bundle needs a
/// [`Fixture`].
pub fn build_workspace_example(target: &str, args: &[&str], envs: &[(&str, &str)]) -> Build {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // At the lowest CPU priority, as airflow-e2e's packs of the same AArch64 and Windows builds
    // (its `Cross::low_priority`): these long builds take the CPU the other tests leave idle (CI
    // gives them a test slot of their own beside the deployment tests, which mostly wait on
    // Airflow; .config/nextest.toml).
    let mut cmd = Command::new("nice");
    cmd.args(["-n", "19"]).arg(cargo);
    cmd.current_dir(workspace_root())
        .arg("build")
        .arg("-v")
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .args(["-p", EXAMPLE_PACKAGE])
        .args(args)
        .env("CARGO_TARGET_DIR", fixture_builds_root().join(target))
        .env("CARGO_TERM_COLOR", "never");
    run_build(cmd, args, envs, &workspace_root())
}

/// The workspace's example bundle package (and bin).
pub const EXAMPLE_PACKAGE: &str = "example-bundle";

/// Runs a `cargo build` command with `envs`, without the caller's `AIRFLOW_BUILD_*` and rustflags
/// variables and the test process's own cargo variables; requires success.
fn run_build(mut cmd: Command, args: &[&str], envs: &[(&str, &str)], dir: &Path) -> Build {
    airflow_process::toolchain::without_package_env(&mut cmd);
    for (k, _) in std::env::vars() {
        if k.starts_with("AIRFLOW_BUILD_") || k == "RUSTFLAGS" || k == "CARGO_ENCODED_RUSTFLAGS" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "cargo build {args:?} failed in {}:\n{stderr}",
        dir.display()
    );
    let ran_build_script = stderr
        .lines()
        .any(|l| l.contains("Running `") && l.contains("build-script-build"));
    Build {
        stderr,
        ran_build_script,
    }
}

/// What a cargo run said.
pub struct Build {
    pub stderr: String,
    pub ran_build_script: bool,
}

/// Reads and decodes the record of an executable; panics if there is none.
pub fn read_record(exe: &Path) -> Record {
    airflow_bundle::record::find_in_file(exe)
        .unwrap_or_else(|e| panic!("{}: {e}", exe.display()))
        .unwrap_or_else(|| panic!("{}: no .afmeta record", exe.display()))
}

/// Runs `exe --airflow-metadata --format json` (through `runner` if given) and returns stdout.
pub fn metadata_of(runner: &[&str], exe: &Path) -> String {
    let out = if let Some((first, rest)) = runner.split_first() {
        Command::new(first)
            .args(rest)
            .arg(exe)
            .args(["--airflow-metadata", "--format", "json"])
            .output()
    } else {
        Command::new(exe)
            .args(["--airflow-metadata", "--format", "json"])
            .output()
    }
    .expect("run bundle");
    assert!(
        out.status.success(),
        "{} --airflow-metadata failed: {}",
        exe.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
