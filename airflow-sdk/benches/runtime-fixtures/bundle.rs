//! The bundle that `benches/runtime.rs` runs as a real process under its fake supervisor.
//!
//! Dag `bench`: `noop` returns at once (the startup figure), `sleep` waits for the dag run's
//! `conf.sleep_ms` milliseconds without allocating anything (the memory figure). Built by the
//! benchmark in release mode; not part of any crate of the workspace.

use std::time::Duration;

use airflow_sdk::log::info;
use airflow_sdk::{Bundle, Dag, TaskContext, TaskResult};

fn noop(_: &mut TaskContext) -> TaskResult {
    Ok(())
}

fn sleep(ctx: &mut TaskContext) -> TaskResult {
    let ms = ctx
        .conf()
        .get("sleep_ms")
        .and_then(|v| v.as_u64())
        .unwrap_or(1000);
    info!(sleep_ms = ms; "sleeping");
    ctx.sleep(Duration::from_millis(ms))
}

fn bundle() -> Bundle {
    Bundle::new().dag(Dag::new("bench").task("noop", noop).task("sleep", sleep))
}

airflow_sdk::main!(bundle());
