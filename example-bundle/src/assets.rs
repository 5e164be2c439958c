//! Assets in native dags (Airflow 3.4, no Python file): tasks declare what they read and
//! produce, and dags run when assets are updated.
//!
//! * `native_assets_produce`: `produce` reads the raw orders file (an inlet) and produces
//!   `native_orders` (an outlet: Airflow records an event each time it succeeds, here with the
//!   row count as the event's extra) and an event through the alias `native_partitions`.
//! * `native_assets_consume` runs when `native_orders` is updated, and reads its events.
//! * `native_assets_condition` runs once `native_a` and either `native_b` or `native_c` were
//!   updated; `native_assets_emit` updates the assets its run's conf names (`{"assets": [...]}`).
//! * `native_assets_or_time` runs every 1 January, or whenever `native_orders` is updated.

use airflow_sdk::log::info;
use airflow_sdk::{Asset, AssetAlias, Dag, Schedule, Task, TaskContext, TaskResult, asset};
use serde_json::json;

/// The asset `produce` updates and two dags are scheduled on.
pub const ORDERS: &str = "native_orders";
/// The file `produce` reads (its inlet), known by its URI.
pub const RAW_ORDERS: &str = "file:///data/raw/orders.csv";
/// The alias `produce` emits an event through.
pub const PARTITIONS: &str = "native_partitions";

fn produce(ctx: &mut TaskContext) -> TaskResult<u32> {
    let rows = 3;
    // The declared outlet gets its event anyway; this adds the event's extra.
    ctx.emit_asset(&asset(ORDERS), json!({"rows": rows}));
    ctx.emit_asset_via_alias(
        &AssetAlias::new(PARTITIONS),
        &Asset::new("native_orders_2026", "file:///data/orders/2026"),
        json!({"partition": "2026"}),
    );
    info!(rows = rows; "produced the orders");
    Ok(rows)
}

/// How many events `native_orders` has had, and how this run came about.
fn consume(ctx: &mut TaskContext) -> TaskResult<serde_json::Value> {
    let events = ctx.asset_events(&asset(ORDERS), None)?;
    let rows = events.last().map(|e| e.extra["rows"].clone());
    Ok(json!({"run_type": ctx.run_type(), "events": events.len(), "rows": rows}))
}

/// Emits an event of each asset named in the run's conf `assets`.
fn emit(ctx: &mut TaskContext) -> TaskResult<Vec<String>> {
    let names: Vec<String> = ctx
        .conf()
        .get("assets")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    for name in &names {
        ctx.emit_asset(&asset(name.as_str()), serde_json::Value::Null);
    }
    Ok(names)
}

fn run_type(ctx: &mut TaskContext) -> TaskResult<String> {
    Ok(ctx.run_type().to_owned())
}

/// The asset dags.
pub fn dags() -> Vec<Dag> {
    vec![
        Dag::new("native_assets_produce")
            .native()
            .description("Reads the raw orders, produces native_orders")
            .tags(["rust", "native", "assets"])
            .task(
                Task::new("produce")
                    .inlet(Asset::at(RAW_ORDERS))
                    .outlet(asset(ORDERS))
                    .outlet(AssetAlias::new(PARTITIONS)),
                produce,
            ),
        Dag::new("native_assets_consume")
            .native()
            .description("Runs when native_orders is updated")
            .tags(["rust", "native", "assets"])
            .schedule_on(asset(ORDERS))
            .task(Task::new("consume").inlet(asset(ORDERS)), consume),
        Dag::new("native_assets_emit")
            .native()
            .description("Updates the assets its run's conf names")
            .tags(["rust", "native", "assets"])
            .task("emit", emit),
        Dag::new("native_assets_condition")
            .native()
            .description("Runs once native_a and native_b or native_c are updated")
            .tags(["rust", "native", "assets"])
            .schedule_on(asset("native_a") & (asset("native_b") | asset("native_c")))
            .task("report", run_type),
        Dag::new("native_assets_or_time")
            .native()
            .description("Runs every 1 January, or when native_orders is updated")
            .tags(["rust", "native", "assets"])
            .schedule(Schedule::cron("0 0 1 1 *"))
            .schedule_on(asset(ORDERS))
            .task("report", run_type),
    ]
}

#[cfg(test)]
mod tests {
    use airflow_sdk::Bundle;
    use airflow_sdk::testing::TestRun;

    use super::*;

    fn bundle() -> Bundle {
        dags()
            .into_iter()
            .fold(Bundle::new().queue("rust"), Bundle::dag)
    }

    /// The success reports the declared outlets, the extra for the asset and the alias event,
    /// as Python's task runner reports them.
    #[test]
    fn produce_reports_its_outlets_with_the_extra() {
        let out = TestRun::new("native_assets_produce", "produce").run_in(&bundle());
        out.assert_success();
        assert_eq!(
            out.terminal.body["task_outlets"],
            json!([
                {"name": ORDERS, "uri": ORDERS, "type": "Asset"},
                {"name": PARTITIONS, "type": "AssetAlias"}
            ])
        );
        let events = &out.terminal.body["outlet_events"];
        assert_eq!(
            events[0],
            json!({"dest_asset_key": {"name": ORDERS, "uri": ORDERS}, "extra": {"rows": 3}})
        );
        assert_eq!(events[1]["source_alias_name"], PARTITIONS);
    }

    #[test]
    fn emit_updates_the_assets_the_conf_names() {
        let out = TestRun::new("native_assets_emit", "emit")
            .conf(json!({"assets": ["native_a", "native_c"]}))
            .run_in(&bundle());
        out.assert_success();
        let names: Vec<&str> = out.terminal.body["task_outlets"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, ["native_a", "native_c"]);
    }
}
