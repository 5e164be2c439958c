//! The async counterpart of `bundle.rs`, built with airflow-sdk's `tokio` feature:
//! `benches/runtime.rs` runs it as a real process under its fake supervisor, side by side with
//! the sync figures.
//!
//! Dag `bench`: `noop` is the sync no-op task (what the feature costs a sync task),
//! `noop_async` returns at once from an async fn (the startup figure), `sleep_async` awaits a
//! tokio timer for the dag run's `conf.sleep_ms` milliseconds without allocating anything (the
//! memory figure). Not part of any crate of the workspace.

use std::time::Duration;

use airflow_sdk::log::info;
use airflow_sdk::{Bundle, Dag, TaskContext, TaskResult};

fn noop(_: &mut TaskContext) -> TaskResult {
    Ok(())
}

async fn noop_async(_: &TaskContext) -> TaskResult {
    Ok(())
}

async fn sleep_async(ctx: &TaskContext) -> TaskResult {
    let ms = ctx
        .conf()
        .get("sleep_ms")
        .and_then(|v| v.as_u64())
        .unwrap_or(1000);
    info!(sleep_ms = ms; "sleeping");
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(())
}

fn bundle() -> Bundle {
    Bundle::new().dag(
        Dag::new("bench")
            .task("noop", noop)
            .task_async("noop_async", noop_async)
            .task_async("sleep_async", sleep_async),
    )
}

airflow_sdk::main!(bundle());
