//! Airflow across hosts that share no disk: the control host `a` (PostgreSQL, Redis, api-server,
//! scheduler, dag-processor) and two worker hosts `b` and `c` with one Celery worker each
//! (network and mount namespaces: see `DeployOptions::on_hosts`). Nothing the tests built or
//! packed, and nothing of host `a`'s files, is in sight on `b` or `c`; a bundle reaches them only
//! as the deployment ships it. On 3.3 the last check takes glibc away from the worker hosts (every
//! file of Debian's libc6 package emptied in their mount namespace, `Host::strip_glibc`) and runs
//! a static musl build of the example there.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::git_bundle::{GitBundleHosts, git_bundle_checks, git_bundle_config, publish};
use airflow_e2e::deploy::{
    Checks, DeployOptions, Deployment, Executor, Host, readme_config, readme_multihost_config,
};
use airflow_e2e::git::{WorkingClone, init_bare};
use airflow_e2e::pack::{example_bundle, example_bundle_with_object_store};
use airflow_e2e::venv::Release;
use anyhow::{Context, Result, bail, ensure};
use cargo_airflow_report::InspectReport;
use serde_json::json;

const DAGS_TIMEOUT: Duration = Duration::from_secs(180);
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// Scheduler settings of the fault checks: a worker host that stops heartbeating is noticed
/// within seconds, not Airflow's default five minutes.
const FAST_HEARTBEAT_TIMEOUT: &str = "
[scheduler]
task_instance_heartbeat_timeout = 20
task_instance_heartbeat_timeout_detection_interval = 2
";

/// The SHA-256 of the native executable part of `bundle`, as `cargo airflow inspect --json`
/// run on `host` (a copy of the tool in the host's own directory, as an operator would install
/// it there) reports the file at `path`, as the host sees it.
fn digest_on_host(host: &Host, path: &Path) -> Result<String> {
    let tool = host.dir.join("bin").join("cargo-airflow");
    if !tool.exists() {
        std::fs::create_dir_all(host.dir.join("bin"))?;
        std::fs::copy(airflow_e2e::pack::cargo_airflow()?, &tool)?;
    }
    let out = host.run(
        host.command(&tool)?
            .args(["airflow", "inspect", "--json"])
            .arg(path),
    )?;
    let report: InspectReport = serde_json::from_str(&out).context("inspect's JSON report")?;
    Ok(report.trailer.binary_sha256)
}

/// Replaces the bundle `name` in `host`'s executables root with `build`, as an operator upgrades
/// a worker: a new file, atomically renamed over the old one (a task may be running it).
fn upgrade(host: &Host, build: &Path, name: &std::ffi::OsStr) -> Result<()> {
    let bundles = host.dir.join("bundles");
    let staged = bundles.join(".new");
    std::fs::copy(build, &staged).with_context(|| format!("copying {}", build.display()))?;
    std::fs::rename(&staged, bundles.join(name))
        .with_context(|| format!("renaming {} on host {}", staged.display(), host.name))
}

/// The stub dags of the example and of these tests.
fn stub_dag_files() -> [std::path::PathBuf; 2] {
    let dags = airflow_e2e::harness_dir().join("dags");
    [
        dags.join("example_stubs.py"),
        dags.join("multihost_stubs.py"),
    ]
}

