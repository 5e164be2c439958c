//! An example Airflow executable bundle written in Rust.
//!
//! `example_etl` is a small pipeline: `extract` produces orders, `transform` pulls them by XCom
//! and totals them per customer, `load` reads a Connection and "writes" the totals. Trigger the
//! dag with conf `{"fail": true}` to make `transform` fail on purpose and watch Airflow retry it.
//!
//! `example_native` (in `native.rs`) is declared entirely in Rust and served natively to Airflow
//! 3.4; `native_taskflow` (in `taskflow.rs`) passes return values as typed arguments and branches;
//! `native_mapping` (in `mapping.rs`) maps Rust tasks over lists (dynamic task mapping); the
//! `native_assets_*` dags (in `assets.rs`) produce assets and run when they are updated;
//! `native_groups` (in `groups.rs`) puts tasks in nested task groups; `native_versioned` (in
//! `native.rs`) returns the build that ran each task (`EXAMPLE_BUNDLE_BUILD` at compile time),
//! for shipping two builds through a versioned Git Dag bundle.
//! The `testing` dag (in `testing.rs`) exercises every path of the runtime for the end-to-end
//! tests; `sensors` (in `sensors.rs`) waits for conditions as Airflow's sensors do; `multihost`
//! and `load_rust` (in `multihost.rs`) are the multi-host tests' and load benchmark's.

// Product code only: unit tests are held to clippy::all.
#![cfg_attr(not(test), warn(clippy::pedantic))]
// The keep-off list of the root Cargo.toml ([workspace.lints.clippy]), repeated because this
// crate attribute would otherwise switch those lints back on.
#![allow(clippy::must_use_candidate)]
// Every task returns `TaskResult`, the SDK's task signature, even one that cannot fail.
#![allow(clippy::unnecessary_wraps)]

use std::collections::BTreeMap;

use airflow_sdk::log::{info, warn};
use std::time::Duration;

use airflow_sdk::{Bundle, Dag, Task, TaskContext, TaskError, TaskResult};
use serde::{Deserialize, Serialize};

mod assets;
mod deferral;
mod groups;
mod hitl;
mod mapping;
mod multihost;
mod native;
mod retry_assets;
mod sensors;
mod task_api;
mod taskflow;
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
    if ctx.conf().get("fail").and_then(serde_json::Value::as_bool) == Some(true) {
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
    let bundle = Bundle::new()
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
        .dag(retry_assets::dag())
        .dag(sensors::dag())
        .dag(hitl::dag())
        .dag(deferral::dag())
        .dag(deferral::slots_dag())
        .dag(deferral::bench_dag())
        .dag(deferral::native_dag())
        .dag(native::dag())
        .dag(native::catchup_dag())
        .dag(testing::dag())
        .dag(testing::timeout_dag())
        .dag(native::timeout_dag())
        .dag(native::versioned_dag())
        .dag(taskflow::dag())
        .dag(mapping::dag())
        .dag(groups::dag())
        .dag(testing::missing_task_dag())
        .dag(testing::bench_dag())
        .dag(multihost::dag())
        .dag(multihost::load_dag());
    #[cfg(feature = "object-store")]
    let bundle = bundle.dag(native::object_store_dag());
    assets::dags().into_iter().fold(bundle, Bundle::dag)
}

airflow_sdk::main!(bundle());

#[cfg(test)]
mod tests {
    //! Unit tests of the tasks with `airflow_sdk::testing`: no Airflow, no sockets.

    use airflow_sdk::Connection;
    use airflow_sdk::testing::{Failure, RequestKind, TestRun, TestState};
    use serde_json::json;

    use super::*;

    /// What `extract` returns.
    fn orders() -> serde_json::Value {
        json!([
            {"customer": "ada", "amount_cents": 1250},
            {"customer": "brian", "amount_cents": 300},
            {"customer": "ada", "amount_cents": 999},
        ])
    }

    fn warehouse() -> Connection {
        Connection::from_uri(
            "example_warehouse",
            "postgres://etl:s3cret-pw@dw.internal:5432/dw?table=daily_totals",
        )
        .expect("a valid connection URI")
    }

    #[test]
    fn native_versioned_tasks_return_and_log_the_build_that_runs_them() {
        let out = TestRun::new("native_versioned", "second").run(native::which_build);
        out.assert_success();
        assert_eq!(out.return_value, Some(json!(native::BUILD)));
        let log = out.log_containing("example-bundle build").expect("logged");
        assert_eq!(log.fields["build"], native::BUILD);
    }

    #[test]
    fn extract_tags_the_batch_with_the_region_variable() {
        let out = TestRun::new("example_etl", "extract")
            .variable("example_region", "us")
            .run(extract);
        out.assert_success();
        assert_eq!(out.return_value, Some(orders()));
        let log = out.log_containing("extracted orders").expect("logged");
        assert_eq!(log.fields["orders"], 3);
        assert_eq!(log.fields["region"], "us");
        // Without the Variable: `eu`.
        let out = TestRun::new("example_etl", "extract").run(extract);
        assert_eq!(
            out.log_containing("extracted orders").unwrap().fields["region"],
            "eu"
        );
    }

