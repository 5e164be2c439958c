//! The smallest useful async bundle: one dag with one async no-op task, built with airflow-sdk's
//! `tokio` feature. `benches/runtime.rs` compares its release, stripped size with `minimal.rs`'s
//! to get what async tasks add.

use airflow_sdk::{Bundle, Dag, TaskContext, TaskResult};

async fn noop(_: &TaskContext) -> TaskResult {
    Ok(())
}

airflow_sdk::main!(Bundle::new().dag(Dag::new("bench").task_async("noop", noop)));