/// Airflow 3.3 has no Dag bundle for executables: each worker host carries the bundle in its
/// own `executables_root`, as a worker image would.
#[test]
fn worker_hosts_run_rust_tasks_from_their_own_executables_root_on_airflow_3_3() -> Result<()> {
    let v1 = example_bundle()?;
    let mut opts = DeployOptions::new("multihost-3.3", Release::V3_3)
        .executor(Executor::Celery { workers: 2 })
        .on_hosts()
        .bundle(&v1)
        .sdk_config(
            readme_multihost_config(&readme_config(Release::V3_3, Path::new("{bundles_dir}"))?)?
                + FAST_HEARTBEAT_TIMEOUT,
        );
    for f in stub_dag_files() {
        opts = opts.dag_file(f);
    }
    let dep = Deployment::start(opts)?;
    let api = &dep.api;
    let (b, c) = (dep.host("b")?, dep.host("c")?);
    let bundle_name = v1.file_name().context("a bundle without a name")?;
    let on_host = dep.bundles_dir.join(bundle_name);
    let mut checks = Checks::default();

    checks.check(
        "no shared disk: a worker host sees its own bundle, not host a's files nor the build's",
        || {
            for host in [b, c] {
                let said = host.run(
                    host.command("sh")?
                        .arg("-c")
                        .arg(r#"for f in "$@"; do test -e "$f" && echo "sees $f"; done; test -x "$0" || echo "no bundle at $0""#)
                        .arg(&on_host)
                        .arg(dep.home.join("airflow.cfg"))
                        .arg(dep.home.join("services"))
                        .arg(&v1),
                )?;
                ensure!(said.trim().is_empty(), "host {}: {said}", host.name);
            }
            // Host a (the scheduler's) holds no bundle at all on 3.3: the stub dags are enough.
            ensure!(
                std::fs::read_dir(&dep.bundles_dir)?.next().is_none(),
                "host a's executables root is not empty"
            );
            Ok(())
        },
    );

    api.wait_for_dags(&["example_etl", "multihost"], DAGS_TIMEOUT)?;
    crate::deployment::define_inputs(api)?;

    checks.check(
        "ten concurrent runs: every task succeeds, both worker hosts take work, and each task's log comes from the host that ran it",
        || {
            let runs: Vec<String> = (0..10).map(|i| format!("load_{i}")).collect();
            for run in &runs {
                api.trigger("example_etl", run, json!({}))?;
            }
            let mut hosts = BTreeSet::new();
            let mut problems = Vec::new();
            let mut logged_from = BTreeSet::new();
            for run in &runs {
                let state = api.wait_run("example_etl", run, RUN_TIMEOUT)?.state;
                let tis = api.task_instances("example_etl", run)?;
                if state != "success"
                    || tis.len() != 3
                    || tis.iter().any(|t| t.state.as_deref() != Some("success"))
                {
                    problems.push(format!("{run}: {state}: {}", api.explain_run("example_etl", run)));
                }
                let totals = api.xcom("example_etl", run, "transform", "return_value")?;
                if totals != Some(json!({"orders": 3, "per_customer": {"ada": 2249, "brian": 300}})) {
                    problems.push(format!("{run}: transform pushed {totals:?}"));
                }
                for ti in &tis {
                    let host = ti
                        .hostname
                        .as_deref()
                        .and_then(|h| dep.host_at(h))
                        .with_context(|| format!("{run}/{}: hostname {:?} is no worker host", ti.task_id, ti.hostname))?;
                    hosts.insert(host.name.clone());
                    // The api-server reads the log from the worker host's log server.
                    if ti.task_id == "extract" && logged_from.insert(host.name.clone()) {
                        api.log("example_etl", run, "extract", ti.try_number)?
                            .expect("extracted orders")?;
                    }
                }
            }
            ensure!(problems.is_empty(), "runs that did not succeed: {problems:#?}");
            ensure!(
                hosts.contains("b") && hosts.contains("c"),
                "the 30 task instances ran on {hosts:?}, not on both worker hosts"
            );
            Ok(())
        },
    );

    checks.check(
        "hosts holding different builds: each task runs the bundle of its own host, and `cargo airflow inspect` on each host tells which build is there",
        || {
            // An operator upgrades host c only.
            let v2 = example_bundle_with_object_store()?;
            upgrade(c, &v2, bundle_name)?;
            let on_b = digest_on_host(b, &on_host)?;
            let on_c = digest_on_host(c, &on_host)?;
            ensure!(on_b != on_c, "both hosts report build {on_b}");
            let mut seen = BTreeSet::new();
            for i in 0..10 {
                let run = format!("mixed_{i}");
                api.run_to_success("example_etl", &run, json!({}), RUN_TIMEOUT)?;
                for ti in api.task_instances("example_etl", &run)? {
                    let host = ti.hostname.as_deref().and_then(|h| dep.host_at(h)).context("no host")?;
                    let want = if host.name == "b" { &on_b } else { &on_c };
                    let log = api.log("example_etl", &run, &ti.task_id, ti.try_number)?;
                    log.expect(want).with_context(|| {
                        format!("{run}/{} ran on host {}, whose build is {want}", ti.task_id, host.name)
                    })?;
                    seen.insert(host.name.clone());
                }
                if seen.len() == 2 {
                    return Ok(());
                }
            }
            bail!("ten runs ran only on {seen:?}")
        },
    );

    checks.check(
        "a worker host lost mid-task (SIGKILL to all it runs): the try is retried on the other host and the run succeeds, nothing lost",
        || {
            let run = "host_lost";
            api.trigger("multihost", run, json!({"slow_seconds": 120}))?;
            let ti = api.wait_task_state("multihost", run, "slow_step", "running", RUN_TIMEOUT)?;
            // The step logs that it started before sleeping: wait for it, then cut the power.
            api.wait_log("multihost", run, "slow_step", ti.try_number, &["slow step started"])?
                .expect("slow step started")?;
            let lost = dep
                .host_at(ti.hostname.as_deref().context("running without a hostname")?)
                .context("a running try on no worker host")?;
            lost.kill()?;
            api.wait_success("multihost", run, RUN_TIMEOUT)?;
            let tries = api.tries("multihost", run, "slow_step")?;
            let last = tries.last().context("no tries")?;
            let survivor = last.hostname.as_deref().and_then(|h| dep.host_at(h)).context("no host")?;
            ensure!(
                tries.len() == 2 && survivor.name != lost.name,
                "slow_step tries: {:?} (lost host {})",
                tries.iter().map(|t| (t.try_number, t.state.clone(), t.hostname.clone())).collect::<Vec<_>>(),
                lost.name
            );
            ensure!(
                api.xcom("multihost", run, "slow_step", "return_value")? == Some(json!({"try_number": 2})),
                "slow_step's XCom"
            );
            ensure!(
                api.xcom("multihost", run, "after", "return_value")?
                    == Some(json!({"upstream": {"try_number": 2}})),
                "after's XCom"
            );
            // Every XCom of the earlier runs is still there, those written from the lost host too.
            for i in 0..10 {
                let run = format!("load_{i}");
                ensure!(
                    api.xcom("example_etl", &run, "transform", "return_value")?.is_some(),
                    "{run}'s XCom is gone"
                );
            }
            Ok(())
        },
    );

    checks.check(
        "a worker host whose root has no glibc at all runs the tasks of a static musl bundle (pack: needs no glibc); the glibc build cannot start there",
        || {
            if !airflow_e2e::cross::enabled() {
                return Ok(());
            }
            let (musl, report) = airflow_e2e::cross::example_bundle_musl()?;
            let glibc = report.glibc.as_ref().context("the pack report has no glibc facts")?;
            ensure!(
                glibc.newest.is_none() && glibc.versions.is_empty(),
                "pack says the musl bundle needs {glibc:?}"
            );
            // Every worker host still up (the one lost above stays down).
            let mut up = Vec::new();
            for host in [b, c] {
                if host.is_up()? {
                    up.push(host);
                }
            }
            ensure!(!up.is_empty(), "no worker host is up");
            for host in &up {
                // The operator's new worker image: the musl build.
                upgrade(host, &musl, bundle_name)?;
                // And the glibc build beside it, outside the executables root.
                let gnu = host.dir.join("bin").join("example-bundle-gnu");
                std::fs::create_dir_all(host.dir.join("bin"))?;
                std::fs::copy(&v1, &gnu)?;
                let covered = host.strip_glibc()?;
                ensure!(covered >= 10, "host {}: only {covered} files of libc6 covered", host.name);
                ensure!(
                    host.run(&mut host.command("/bin/true")?).is_err(),
                    "host {}: /bin/true still starts: glibc is still there",
                    host.name
                );
                ensure!(
                    host.run(host.command(&gnu)?.arg("--airflow-metadata")).is_err(),
                    "host {}: the glibc build of the bundle started without glibc",
                    host.name
                );
                host.run(host.command(&on_host)?.arg("--airflow-metadata"))
                    .with_context(|| format!("the musl bundle on host {}", host.name))?;
            }
            let run = "no_glibc";
            api.run_to_success("example_etl", run, json!({}), RUN_TIMEOUT)?;
            let totals = api.xcom("example_etl", run, "transform", "return_value")?;
            ensure!(
                totals == Some(json!({"orders": 3, "per_customer": {"ada": 2249, "brian": 300}})),
                "transform pushed {totals:?}"
            );
            for ti in api.task_instances("example_etl", run)? {
                let host = ti
                    .hostname
                    .as_deref()
                    .and_then(|h| dep.host_at(h))
                    .context("a task on no worker host")?;
                ensure!(
                    up.iter().any(|h| h.name == host.name),
                    "{} ran on host {}, which is down",
                    ti.task_id,
                    host.name
                );
                // The task's own log names the musl build as the file that ran it.
                api.log("example_etl", run, &ti.task_id, ti.try_number)?
                    .expect(&report.binary_sha256)
                    .with_context(|| format!("{} on host {}", ti.task_id, host.name))?;
            }
            Ok(())
        },
    );

    let finished = checks.finish();
    dep.stop()?;
    finished
}

/// The worker hosts of a multi-host deployment as the Git Dag bundle checks see them: the Git
/// server on host `a`, cut off from every worker host (its route taken away) to stand for a
/// server they cannot reach, and each host's own Dag bundle storage.
struct WorkerHosts<'a> {
    hosts: Vec<&'a Host>,
    storage: std::path::PathBuf,
}

