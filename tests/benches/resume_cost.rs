//! What resuming a deferred task costs, Rust against Python, in the same real deployment.
//!
//! Starts a LocalExecutor deployment of Airflow 3.3.2 with a triggerer and the packed example
//! bundle, then runs `deferral_bench.timer` (a Rust task deferring 3 s on the standard provider's
//! time-delta trigger, resumed in its Rust handler through the executable coordinator) and
//! `deferral_bench_py.timer` (a Python operator deferring on the same trigger) alternately, one
//! run at a time. The cost of a resumption is the time from the moment the trigger fired for
//! (the event both return in their XCom) to the end of the resumed try, as Airflow recorded it:
//! the triggerer, the scheduler, the executor, the process start and the handler.
//!
//! `cargo bench -p airflow-e2e --bench resume_cost` (`BENCH_RUNS=N` for N runs of each, default
//! 10). Budget (issue 19): the Rust median at most the Python median (ratio at most 1.00).

use std::time::Duration;

use airflow_e2e::deploy::{DeployOptions, Deployment, unix_seconds};
use airflow_e2e::median;
use airflow_e2e::venv::Release;
use anyhow::{Context, Result, ensure};
use serde_json::json;

fn main() -> Result<()> {
    let Some(runs) = airflow_e2e::bench_runs(10)? else {
        return Ok(());
    };
    let bundle = airflow_e2e::pack::example_bundle()?;
    let dep = Deployment::start(
        DeployOptions::new("bench-resume-cost", Release::V3_3)
            .triggerer()
            .bundle(bundle)
            .stub_dag("deferral_stubs.py"),
    )?;
    let api = &dep.api;
    let dags = ["deferral_bench", "deferral_bench_py"];
    api.wait_for_dags(&dags, Duration::from_secs(180))?;
    let mut cost = [Vec::new(), Vec::new()];
    // One warm-up run each: the first task of a fresh deployment pays for imports.
    for i in 0..=runs {
        for (k, dag) in dags.into_iter().enumerate() {
            let run_id = format!("r{i}");
            api.trigger(dag, &run_id, json!({}))?;
            let run = api.wait_run(dag, &run_id, Duration::from_secs(180))?;
            ensure!(
                run.state == "success",
                "{dag}/{run_id} ended {}: {}",
                run.state,
                api.explain_run(dag, &run_id)
            );
            let value = api
                .xcom(dag, &run_id, "timer", "return_value")?
                .with_context(|| format!("{dag}/{run_id}/timer has no XCom"))?;
            let fired = unix_seconds(value["event"].as_str())?;
            let ended = unix_seconds(
                api.task_instance(dag, &run_id, "timer")?
                    .end_date
                    .as_deref(),
            )?;
            if i > 0 {
                cost[k].push(ended - fired);
            }
        }
    }
    dep.stop()?;
    let (rust, python) = (median(cost[0].clone()), median(cost[1].clone()));
    println!(
        "trigger fired -> resumed try ended, median of {runs} runs each (Airflow 3.3.2, LocalExecutor, triggerer):"
    );
    println!(
        "  Rust task, resumed in its Rust handler: {:>7.0} ms",
        rust * 1e3
    );
    println!(
        "  Python operator, resumed in its method: {:>7.0} ms",
        python * 1e3
    );
    println!("  each run (s): Rust {:.2?}", cost[0]);
    println!("                Python {:.2?}", cost[1]);
    println!("  ratio: {:.2} (budget: at most 1.00)", rust / python);
    Ok(())
}
