//! What Airflow spends on a trivial task, Rust against Python, in the same real deployment.
//!
//! Starts a LocalExecutor deployment of Airflow 3.3.2 with the packed example bundle, then runs
//! `bench.noop` (a Rust task that logs one line, through the executable coordinator) and
//! `bench_python.noop` (a Python `@task` that prints one line) alternately, one run at a time,
//! and compares the task instances' `end_date - start_date` as Airflow recorded them.
//!
//! `cargo bench -p airflow-e2e --bench task_overhead` (`BENCH_RUNS=N` for N runs of each,
//! default 15). Budget: the Rust median at most 0.5x the Python median.

use std::time::Duration;

use airflow_e2e::deploy::{DeployOptions, Deployment};
use airflow_e2e::median;
use airflow_e2e::venv::Release;
use anyhow::{Context, Result, ensure};
use serde_json::json;

fn main() -> Result<()> {
    let Some(runs) = airflow_e2e::bench_runs(15)? else {
        return Ok(());
    };
    let bundle = airflow_e2e::pack::example_bundle()?;
    let dep = Deployment::start(
        DeployOptions::new("bench-task-overhead", Release::V3_3)
            .bundle(bundle)
            .stub_dag("bench_stubs.py"),
    )?;
    let api = &dep.api;
    api.wait_for_dags(&["bench", "bench_python"], Duration::from_secs(180))?;
    let mut took = [Vec::new(), Vec::new()];
    // One warm-up run each: the first task of a fresh deployment pays for imports.
    for i in 0..=runs {
        for (k, dag) in ["bench", "bench_python"].into_iter().enumerate() {
            let run_id = format!("r{i}");
            api.trigger(dag, &run_id, json!({}))?;
            let run = api.wait_run(dag, &run_id, Duration::from_secs(120))?;
            ensure!(run.state == "success", "{dag}/{run_id} ended {}", run.state);
            let ti = api.task_instance(dag, &run_id, "noop")?;
            let d = ti.duration().context("a task instance without dates")?;
            if i > 0 {
                took[k].push(d);
            }
        }
    }
    dep.stop()?;
    let (rust, python) = (median(took[0].clone()), median(took[1].clone()));
    println!(
        "per-task start_date -> end_date, median of {runs} runs each (Airflow 3.3.2, LocalExecutor):"
    );
    println!(
        "  Rust stub task via the executable coordinator: {:>7.1} ms",
        rust * 1e3
    );
    println!(
        "  Python @task:                                  {:>7.1} ms",
        python * 1e3
    );
    println!("  ratio: {:.2} (budget: at most 0.50)", rust / python);
    Ok(())
}
