//! Load across worker hosts: `BENCH_RUNS` (default 50) runs of a 10-task Rust dag on two Celery
//! worker hosts that share no disk with the control host (the multi-host deployment of
//! `e2e::multihost`, Airflow 3.3.2, each worker host with the bundle in its own executables
//! root), next to the same dag as Python `@task`s in the same deployment.
//!
//! `cargo bench -p airflow-e2e --bench multihost_load` (needs root: network namespaces). Every
//! task instance must succeed and both hosts must take work; it prints, per dag, the wall time
//! Airflow recorded from the first task's start to the last one's end, the task instances per
//! second, how many each host ran, and the Rust/Python throughput ratio.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use airflow_e2e::deploy::{
    DeployOptions, Deployment, Executor, readme_config, readme_multihost_config, unix_seconds,
};
use airflow_e2e::venv::Release;
use anyhow::{Result, ensure};
use serde_json::json;

/// What one batch of runs of `dag` came to.
struct Batch {
    seconds: f64,
    task_instances: usize,
    per_host: BTreeMap<String, usize>,
    /// Each task instance's `start_date - queued_when` (the executor's and worker's share).
    queued_to_start: Vec<f64>,
    /// Each task instance's `end_date - start_date` (the task's own run, as Airflow saw it).
    start_to_end: Vec<f64>,
}

fn main() -> Result<()> {
    let Some(runs) = airflow_e2e::bench_runs(50)? else {
        return Ok(());
    };
    let dags = airflow_e2e::harness_dir().join("dags");
    let dep = Deployment::start(
        DeployOptions::new("bench-multihost-load", Release::V3_3)
            .executor(Executor::Celery { workers: 2 })
            .on_hosts()
            .bundle(airflow_e2e::pack::example_bundle()?)
            .dag_file(dags.join("multihost_stubs.py"))
            .sdk_config(readme_multihost_config(&readme_config(
                Release::V3_3,
                Path::new("{bundles_dir}"),
            )?)?),
    )?;
    dep.api
        .wait_for_dags(&["load_rust", "load_python"], Duration::from_secs(180))?;
    // One warm-up run each: the first task on each host pays for imports.
    for dag in ["load_rust", "load_python"] {
        batch(&dep, dag, "warmup", 2)?;
    }
    let rust = batch(&dep, "load_rust", "r", runs)?;
    let python = batch(&dep, "load_python", "r", runs)?;
    for (dag, b) in [("load_rust", &rust), ("load_python", &python)] {
        println!(
            "{dag}: {runs} runs, {} task instances in {:.1} s: {:.2} task instances/s; per host {:?}; \
             median queued->start {:.2} s, start->end {:.2} s",
            b.task_instances,
            b.seconds,
            b.task_instances as f64 / b.seconds,
            b.per_host,
            airflow_e2e::median(b.queued_to_start.clone()),
            airflow_e2e::median(b.start_to_end.clone()),
        );
    }
    println!(
        "throughput Rust / Python: {:.2}x",
        (rust.task_instances as f64 / rust.seconds)
            / (python.task_instances as f64 / python.seconds)
    );
    dep.stop()
}

/// Triggers `runs` runs of `dag` at once and waits for all: every task instance must succeed,
/// and both worker hosts must have run some.
fn batch(dep: &Deployment, dag: &str, prefix: &str, runs: usize) -> Result<Batch> {
    let api = &dep.api;
    let ids: Vec<String> = (0..runs).map(|i| format!("{prefix}_{i}")).collect();
    for id in &ids {
        api.trigger(dag, id, json!({}))?;
    }
    let (mut first, mut last) = (f64::MAX, f64::MIN);
    let mut per_host = BTreeMap::new();
    let mut task_instances = 0;
    let (mut queued_to_start, mut start_to_end) = (Vec::new(), Vec::new());
    for id in &ids {
        api.wait_success(dag, id, Duration::from_secs(1800))?;
        for ti in api.task_instances(dag, id)? {
            ensure!(
                ti.state.as_deref() == Some("success"),
                "{dag}/{id}/{} did not succeed",
                ti.task_id
            );
            let start = unix_seconds(ti.start_date.as_deref())?;
            let end = unix_seconds(ti.end_date.as_deref())?;
            first = first.min(start);
            last = last.max(end);
            queued_to_start.push(start - unix_seconds(ti.queued_when.as_deref())?);
            start_to_end.push(end - start);
            let host = ti
                .hostname
                .as_deref()
                .and_then(|h| dep.host_at(h))
                .map_or_else(|| format!("{:?}", ti.hostname), |h| h.name.clone());
            *per_host.entry(host).or_insert(0) += 1;
            task_instances += 1;
        }
    }
    ensure!(
        per_host.contains_key("b") && per_host.contains_key("c"),
        "{dag}: only {per_host:?} took work"
    );
    Ok(Batch {
        seconds: last - first,
        task_instances,
        per_host,
        queued_to_start,
        start_to_end,
    })
}
