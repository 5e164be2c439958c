//! Dags of the multi-host deployment tests and the load benchmark (Python stubs in
//! `tests/harness/dags/multihost_stubs.py`).
//!
//! `multihost` has a step long enough for a test to take its worker host down in the middle
//! of it (the try is retried on another host); `load_rust` is ten independent trivial tasks,
//! the unit of the load benchmark across worker hosts.

use std::time::Duration;

use airflow_sdk::log::info;
use airflow_sdk::{Dag, Task, TaskContext, TaskResult};
use serde_json::{Value, json};

/// How long `slow_step` takes unless the run's conf says `slow_seconds`.
const SLOW: Duration = Duration::from_secs(20);

/// Pushes which try ran it; takes `slow_seconds` (conf) on the first try only, so that a test
/// can take its host down while it runs and see the next try finish at once.
fn slow_step(ctx: &mut TaskContext) -> TaskResult<Value> {
    let try_number = ctx.try_number();
    if try_number == 1 {
        let seconds = ctx.conf()["slow_seconds"]
            .as_f64()
            .unwrap_or(SLOW.as_secs_f64());
        info!(seconds = seconds; "slow step started");
        ctx.sleep(Duration::try_from_secs_f64(seconds).unwrap_or(SLOW))?;
    }
    info!(try_number = try_number; "slow step done");
    Ok(json!({"try_number": try_number}))
}

/// Reads `slow_step`'s XCom: nothing of the lost try may be missing.
fn after(ctx: &mut TaskContext) -> TaskResult<Value> {
    let upstream: Value = ctx
        .xcom_pull("slow_step", "return_value")?
        .unwrap_or(Value::Null);
    info!(upstream = upstream.to_string().as_str(); "after the slow step");
    Ok(json!({"upstream": upstream}))
}

fn step(ctx: &mut TaskContext) -> TaskResult<u32> {
    info!(task = ctx.task_id(); "load step");
    Ok(1)
}

/// The `multihost` dag: `slow_step` (retried once, after a second) >> `after`.
pub fn dag() -> Dag {
    Dag::new("multihost")
        .task(
            Task::new("slow_step")
                .retries(1)
                .retry_delay(Duration::from_secs(1)),
            slow_step,
        )
        .task("after", after)
}

/// The `load_rust` dag: `t0` ... `t9`, independent, each pushing 1.
pub fn load_dag() -> Dag {
    (0..10).fold(Dag::new("load_rust"), |dag, i| {
        dag.task(format!("t{i}"), step)
    })
}
