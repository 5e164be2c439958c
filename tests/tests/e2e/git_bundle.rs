//! Airflow 3.4: native Rust Dags shipped through a Git Dag bundle
//! (`airflow.providers.git.bundles.git.GitDagBundle`), versioned per run.
//!
//! The repository holds one file, the packed `example-bundle`, committed with mode 100755. The
//! dag-processor clones it and runs the file to get its native Dags; each Dag run pins the
//! commit it was created at (`bundle_version`), and every task of the run runs the bundle file of
//! that commit, which the worker checks out under `<dag_bundle_storage_path>/<bundle>/versions/
//! <sha>`. Each task's first log line names the file it runs and its trailer's `binary_sha256`
//! (airflow-sdk), compared here with `cargo airflow inspect --json` of the two builds.
//!
//! [`git_bundle_checks`] takes a running deployment and the repository; the multi-host test
//! (`multihost::worker_hosts_fetch_native_rust_dags_from_a_git_dag_bundle_on_airflow_3_4`) runs
//! them with worker hosts that share no disk with the dag-processor's.

use std::path::Path;
use std::time::{Duration, Instant};

use airflow_e2e::deploy::{Api, Checks, TaskLog, readme_block};
use airflow_e2e::git::WorkingClone;
use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

/// The README's marker before the Git Dag bundle configuration.
pub const README_MARKER: &str =
    "<!-- tested: airflow.cfg for Airflow 3.4 with a Git Dag bundle -->";
/// The repository URL the README's configuration names; the tests substitute their own.
pub const README_REPO_URL: &str = "git://git.example.internal/bundles.git";
/// The Dag bundle storage path the README's configuration names; the tests substitute their own.
pub const README_STORAGE: &str = "/opt/airflow/dag-bundles";
/// The Dag bundle's name in the README's configuration.
pub const DAG_BUNDLE: &str = "rust-git";
/// Where the bundle file sits in the repository (no suffix: Airflow 3.4's importer wants none).
pub const BUNDLE_PATH: &str = "example-bundle";

/// The Dag whose tasks return the build that ran them (`example-bundle/src/native.rs`).
const DAG: &str = "native_versioned";
/// The pool its second task takes a slot of.
const GATE: &str = "versioned_gate";
const DAGS_TIMEOUT: Duration = Duration::from_secs(180);
const RUN_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the dag-processor may take to see a pushed commit (refresh every 5 s, then a parse).
const PUSH_SEEN_TIMEOUT: Duration = Duration::from_secs(120);

/// The configuration of the README's Git Dag bundle section, with the repository URL and the
/// Dag bundle storage path replaced by `repo_url` and `storage`.
pub fn git_bundle_config(repo_url: &str, storage: &Path) -> Result<String> {
    let block = readme_block(README_MARKER)?;
    ensure!(
        block.contains(README_REPO_URL) && block.contains(README_STORAGE),
        "the README's block after {README_MARKER:?} does not name {README_REPO_URL} and {README_STORAGE}"
    );
    let storage = storage.to_str().context("a non-UTF-8 storage path")?;
    Ok(block
        .replace(README_REPO_URL, repo_url)
        .replace(README_STORAGE, storage)
        + "\n")
}

/// Commits `bundle` as [`BUNDLE_PATH`] (mode 100755) in `clone` and pushes it; returns the
/// commit's sha, the Dag bundle version Airflow will record.
pub fn publish(clone: &WorkingClone, bundle: &Path, message: &str) -> Result<String> {
    let sha = clone.commit_executable(bundle, BUNDLE_PATH, message)?;
    clone.push()?;
    Ok(sha)
}

/// What the checks do to the hosts of a deployment, beyond its REST API.
pub trait GitBundleHosts {
    /// Stops serving the repository: a worker's fetch then fails to connect.
    fn stop_git_server(&mut self) -> Result<()>;
    /// Serves the repository again, at the same URL.
    fn start_git_server(&mut self) -> Result<()>;
    /// Deletes every worker's Dag bundle storage (its clones of the repository), as on a worker
    /// host that never ran the Dag: its next task must fetch the run's version.
    fn forget_worker_checkouts(&mut self) -> Result<()>;
}

