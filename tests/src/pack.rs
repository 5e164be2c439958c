//! The workspace's `cargo-airflow` CLI, built once per test process with escargot.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// Builds the `cargo-airflow` binary of this workspace (same profile as the tests) and returns its
/// path. Built once per process; cargo makes later builds in other processes no-ops.
pub fn cargo_airflow() -> Result<PathBuf> {
    static BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        crate::package_env_vars()
            .into_iter()
            .fold(escargot::CargoBuild::new(), escargot::CargoBuild::env_remove)
            .manifest_path(crate::workspace_manifest())
            .package("cargo-airflow")
            .bin("cargo-airflow")
            .current_release()
            .run()
            .map(|run| run.path().to_owned())
            .map_err(|e| format!("building cargo-airflow with cargo failed (run `cargo build -p cargo-airflow` to see the compiler errors): {e}"))
    })
    .clone()
    .map_err(|e| anyhow::anyhow!(e))
}

/// `cargo-airflow airflow` (the way cargo invokes a `cargo airflow` subcommand), run from the
/// workspace root with stdin closed; add the subcommand and its arguments.
pub fn cargo_airflow_command() -> Result<Command> {
    Ok(airflow_command(Command::new(cargo_airflow()?)))
}

/// [`cargo_airflow_command`] at the lowest CPU priority (`nice -n 19`, inherited by the cargo
/// build it runs): for long cross builds that nothing else waits for, which then take only the
/// CPU the other tests leave idle (CI gives them a test slot of their own beside the deployment
/// tests, which mostly wait on Airflow; `.config/nextest.toml`).
pub(crate) fn cargo_airflow_command_at_low_priority() -> Result<Command> {
    let mut nice = Command::new("nice");
    nice.args(["-n", "19"]).arg(cargo_airflow()?);
    Ok(airflow_command(nice))
}

fn airflow_command(mut cmd: Command) -> Command {
    // The packs share target directories with other test crates' builds.
    airflow_process::toolchain::without_package_env(&mut cmd);
    cmd.arg("airflow")
        .current_dir(crate::workspace_root())
        .stdin(Stdio::null());
    cmd
}

/// Runs `cargo-airflow airflow pack ARGS`, adding `--manifest-path <workspace>/Cargo.toml` unless
/// `ARGS` has one. Returns the output whatever the exit status.
///
/// Tests should pass `-o <temp dir>/...`: concurrent tests packing to the default path would
/// replace each other's file.
pub fn pack<I, S>(args: I) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    pack_with_env(args, &[])
}

/// [`pack`] with environment variables set for it (and so for the cargo build it runs).
fn pack_with_env<I, S>(args: I, env: &[(&str, &str)]) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let mut cmd = cargo_airflow_command()?;
    cmd.envs(env.iter().copied());
    cmd.arg("pack");
    if !args
        .iter()
        .any(|a| a == "--manifest-path" || a.to_string_lossy().starts_with("--manifest-path="))
    {
        cmd.arg("--manifest-path").arg(crate::workspace_manifest());
    }
    cmd.args(&args);
    cmd.output().with_context(|| format!("running {cmd:?}"))
}

/// What `cargo airflow pack --message-format json` prints: the CLI's own report type.
pub use cargo_airflow_report::PackReport;

/// Runs `pack` with `--message-format json`, requires success, and parses the report.
pub fn pack_json<I, S>(args: I) -> Result<PackReport>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    pack_json_with_env(args, &[])
}

/// [`pack_json`] with environment variables set for the pack (and its cargo build).
fn pack_json_with_env<I, S>(args: I, env: &[(&str, &str)]) -> Result<PackReport>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    args.push("--message-format".into());
    args.push("json".into());
    let out = pack_with_env(&args, env)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "cargo airflow pack {args:?} failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report: PackReport = serde_json::from_str(stdout.trim()).with_context(|| {
        format!(
            "parsing `cargo airflow pack --message-format json` output: {stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    anyhow::ensure!(
        report.format_version == cargo_airflow_report::FORMAT_VERSION,
        "`cargo airflow pack` printed a report of format version {}, not {}",
        report.format_version,
        cargo_airflow_report::FORMAT_VERSION
    );
    Ok(report)
}

/// Packs `example-bundle` (release) into `out` and returns the JSON report.
pub fn pack_example(out: &Path) -> Result<PackReport> {
    pack_json([
        OsStr::new("-p"),
        OsStr::new("example-bundle"),
        OsStr::new("-o"),
        out.as_os_str(),
    ])
}

