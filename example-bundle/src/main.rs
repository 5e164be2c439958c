//! An example Airflow executable bundle: a small ETL dag written in Rust.

use airflow_sdk::{Bundle, Dag, TaskContext, TaskResult};

/// Produces the rows the rest of the pipeline works on.
fn extract(_ctx: &mut TaskContext) -> TaskResult<Vec<u32>> {
    Ok(vec![3, 1, 2])
}

/// Sums the rows.
fn transform(_ctx: &mut TaskContext) -> TaskResult<u32> {
    Ok(6)
}

/// Stores the result.
fn load(_ctx: &mut TaskContext) -> TaskResult {
    Ok(())
}

fn bundle() -> Bundle {
    Bundle::new().dag(
        Dag::new("example_etl")
            .task("extract", extract)
            .task("transform", transform)
            .task("load", load),
    )
}

airflow_sdk::main!(bundle());
