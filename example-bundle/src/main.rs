//! An example Airflow executable bundle written in Rust.
//!
//! `example_etl` is a small pipeline: `extract` produces orders, `transform` pulls them by XCom
//! and totals them per customer, `load` reads a Connection and "writes" the totals. Trigger the
//! dag with conf `{"fail": true}` to make `transform` fail on purpose and watch Airflow retry it.
//!
//! `example_native` (in `native.rs`) is declared entirely in Rust and served natively to Airflow
//! 3.4. The `testing` dag (in `testing.rs`) exercises every path of the runtime for the end-to-end
//! tests.

use std::collections::BTreeMap;

use airflow_sdk::log::{info, warn};
use std::time::Duration;

use airflow_sdk::{Bundle, Dag, Task, TaskContext, TaskError, TaskResult};
use serde::{Deserialize, Serialize};

mod native;
mod task_api;
mod testing;

/// One order, as `extract` produces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    customer: String,
    amount_cents: u64,
}

/// What `transform` hands to `load`.
#[derive(Debug, Serialize, Deserialize)]
struct Totals {
    per_customer: BTreeMap<String, u64>,
    orders: usize,
}

/// Produces the orders. The Variable `example_region` (optional) tags the batch.
fn extract(ctx: &mut TaskContext) -> TaskResult<Vec<Order>> {
    let region = ctx
        .variable("example_region")?
        .unwrap_or_else(|| "eu".to_owned());
    let orders = vec![
        Order {
            customer: "ada".into(),
            amount_cents: 1250,
        },
        Order {
            customer: "brian".into(),
            amount_cents: 300,
        },
        Order {
            customer: "ada".into(),
            amount_cents: 999,
        },
    ];
    info!(orders = orders.len(), region = region.as_str(); "extracted orders");
    Ok(orders)
}

/// Totals the orders per customer. Fails on purpose when the dag run's conf says `"fail": true`.
fn transform(ctx: &mut TaskContext) -> TaskResult<Totals> {
    if ctx.conf().get("fail").and_then(|v| v.as_bool()) == Some(true) {
        warn!(try_number = ctx.try_number(); "conf asks transform to fail");
        return Err(TaskError::fail(format!(
            "failing on purpose (conf fail=true), try {} of {}",
            ctx.try_number(),
            ctx.max_tries() + 1
        )));
    }
    let orders: Vec<Order> = ctx
        .xcom_pull("extract", "return_value")?
        .ok_or("extract pushed no orders")?;
    let mut per_customer = BTreeMap::new();
    for o in &orders {
        *per_customer.entry(o.customer.clone()).or_insert(0) += o.amount_cents;
    }
    info!(customers = per_customer.len(); "totalled orders");
    Ok(Totals {
        per_customer,
        orders: orders.len(),
    })
}

/// "Loads" the totals into the warehouse named by the Connection `example_warehouse`.
fn load(ctx: &mut TaskContext) -> TaskResult {
    let totals: Totals = ctx
        .xcom_pull("transform", "return_value")?
        .ok_or("transform pushed no totals")?;
    let conn = ctx
        .connection("example_warehouse")?
        .ok_or("the Connection example_warehouse is not defined")?;
    let table = conn
        .extra
        .get("table")
        .and_then(|t| t.as_str())
        .unwrap_or("totals");
    info!(
        host = conn.host.as_deref().unwrap_or("?"),
        table = table,
        rows = totals.per_customer.len();
        "loading totals"
    );
    ctx.xcom_push("loaded_rows", &totals.per_customer.len())?;
    Ok(())
}

fn bundle() -> Bundle {
    Bundle::new()
        // Airflow routes this queue to the executable coordinator (`[sdk] queue_to_coordinator`);
        // every task runs on it.
        .queue("rust")
        .dag(
            Dag::new("example_etl")
                .catchup(false)
                .tags(["rust"])
                .task("extract", extract)
                .task(
                    Task::new("transform")
                        .retries(1)
                        .retry_delay(Duration::from_secs(1)),
                    transform,
                )
                .task("load", load)
                .chain(["extract", "transform", "load"]),
        )
        .dag(task_api::dag())
        .dag(native::dag())
        .dag(native::catchup_dag())
        .dag(testing::dag())
        .dag(testing::missing_task_dag())
        .dag(testing::bench_dag())
}

airflow_sdk::main!(bundle());
