//! An Airflow 3.4 bundle whose tasks take typed arguments, TaskFlow style.
//!
//! The Python stub dag calls `load(transform(), table="t1")`; Airflow 3.4 binds those arguments
//! (an upstream XCom and a literal) and hands them over with the task, and the runtime converts
//! each to the Rust parameter's type. Needs supervisor schema `2026-10-30`, so this bundle runs on
//! Airflow 3.4 only: bundles that must also run on 3.3 keep the default schema and pull XComs by
//! hand (see `example-bundle`).
//!
//! `example_typed_native` is the same pipeline as a native dag: the bundle itself says where each
//! argument comes from, serialized with the dag, and Airflow hands those bindings back.

// Product code only: unit tests are held to clippy::all.
#![cfg_attr(not(test), warn(clippy::pedantic))]
// The keep-off list of the root Cargo.toml ([workspace.lints.clippy]), repeated because this
// crate attribute would otherwise switch those lints back on.
#![allow(clippy::must_use_candidate)]
// Every task returns `TaskResult`, the SDK's task signature, even one that cannot fail.
#![allow(clippy::unnecessary_wraps)]

use std::collections::BTreeMap;
use std::time::Duration;

use airflow_sdk::log::info;
use airflow_sdk::{Bundle, Dag, SchemaVersion, Task, TaskContext, TaskResult, arg};
use serde::{Deserialize, Serialize};

/// What `transform` hands to `load`.
#[derive(Debug, Serialize, Deserialize)]
struct Totals {
    per_customer: BTreeMap<String, u64>,
    orders: usize,
}

/// Totals a fixed batch of orders per customer.
fn transform(_ctx: &mut TaskContext) -> TaskResult<Totals> {
    let mut per_customer = BTreeMap::new();
    for (customer, cents) in [("ada", 1250), ("brian", 300), ("ada", 999)] {
        *per_customer.entry(customer.to_owned()).or_insert(0) += cents;
    }
    Ok(Totals {
        per_customer,
        orders: 3,
    })
}

/// "Loads" the totals into `table`: both arrive as typed arguments.
#[allow(clippy::needless_pass_by_value)] // typed arguments arrive owned: the SDK deserializes them
fn load(_ctx: &mut TaskContext, totals: Totals, table: String) -> TaskResult<String> {
    let rows = totals.per_customer.len();
    info!(table = table.as_str(), rows = rows; "loading totals");
    Ok(format!(
        "{rows} rows of {} orders into {table}",
        totals.orders
    ))
}

/// The same pipeline, once as intended and once with a stub that passes a wrong type.
fn dag(id: &str) -> Dag {
    Dag::new(id)
        .task("transform", transform)
        .task_with_args("load", ["totals", "table"], load)
}

/// The same pipeline in a native dag (no Python stub): the bundle says where `load`'s arguments
/// come from, and under schema 2026-10-30 Airflow hands those bindings back with each run.
fn native_dag() -> Dag {
    Dag::new("example_typed_native")
        .native()
        .task("transform", transform)
        .task_with_args(
            "load",
            [
                arg("totals").output_of("transform"),
                arg("table").value("t_native"),
            ],
            load,
        )
}

/// Blocks for a minute, past its 3 s execution timeout: under schema 2026-10-30 the runtime also
/// tells Airflow 3.4's supervisor the timeout (`SetExecutionTimeout`).
fn overrun(_ctx: &mut TaskContext) -> TaskResult {
    info!("blocking past the execution timeout");
    std::thread::sleep(Duration::from_secs(60));
    Ok(())
}

fn bundle() -> Bundle {
    Bundle::new()
        .supervisor_schema(SchemaVersion::V2026_10_30)
        // Routed to the executable coordinator; the native dag's tasks run on it.
        .queue("rust")
        .dag(dag("example_typed"))
        .dag(dag("example_typed_wrong_type"))
        .dag(Dag::new("example_typed_timeout").task(
            Task::new("overrun").execution_timeout(Duration::from_secs(3)),
            overrun,
        ))
        .dag(native_dag())
}

airflow_sdk::main!(bundle());
