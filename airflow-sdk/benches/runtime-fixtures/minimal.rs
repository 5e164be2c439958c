//! The smallest useful bundle: one dag with one no-op task. `benches/runtime.rs` compares its
//! release, stripped size with `baseline.rs` to get what the airflow-sdk runtime adds.

use airflow_sdk::{Bundle, Dag, TaskContext, TaskResult};

fn noop(_: &mut TaskContext) -> TaskResult {
    Ok(())
}

airflow_sdk::main!(Bundle::new().dag(Dag::new("bench").task("noop", noop)));