/// Runs `cargo-airflow airflow verify FILES`; exit 0 means every file is fine, 3 that Airflow
/// would reject one.
pub fn verify<I, S>(files: I) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = cargo_airflow_command()?;
    cmd.arg("verify").args(files);
    cmd.output().with_context(|| format!("running {cmd:?}"))
}

/// A directory holding exactly one bundle: `example-bundle` packed by `cargo airflow pack`
/// (release), for use as an `executables_root`. Packed once per process into
/// `<target>/airflow-e2e/example/`; concurrent test processes serialize on a lock file there, and
/// the CLI's atomic write means a bundle another process is running is never changed under it.
///
/// Tests must not modify the directory or its bundle; copy it into a temp dir first. The pack is
/// a no-op (file untouched) when the bundle is unchanged, so within one test run only the first
/// process writes it; editing the example while tests run could race a run with the rewrite.
pub fn example_bundle_dir() -> Result<PathBuf> {
    static DIR: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| pack_shared_example().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// The packed example bundle file itself (`example-bundle` in [`example_bundle_dir`]), for a
/// deployment's executables root.
pub fn example_bundle() -> Result<PathBuf> {
    Ok(example_bundle_dir()?.join("example-bundle"))
}

/// `example-bundle` packed with its `object-store` feature (the task_api dag's object storage
/// tasks), dev profile: the workspace's test build has already compiled the object_store stack
/// in dev, so this costs the SDK and the example only. Packed once per process into
/// `<target>/airflow-e2e/example-object-store/`, under a lock as [`example_bundle_dir`].
pub fn example_bundle_with_object_store() -> Result<PathBuf> {
    static FILE: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    FILE.get_or_init(|| pack_object_store_example().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn pack_object_store_example() -> Result<PathBuf> {
    pack_example_into(
        "example-object-store",
        &["--features", "object-store", "--profile", "dev"],
        &[],
    )
}

fn pack_shared_example() -> Result<PathBuf> {
    let bundle = pack_example_into("example", &[], &[])?;
    Ok(bundle.parent().map(Path::to_owned).unwrap_or(bundle))
}

/// `example-bundle` built with `EXAMPLE_BUNDLE_BUILD=build` (which its `native_versioned` dag
/// returns from each task) and packed, dev profile: two builds are two different binaries, and
/// making the second costs a recompile of the example crate alone. Packed into
/// `<target>/airflow-e2e/example-build-<build>/example-bundle`; returns the bundle file.
///
/// A dev bundle is about 48 MB (debug info), 15 MB compressed in a git repository.
pub fn example_bundle_build(build: &str) -> Result<PathBuf> {
    pack_example_into(
        &format!("example-build-{build}"),
        &["--profile", "dev"],
        &[("EXAMPLE_BUNDLE_BUILD", build)],
    )
}

/// Packs `example-bundle` (with `extra` pack flags and `env` for the build) into
/// `<target>/airflow-e2e/<name>/`, alone there, under a lock file (concurrent test processes
/// serialize on it); returns the bundle.
///
/// Every dev-profile pack takes the same lock: they all build `target/debug/example-bundle`,
/// and one must not replace the executable while another packs it.
fn pack_example_into(name: &str, extra: &[&str], env: &[(&str, &str)]) -> Result<PathBuf> {
    let base = crate::target_dir().join("airflow-e2e");
    let dir = base.join(name);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // The lock lives outside the bundle directory: every executable in an executables_root
    // gets scanned.
    let lock_name = if extra.contains(&"dev") {
        "example-dev"
    } else {
        name
    };
    let lock_path = base.join(format!("{lock_name}.lock"));
    let lock =
        File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    // Only the bundle: this directory is an executables_root, and the generated stub dag file
    // belongs in a dags folder.
    let out = dir.join(crate::fixture::EXAMPLE_PACKAGE);
    let mut args: Vec<&OsStr> = vec![OsStr::new("-p"), OsStr::new("example-bundle")];
    args.extend(extra.iter().map(OsStr::new));
    args.extend([OsStr::new("--no-stubs"), OsStr::new("-o"), out.as_os_str()]);
    let report = pack_json_with_env(args, env)?;
    drop(lock);
    Ok(report.bundle)
}
