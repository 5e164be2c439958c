//! Issue 19 points 4 and 5 in real deployments, asserted through the REST API: a task that
//! picks its own retry delay, a task that ends `removed`, the asset state store by name and by
//! URI, and asset events through an alias (example-bundle/src/retry_assets.rs, stubs in
//! `tests/harness/dags/retry_assets_stubs.py`). Airflow 3.3.2 and 3.4.0b2 speak the same
//! messages for all of it, so the same checks run on both.

use std::time::Duration;

use airflow_e2e::deploy::{Checks, DeployOptions, Deployment, unix_seconds};
use airflow_e2e::venv::Release;
use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

const RUN_TIMEOUT: Duration = Duration::from_secs(420);
const DAGS_TIMEOUT: Duration = Duration::from_secs(180);
const DAG: &str = "retry_assets";
const RUN: &str = "retry_assets_run";
/// What `retry_custom` asks for, and what its stub declares.
const ASKED_DELAY: f64 = 7.0;
const DECLARED_DELAY: f64 = 60.0;

fn scenarios(dep: &Deployment) -> Result<()> {
    let api = &dep.api;
    api.wait_for_dags(&[DAG], DAGS_TIMEOUT)?;
    api.trigger(DAG, RUN, json!({}))?;
    let run = api.wait_run(DAG, RUN, RUN_TIMEOUT)?;
    eprintln!(
        "{DAG}/{RUN} ended {}: {}",
        run.state,
        api.explain_run(DAG, RUN)
    );
    let mut checks = Checks::default();
    checks.check(
        "retry policy: the task's own retry delay (7 s) replaces the declared one (60 s)",
        || {
            api.expect_state(DAG, RUN, "retry_custom", "success")?;
            let tries = api.tries(DAG, RUN, "retry_custom")?;
            ensure!(tries.len() == 2, "retry_custom ran {} tries", tries.len());
            // Airflow's try history records a try that went up for retry as `failed`.
            ensure!(
                tries[0].state.as_deref() == Some("failed"),
                "try 1 ended {:?}",
                tries[0].state
            );
            let ended = unix_seconds(tries[0].end_date.as_deref())?;
            let started = unix_seconds(tries[1].start_date.as_deref())?;
            let gap = started - ended;
            eprintln!("   try 2 started {gap:.2} s after try 1 ended (asked {ASKED_DELAY} s)");
            ensure!(
                gap >= ASKED_DELAY,
                "try 2 started {gap:.2} s after try 1 ended: before the {ASKED_DELAY} s asked"
            );
            ensure!(
                gap < DECLARED_DELAY,
                "try 2 started {gap:.2} s after try 1 ended: the declared retry_delay was used"
            );
            ensure!(
                api.return_value(DAG, RUN, "retry_custom")? == json!(2),
                "try 2 returned something else"
            );
            Ok(())
        },
    );
    checks.check("removed: the task ends removed and is not retried", || {
        api.expect_state(DAG, RUN, "removed", "removed")?;
        let tries = api.tries(DAG, RUN, "removed")?;
        ensure!(tries.len() == 1, "removed ran {} tries", tries.len());
        Ok(())
    });
    checks.check(
        "asset state store: by name and by URI, read back, deleted, cleared, in the REST API",
        || {
            api.expect_state(DAG, RUN, "asset_state", "success")?;
            let r = api.return_value(DAG, RUN, "asset_state")?;
            ensure!(r["read_by_uri"] == "2026-12-01", "{r}");
            ensure!(r["offsets_by_name"] == json!({"p0": 10, "p1": 12}), "{r}");
            ensure!(r["after_delete"].is_null(), "{r}");
            ensure!(
                r["after_clear"].is_null() && r["scratch_after_clear"].is_null(),
                "{r}"
            );
            ensure!(r["unknown_read"].is_null(), "{r}");
            let unknown = r["unknown_write"].as_str().unwrap_or_default();
            ensure!(
                unknown.contains("SetAssetStateStoreByName")
                    && unknown.contains("no_such_asset_anywhere"),
                "writing to an unknown asset: {r}"
            );
            let asset = api.asset_named("rust_state_asset")?;
            let id = asset["id"].as_i64().context("no asset id")?;
            let store: Value = api.get(&format!("/api/v2/assets/{id}/state-store"))?;
            let entries = store["asset_state_store"]
                .as_array()
                .context("no asset_state_store")?;
            let kv: Vec<(String, Value)> = entries
                .iter()
                .map(|e| {
                    (
                        e["key"].as_str().unwrap_or_default().to_owned(),
                        e["value"].clone(),
                    )
                })
                .collect();
            ensure!(
                kv == [
                    ("rows".to_owned(), json!(42)),
                    ("watermark".to_owned(), json!("2026-12-06"))
                ],
                "the asset's state store is {store}"
            );
            for e in entries {
                let by = &e["last_updated_by"];
                ensure!(
                    by["kind"] == "task" && by["task_id"] == "asset_state" && by["run_id"] == RUN,
                    "written by {by}"
                );
            }
            Ok(())
        },
    );
    checks.check(
        "asset alias: the event is recorded for the target asset, linked to the alias, read by alias",
        || {
            api.expect_state(DAG, RUN, "emit_alias", "success")?;
            api.expect_state(DAG, RUN, "read_alias", "success")?;
            let events = api.asset_events(&format!("source_dag_id={DAG}&source_run_id={RUN}"))?;
            let e = events
                .iter()
                .find(|e| e["source_task_id"] == "emit_alias")
                .with_context(|| format!("no asset event from emit_alias: {events:?}"))?;
            ensure!(e["name"] == "rust_alias_target", "the event's asset: {e}");
            ensure!(e["uri"] == "file:///tmp/rust_alias_target", "{e}");
            ensure!(e["extra"] == json!({"rows": 7, "run": RUN}), "the event's extra: {e}");
            // Created from the event, referenced by no dag: `GET /assets` lists only active
            // assets, so read it by id.
            let id = e["asset_id"].as_i64().context("no asset_id")?;
            let target: Value = api.get(&format!("/api/v2/assets/{id}"))?;
            ensure!(target["name"] == "rust_alias_target", "asset {id}: {target}");
            ensure!(
                target["aliases"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|a| a["name"] == "rust_alias")),
                "the target asset is not linked to the alias: {target}"
            );
            let r = api.return_value(DAG, RUN, "read_alias")?;
            ensure!(
                r["events"]
                    == json!([{"asset": "rust_alias_target", "extra": {"rows": 7, "run": RUN},
                               "source_task_id": "emit_alias"}]),
                "read by alias: {r}"
            );
            ensure!(
                r["assets"] == json!([{"name": "rust_alias_target", "uri": "file:///tmp/rust_alias_target"}]),
                "assets by alias: {r}"
            );
            ensure!(r["unknown_alias_events"] == 0, "{r}");
            Ok(())
        },
    );
    checks.finish()
}

fn deployment(name: &str, release: Release) -> Result<()> {
    Deployment::run(
        DeployOptions::new(name, release)
            .bundle(airflow_e2e::pack::example_bundle()?)
            .stub_dag("retry_assets_stubs.py"),
        scenarios,
    )
}

#[test]
fn retry_policy_and_assets_in_a_real_airflow_3_3() -> Result<()> {
    deployment("retry-assets-3.3", Release::V3_3)
}

#[test]
fn retry_policy_and_assets_in_a_real_airflow_3_4() -> Result<()> {
    deployment("retry-assets-3.4", Release::V3_4)
}
