//! Faults a real API server cannot be made to produce on demand, injected into the released
//! 1.3.2 supervisor's Task Execution API (mocked): the runtime must turn each into a clear task
//! outcome, never a panic or a hang.
//!
//! Everything a real deployment can show (states, XComs, logs, retries, cancellation) is asserted
//! against a real Airflow in `deployment.rs`, not here: a mock is no proof of what the real
//! server accepts.

use std::path::PathBuf;

use airflow_e2e::harness::{RunOptions, TaskRun};
use airflow_e2e::pack;
use anyhow::{Result, ensure};

fn bundles() -> PathBuf {
    pack::example_bundle_dir().expect("packing the example bundle")
}

fn run(task_id: &str, f: impl FnOnce(RunOptions) -> RunOptions) -> Result<TaskRun> {
    f(RunOptions::new(bundles(), "testing", task_id)).run()
}

#[test]
fn an_api_error_on_a_request_fails_the_task_naming_the_key() -> Result<()> {
    let run = run("read_var_conn", |o| {
        o.variable("my_var", "v")
            .api_fault("GET", "/variables/my_var", 403)
    })?;
    ensure!(run.api_state() == Some("failed"), "{run}");
    ensure!(run.exit_code == Some(0), "{run}");
    let record = run
        .log_containing("task failed")
        .ok_or_else(|| anyhow::anyhow!("no failure record: {run}"))?;
    ensure!(
        record.message().contains("my_var") && record.message().contains("permission denied"),
        "the failure names neither the key nor what went wrong: {run}"
    );
    Ok(())
}

#[test]
fn an_api_error_on_the_return_value_fails_the_task() -> Result<()> {
    let run = run("return_complex", |o| o.api_fault("POST", "/xcoms/", 403))?;
    ensure!(run.api_state() == Some("failed"), "{run}");
    ensure!(
        run.log_containing("cannot push the return value as XCom")
            .is_some(),
        "{run}"
    );
    Ok(())
}

#[test]
fn a_refused_state_update_exits_1_saying_so() -> Result<()> {
    let run = run("succeed", |o| o.api_fault("PATCH", "/state", 409))?;
    ensure!(run.exit_code == Some(1), "{run}");
    ensure!(
        run.log_containing("could not record state success")
            .is_some(),
        "{run}"
    );
    Ok(())
}