/// `trailer.binary_sha256` of `cargo airflow inspect --json BUNDLE`.
pub fn inspect_digest(bundle: &Path) -> Result<String> {
    let mut cmd = airflow_e2e::pack::cargo_airflow_command()?;
    cmd.arg("inspect").arg("--json").arg(bundle);
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).context("parsing inspect --json")?;
    report["trailer"]["binary_sha256"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("inspect --json has no trailer.binary_sha256: {report}"))
}

/// One build as the checks know it: the commit holding it and its digest.
#[derive(Debug, Clone)]
struct Build {
    tag: &'static str,
    sha: String,
    digest: String,
}

/// Runs every check on a running Airflow 3.4 deployment whose Dag bundle [`DAG_BUNDLE`]
/// is a `GitDagBundle` (configured as [`git_bundle_config`] says) of the repository `clone`
/// pushes to, where `v1` (`pack::example_bundle_build("v1")`) is already published
/// ([`publish`]) and nothing after it. Publishes `v2`, rewrites the repository's history, and
/// stops and restarts its server through `hosts` (left serving at the end).
///
/// The checks run in order and depend on each other (a pool, `versioned_gate`, holds runs
/// between their two tasks); each failure is recorded in `checks`.
pub fn git_bundle_checks(
    api: &Api,
    clone: &WorkingClone,
    v1: &Path,
    v2: &Path,
    hosts: &mut dyn GitBundleHosts,
    checks: &mut Checks,
) {
    let mut b1 = None;
    checks.check(
        "git: the bundle file is in the repository with mode 100755",
        || {
            let mode = clone.mode_at("origin/main", BUNDLE_PATH)?;
            ensure!(
                mode == "100755",
                "{BUNDLE_PATH} has mode {mode} on origin/main"
            );
            let size = WorkingClone::repo_size(&clone.dir.join(".git"))?;
            eprintln!(
                "git: {BUNDLE_PATH} is {} bytes; the repository's objects take {size} bytes",
                std::fs::metadata(v1)?.len()
            );
            b1 = Some(Build {
                tag: "v1",
                sha: clone.git(&["rev-parse", "origin/main"])?,
                digest: inspect_digest(v1)?,
            });
            Ok(())
        },
    );
    let Some(b1) = b1 else { return };

    checks.check(
        "git: the dag-processor runs the bundle file of its clone and records the commit as the Dag's bundle version",
        || {
            api.wait_for_dags(&[DAG], DAGS_TIMEOUT)?;
            let dag: Value = api.get(&format!("/api/v2/dags/{DAG}"))?;
            ensure!(dag["bundle_name"] == DAG_BUNDLE, "{dag}");
            ensure!(dag["bundle_version"] == b1.sha.as_str(), "want {}: {dag}", b1.sha);
            let errors = api.import_errors()?;
            ensure!(errors.is_empty(), "import errors: {errors:?}");
            Ok(())
        },
    );

    // Runs wait before their second task until this pool has slots.
    checks.check("git: the gate pool is closed (0 slots)", || {
        api.set_pool(GATE, 0)
    });
    checks.check(
        "git: a run pins the commit it was created at, and its first task runs that commit's file",
        || {
            api.trigger(DAG, "held_v1", json!({}))?;
            api.wait_task_state(DAG, "held_v1", "first", "success", RUN_TIMEOUT)
                .map_err(|e| e.context(api.explain_run(DAG, "held_v1")))?;
            expect_run_version(api, "held_v1", &b1)?;
            expect_ran(api, "held_v1", "first", &b1)?;
            // Held by the pool: never started (scheduled, or not yet; the scheduler counts the
            // try when it schedules it).
            let second = api.task_instance(DAG, "held_v1", "second")?;
            ensure!(
                matches!(second.state.as_deref(), None | Some("scheduled"))
                    && second.start_date.is_none(),
                "second should wait for a pool slot: {:?}, started {:?}",
                second.state,
                second.start_date
            );
            Ok(())
        },
    );

    let mut b2 = None;
    checks.check(
        "git: v2 pushed while the v1 run is between tasks; the dag-processor moves the Dag to v2",
        || {
            let sha = publish(clone, v2, "example-bundle v2")?;
            let b = Build {
                tag: "v2",
                sha,
                digest: inspect_digest(v2)?,
            };
            ensure!(
                b.digest != b1.digest,
                "v1 and v2 have the same digest {}",
                b.digest
            );
            wait_dag_version(api, &b.sha)?;
            b2 = Some(b);
            Ok(())
        },
    );
    let Some(b2) = b2 else { return };

    checks.check(
        "git: a run created after the push pins v2, and its first task runs v2",
        || {
            api.trigger(DAG, "new_v2", json!({}))?;
            api.wait_task_state(DAG, "new_v2", "first", "success", RUN_TIMEOUT)
                .map_err(|e| e.context(api.explain_run(DAG, "new_v2")))?;
            expect_run_version(api, "new_v2", &b2)?;
            expect_ran(api, "new_v2", "first", &b2)
        },
    );
    checks.check("git: the gate pool is opened", || api.set_pool(GATE, 4));
    checks.check(
        "git: the v1 run's remaining task still runs v1 after v2 was pushed",
        || {
            api.wait_success(DAG, "held_v1", RUN_TIMEOUT)?;
            expect_ran(api, "held_v1", "second", &b1)?;
            // For the record: the Dag versions Airflow shows. v1 and v2 serialize the same, so
            // Airflow keeps one Dag version and moves its bundle_version to v2 in place
            // (airflow/models/serialized_dag.py write_dag); the run's own bundle_version is
            // what its tasks run.
            let versions: Value = api.get(&format!("/api/v2/dags/{DAG}/dagVersions"))?;
            let run: Value = api.get(&format!("/api/v2/dags/{DAG}/dagRuns/held_v1"))?;
            eprintln!(
                "git: dagVersions {}; held_v1 bundle_version {} dag_versions {}",
                versions["dag_versions"], run["bundle_version"], run["dag_versions"]
            );
            Ok(())
        },
    );
    checks.check("git: the v2 run's remaining task runs v2", || {
        api.wait_success(DAG, "new_v2", RUN_TIMEOUT)?;
        expect_ran(api, "new_v2", "second", &b2)
    });

    checks.check(
        "git: a worker that cannot fetch the run's version (history rewritten) fails the task, naming the Dag bundle and the version",
        || {
            api.set_pool(GATE, 0)?;
            api.trigger(DAG, "lost_version", json!({}))?;
            api.wait_task_state(DAG, "lost_version", "first", "success", RUN_TIMEOUT)
                .map_err(|e| e.context(api.explain_run(DAG, "lost_version")))?;
            expect_run_version(api, "lost_version", &b2)?;
            let rewritten = clone.force_push_rewritten("example-bundle v2, history rewritten")?;
            wait_dag_version(api, &rewritten)?;
            hosts.forget_worker_checkouts()?;
            api.set_pool(GATE, 4)?;
            let run = api.wait_run(DAG, "lost_version", RUN_TIMEOUT)?;
            ensure!(run.state == "failed", "the run ended {}", run.state);
            let ti = api.task_instance(DAG, "lost_version", "second")?;
            ensure!(ti.state.as_deref() == Some("failed"), "second is {:?}", ti.state);
            let reason = launch_failure(api, "lost_version", "second", ti.try_number)?;
            for part in [
                format!("Dag bundle '{DAG_BUNDLE}' cannot be read"),
                format!("Version {} not found in the repository", b2.sha),
            ] {
                ensure!(reason.contains(&part), "no {part:?} in {reason:?}");
            }
            Ok(())
        },
    );

    checks.check(
        "git: a worker that cannot reach the repository fails the task, naming the Dag bundle",
        || {
            hosts.stop_git_server()?;
            let result = (|| {
                hosts.forget_worker_checkouts()?;
                api.trigger(DAG, "unreachable", json!({}))?;
                let run = api.wait_run(DAG, "unreachable", RUN_TIMEOUT)?;
                ensure!(run.state == "failed", "the run ended {}", run.state);
                let ti = api.task_instance(DAG, "unreachable", "first")?;
                ensure!(
                    ti.state.as_deref() == Some("failed"),
                    "first is {:?}",
                    ti.state
                );
                let reason = launch_failure(api, "unreachable", "first", ti.try_number)?;
                let part = format!("Dag bundle '{DAG_BUNDLE}' cannot be read");
                ensure!(reason.contains(&part), "no {part:?} in {reason:?}");
                Ok(())
            })();
            hosts.start_git_server()?;
            result
        },
    );
}