    #[test]
    fn extract_is_retried_when_airflow_cannot_read_the_variable() {
        let out = TestRun::new("example_etl", "extract")
            .max_tries(1)
            .fail_request(
                RequestKind::GetVariable,
                Failure::api_server(503, "api-server restarting"),
            )
            .run(extract);
        assert_eq!(out.state, TestState::UpForRetry);
        let error = out.error.as_deref().unwrap();
        assert!(error.contains("GetVariable \"example_region\""), "{error}");
        assert!(error.contains("api-server restarting"), "{error}");
        // Nothing was pushed: the try produced no orders.
        assert!(out.xcoms_pushed.is_empty());
    }

    #[test]
    fn transform_totals_the_orders_pulled_from_extract() {
        let out = TestRun::new("example_etl", "transform")
            .xcom("extract", "return_value", orders())
            .run(transform);
        out.assert_success();
        assert_eq!(
            out.return_value,
            Some(json!({"per_customer": {"ada": 2249, "brian": 300}, "orders": 3}))
        );
        let log = out.log_containing("totalled orders").unwrap();
        assert_eq!(log.fields["customers"], 2);
    }

    #[test]
    fn transform_asked_to_fail_is_retried_then_fails_on_its_last_try() {
        // As the bundle declares it: `transform` has 1 retry, so 2 tries.
        let run = |try_number| {
            TestRun::new("example_etl", "transform")
                .conf(json!({"fail": true}))
                .xcom("extract", "return_value", orders())
                .try_number(try_number)
                .run_in(&bundle())
        };
        let first = run(1);
        assert_eq!(first.state, TestState::UpForRetry);
        assert_eq!(
            first.error.as_deref(),
            Some("failing on purpose (conf fail=true), try 1 of 2")
        );
        let warning = first.log_containing("conf asks transform to fail").unwrap();
        assert_eq!(warning.airflow_level(), "warning");
        assert_eq!(warning.fields["try_number"], 1);
        let last = run(2);
        assert_eq!(last.state, TestState::Failed);
        assert_eq!(last.terminal.body["state"], "failed");
    }

    #[test]
    fn transform_without_orders_from_extract_fails() {
        let out = TestRun::new("example_etl", "transform").run(transform);
        assert_eq!(out.state, TestState::Failed);
        assert_eq!(out.error.as_deref(), Some("extract pushed no orders"));
    }

    #[test]
    fn load_writes_to_the_warehouse_connections_table() {
        let out = TestRun::new("example_etl", "load")
            .xcom(
                "transform",
                "return_value",
                json!({"per_customer": {"ada": 2249, "brian": 300}, "orders": 3}),
            )
            .connection(warehouse())
            .run(load);
        out.assert_success();
        assert_eq!(out.xcom("loaded_rows"), Some(&json!(2)));
        let log = out.log_containing("loading totals").unwrap();
        assert_eq!(log.fields["host"], "dw.internal");
        assert_eq!(log.fields["table"], "daily_totals");
        // The password was registered with Airflow's secrets masker.
        let masked = out.requests_of(RequestKind::MaskSecret).next().unwrap();
        assert_eq!(masked.body["value"], "s3cret-pw");
    }

    #[test]
    fn load_fails_without_the_connection_or_the_right_to_read_it() {
        let totals = json!({"per_customer": {"ada": 1}, "orders": 1});
        let out = TestRun::new("example_etl", "load")
            .xcom("transform", "return_value", totals.clone())
            .run(load);
        assert_eq!(out.state, TestState::Failed);
        assert_eq!(
            out.error.as_deref(),
            Some("the Connection example_warehouse is not defined")
        );
        let out = TestRun::new("example_etl", "load")
            .xcom("transform", "return_value", totals)
            .connection(warehouse())
            .fail_request(RequestKind::GetConnection, Failure::permission_denied())
            .run(load);
        assert_eq!(out.state, TestState::Failed);
        assert!(out.error.unwrap().contains("permission denied"));
    }

    #[test]
    fn the_pipeline_hands_its_values_down_through_xcoms() {
        let b = bundle();
        let extracted = TestRun::new("example_etl", "extract").run_in(&b);
        let totals = TestRun::new("example_etl", "transform")
            .xcom("extract", "return_value", extracted.return_value.unwrap())
            .run_in(&b);
        let loaded = TestRun::new("example_etl", "load")
            .xcom("transform", "return_value", totals.return_value.unwrap())
            .connection(warehouse())
            .run_in(&b);
        loaded.assert_success();
        assert_eq!(loaded.xcom("loaded_rows"), Some(&json!(2)));
    }

    #[test]
    fn the_readme_example_is_a_test_of_this_file() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## Unit-test a task")
            .nth(1)
            .expect("the README has a \"Unit-test a task\" section");
        let block = section
            .split("```rust")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("the section has a rust block");
        // Every line of the README's block is a line of this file, in the same order.
        let source = include_str!("main.rs");
        let mut lines = source.lines().map(str::trim);
        for want in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
            assert!(
                lines.any(|l| l == want),
                "README line {want:?} is not in example-bundle/src/main.rs (in order)"
            );
        }
    }
}
