//! Faults a real API server cannot be made to produce on demand, injected into the released
//! 1.3.2 supervisor's Task Execution API (mocked), or sent to the bundle process (SIGTERM at a
//! chosen moment): the runtime must turn each into a clear task outcome, never a panic or a hang.
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
fn an_api_error_on_a_request_fails_the_task_naming_request_and_key() -> Result<()> {
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
        record.message().contains("GetVariable")
            && record.message().contains("my_var")
            && record.message().contains("permission denied"),
        "the failure does not name the request, the key and what went wrong: {run}"
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

/// SIGTERM while an async task awaits: its future is dropped (its destructor logs), and the task
/// fails with the error a sync task that stops when asked gets, long before the grace period.
#[cfg(unix)]
#[test]
fn sigterm_drops_an_async_task_future_and_fails_the_task() -> Result<()> {
    let run = run("async_sleep_until_cancelled", |o| {
        o.sigterm_when_logged("sleeping asynchronously until cancelled")
    })?;
    ensure!(run.sigterm_sent_to.len() == 1, "{run}");
    // The state reached the API server. Not the exit code: after SIGTERM the runtime waits only
    // 2.5 s for the acknowledgement (the supervisor kills at 5 s), which the harness's Python
    // supervisor can miss on a loaded machine, for sync and async tasks alike.
    ensure!(run.api_state() == Some("failed"), "{run}");
    let position = |needle: &str| {
        run.logs()
            .iter()
            .position(|r| r.message().contains(needle))
            .ok_or_else(|| anyhow::anyhow!("no record {needle:?}: {run}"))
    };
    let dropped = position("the async task's future was dropped")?;
    let failed = position("task failed: the task was asked to stop (SIGTERM)")?;
    ensure!(
        dropped < failed,
        "the failure was reported before the future was dropped: {run}"
    );
    ensure!(
        run.log_containing("did not stop within").is_none(),
        "the runtime waited out its grace period: {run}"
    );
    Ok(())
}