impl GitBundleHosts for WorkerHosts<'_> {
    fn stop_git_server(&mut self) -> Result<()> {
        self.hosts.iter().try_for_each(|h| h.reach_git(false))
    }

    fn start_git_server(&mut self) -> Result<()> {
        self.hosts.iter().try_for_each(|h| h.reach_git(true))
    }

    fn forget_worker_checkouts(&mut self) -> Result<()> {
        for host in &self.hosts {
            host.run(host.command("rm")?.arg("-rf").arg(&self.storage))?;
        }
        Ok(())
    }
}

/// Airflow 3.4: native Rust Dags reach the worker hosts only through a Git Dag bundle served
/// from host `a`, each run at the commit it pinned (`git_bundle::git_bundle_checks`).
#[test]
fn worker_hosts_fetch_native_rust_dags_from_a_git_dag_bundle_on_airflow_3_4() -> Result<()> {
    let v1 = airflow_e2e::pack::example_bundle_build("v1")?;
    let v2 = airflow_e2e::pack::example_bundle_build("v2")?;
    let name = "multihost-3.4";
    let deployments = airflow_e2e::target_dir().join("airflow-deployments");
    // The repositories, beside the deployment's directory (kept after the test).
    let work = deployments.join(format!("{name}-repos"));
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    let served = work.join("served");
    let bare = served.join("bundles.git");
    init_bare(&bare)?;
    let clone = WorkingClone::clone_from(
        bare.to_str().context("a non-UTF-8 path")?,
        &work.join("clone"),
    )?;
    publish(&clone, &v1, "example-bundle v1")?;
    // Each host's clones at the same path, on its own disk (the worker hosts see their own
    // empty directory there).
    let storage = deployments.join(name).join("dag-bundles");
    let dep = Deployment::start(
        DeployOptions::new(name, Release::V3_4)
            .executor(Executor::Celery { workers: 2 })
            .on_hosts()
            .git_daemon(&served)
            .sdk_config(readme_multihost_config(&git_bundle_config(
                "{git_url}/bundles.git",
                &storage,
            )?)?),
    )?;
    let api = &dep.api;
    let (b, c) = (dep.host("b")?, dep.host("c")?);
    let mut checks = Checks::default();
    checks.check(
        "no shared disk: a worker host sees neither the build nor host a's files, and holds the bundle only as checked out from the Git Dag bundle",
        || {
            for host in [b, c] {
                // Scheduled native dags of the example may have run already: a bundle file on
                // the host must be a checkout of the Git Dag bundle at a commit.
                let said = host.run(
                    host.command("sh")?
                        .arg("-c")
                        .arg(r#"find "$0" -type f -name example-bundle 2>/dev/null | grep -v '/rust-git/versions/[0-9a-f]\{40\}/example-bundle$' | sed 's/^/holds /'; for f in "$@"; do test -e "$f" && echo "sees $f"; done; true"#)
                        .arg(&storage)
                        .arg(&v1)
                        .arg(&bare)
                        .arg(dep.home.join("airflow.cfg")),
                )?;
                ensure!(said.trim().is_empty(), "host {}: {said}", host.name);
            }
            Ok(())
        },
    );
    let mut hosts = WorkerHosts {
        hosts: vec![b, c],
        storage: storage.clone(),
    };
    git_bundle_checks(api, &clone, &v1, &v2, &mut hosts, &mut checks);
    checks.check(
        "both worker hosts fetched the bundle and ran its tasks",
        || {
            let mut ran = BTreeSet::new();
            for run in ["held_v1", "new_v2"] {
                for ti in api.task_instances("native_versioned", run)? {
                    if let Some(h) = ti.hostname.as_deref().and_then(|h| dep.host_at(h)) {
                        ran.insert(h.name.clone());
                    }
                }
            }
            // Four tasks may all land on one host; then one more pair of runs, until both did.
            for i in 0..10 {
                if ran.len() == 2 {
                    return Ok(());
                }
                let run = format!("spread_{i}");
                api.set_pool("versioned_gate", 4)?;
                api.run_to_success("native_versioned", &run, json!({}), RUN_TIMEOUT)?;
                for ti in api.task_instances("native_versioned", &run)? {
                    if let Some(h) = ti.hostname.as_deref().and_then(|h| dep.host_at(h)) {
                        ran.insert(h.name.clone());
                    }
                }
            }
            bail!("the tasks ran only on {ran:?}")
        },
    );
    let finished = checks.finish();
    dep.stop()?;
    finished
}