/// Fails unless the run pinned `build`'s commit.
fn expect_run_version(api: &Api, run_id: &str, build: &Build) -> Result<()> {
    let run: Value = api.get(&format!("/api/v2/dags/{DAG}/dagRuns/{run_id}"))?;
    ensure!(
        run["bundle_version"] == build.sha.as_str(),
        "run {run_id} should pin {} ({}): {run}",
        build.sha,
        build.tag
    );
    Ok(())
}

/// Fails unless `task_id` of `run_id` ran `build`: its log names the bundle file checked out at
/// the build's commit with the build's digest, and it returned the build's tag.
fn expect_ran(api: &Api, run_id: &str, task_id: &str, build: &Build) -> Result<()> {
    let ti = api.task_instance(DAG, run_id, task_id)?;
    let log = api.wait_log(DAG, run_id, task_id, ti.try_number, &["binary_sha256"])?;
    let line = log.expect("binary_sha256")?.message();
    ensure!(
        line.contains(&build.digest),
        "{task_id} of {run_id} should run {} (binary_sha256 {}): {line}",
        build.tag,
        build.digest
    );
    let checkout = format!("/{DAG_BUNDLE}/versions/{}/{BUNDLE_PATH} ", build.sha);
    ensure!(
        line.contains(&checkout),
        "{task_id} of {run_id} should run the file of the checkout {checkout:?}: {line}"
    );
    eprintln!("git: {run_id}/{task_id}: {line}");
    let tag = api.return_value(DAG, run_id, task_id)?;
    ensure!(
        tag == json!(build.tag),
        "{task_id} of {run_id} returned {tag}"
    );
    Ok(())
}

/// Waits until the Dag's bundle version is `sha` (the dag-processor fetched and parsed it).
fn wait_dag_version(api: &Api, sha: &str) -> Result<()> {
    let deadline = Instant::now() + PUSH_SEEN_TIMEOUT;
    loop {
        let dag: Value = api.get(&format!("/api/v2/dags/{DAG}"))?;
        if dag["bundle_version"] == sha {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "the Dag's bundle version is {}, not {sha}, {} s after the push",
                dag["bundle_version"],
                PUSH_SEEN_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The reason the task log of a try gives for not launching the runtime (the supervisor's
/// "Cannot launch the task's runtime" record), printed for the record.
fn launch_failure(api: &Api, run_id: &str, task_id: &str, try_number: u32) -> Result<String> {
    let log: TaskLog = api.wait_log(
        DAG,
        run_id,
        task_id,
        try_number,
        &["Cannot launch the task's runtime"],
    )?;
    let record = log.expect("Cannot launch the task's runtime")?;
    let reason = record
        .field("reason")
        .and_then(Value::as_str)
        .with_context(|| format!("no reason in {record}: {record:?}"))?
        .to_owned();
    eprintln!("git: {run_id}/{task_id} task log: {record} reason={reason:?}");
    Ok(reason)
}
