//! The `retry_assets` dag: a task that picks its own retry delay, a task that ends `removed`,
//! the asset state store by name and by URI, and asset events through an alias. For the
//! real-deployment test `tests/tests/e2e/retry_assets.rs` (stubs in
//! `tests/harness/dags/retry_assets_stubs.py`), which checks each effect through the REST API.

use std::time::Duration;

use airflow_sdk::{Asset, AssetAlias, Dag, TaskContext, TaskError, TaskResult};
use serde_json::{Value, json};

/// The delay `retry_custom` asks for; the stub declares a different `retry_delay` (60 s).
pub const RETRY_DELAY: Duration = Duration::from_secs(7);
/// The asset whose state store `asset_state` uses (declared by the stub dag).
pub const STATE_ASSET_NAME: &str = "rust_state_asset";
/// Its URI.
pub const STATE_ASSET_URI: &str = "file:///tmp/rust_state_asset";
/// The alias `emit_alias` emits through (declared as its outlet by the stub dag).
pub const ALIAS: &str = "rust_alias";
/// The asset the alias resolves to: declared by no dag, so Airflow creates it from the event.
pub const ALIAS_TARGET_NAME: &str = "rust_alias_target";
/// Its URI.
pub const ALIAS_TARGET_URI: &str = "file:///tmp/rust_alias_target";

/// Fails its first try asking to be retried after [`RETRY_DELAY`]; succeeds on the next.
fn retry_custom(ctx: &mut TaskContext) -> TaskResult<u32> {
    if ctx.try_number() == 1 {
        return Err(TaskError::retry_after(
            RETRY_DELAY,
            "first try: asking for a retry in 7 s",
        ));
    }
    Ok(ctx.try_number())
}

/// Ends `removed`.
fn removed(_: &mut TaskContext) -> TaskResult {
    Err(TaskError::remove("this partition was dropped upstream"))
}

/// Writes, reads, deletes and clears the asset state store, by name and by URI, reading each
/// write back through the other name. Leaves `watermark` and `rows` for the test to read
/// through the REST API; returns what it read.
fn asset_state(ctx: &mut TaskContext) -> TaskResult<Value> {
    let by_name = ctx.asset_state_by_name(STATE_ASSET_NAME);
    let by_uri = ctx.asset_state_by_uri(STATE_ASSET_URI);
    by_name.set("watermark", "2026-12-01")?;
    let read_by_uri: Option<String> = by_uri.get("watermark")?;
    by_uri.set("offsets", &json!({"p0": 10, "p1": 12}))?;
    let offsets_by_name: Option<Value> = by_name.get("offsets")?;
    by_name.delete("offsets")?;
    let after_delete: Option<Value> = by_uri.get("offsets")?;
    by_uri.set("scratch", &1)?;
    by_name.clear()?;
    let after_clear: Option<String> = by_uri.get("watermark")?;
    let scratch_after_clear: Option<u32> = by_name.get("scratch")?;
    by_uri.set("watermark", "2026-12-06")?;
    by_name.set("rows", &42)?;
    let unknown = ctx
        .asset_state_by_name("no_such_asset_anywhere")
        .set("k", &1)
        .err()
        .map(|e| e.to_string());
    let unknown_read: Option<u32> = ctx.asset_state_by_uri("file:///nowhere").get("k")?;
    Ok(json!({
        "read_by_uri": read_by_uri,
        "offsets_by_name": offsets_by_name,
        "after_delete": after_delete,
        "after_clear": after_clear,
        "scratch_after_clear": scratch_after_clear,
        "unknown_write": unknown,
        "unknown_read": unknown_read,
    }))
}

/// Emits an event of [`ALIAS_TARGET_NAME`] through [`ALIAS`].
fn emit_alias(ctx: &mut TaskContext) -> TaskResult {
    ctx.emit_asset_via_alias(
        &AssetAlias::new(ALIAS),
        &Asset::new(ALIAS_TARGET_NAME, ALIAS_TARGET_URI),
        json!({"rows": 7, "run": ctx.run_id()}),
    );
    Ok(())
}

/// Reads the events of this run through the alias, and the assets it resolved to.
fn read_alias(ctx: &mut TaskContext) -> TaskResult<Value> {
    let alias = AssetAlias::new(ALIAS);
    let events: Vec<Value> = ctx
        .asset_events_by_alias(&alias, None)?
        .into_iter()
        .filter(|e| e.source_run_id.as_deref() == Some(ctx.run_id()))
        .map(|e| json!({"asset": e.asset.name, "extra": e.extra, "source_task_id": e.source_task_id}))
        .collect();
    let assets: Vec<Value> = ctx
        .assets_by_alias(&alias)?
        .into_iter()
        .map(|a| json!({"name": a.name, "uri": a.uri}))
        .collect();
    let unknown = ctx
        .asset_events_by_alias(&AssetAlias::new("no_such_alias_anywhere"), None)?
        .len();
    Ok(json!({"events": events, "assets": assets, "unknown_alias_events": unknown}))
}

/// The `retry_assets` dag.
pub fn dag() -> Dag {
    Dag::new("retry_assets")
        .task("retry_custom", retry_custom)
        .task("removed", removed)
        .task("asset_state", asset_state)
        .task("emit_alias", emit_alias)
        .task("read_alias", read_alias)
}

#[cfg(test)]
mod tests {
    //! The same tasks under `airflow_sdk::testing`.

    use airflow_sdk::testing::{TestRun, TestState};

    use super::*;

    #[test]
    fn retry_custom_asks_for_its_own_delay_on_try_1_and_succeeds_on_try_2() {
        let first = TestRun::new("retry_assets", "retry_custom")
            .max_tries(1)
            .run(retry_custom);
        first.assert_state(TestState::UpForRetry);
        assert_eq!(first.retry_delay, Some(RETRY_DELAY));
        let second = TestRun::new("retry_assets", "retry_custom")
            .try_number(2)
            .max_tries(1)
            .run(retry_custom);
        second.assert_success();
        assert_eq!(second.return_value, Some(json!(2)));
    }

    #[test]
    fn removed_ends_removed() {
        TestRun::new("retry_assets", "removed")
            .max_tries(2)
            .run(removed)
            .assert_state(TestState::Removed);
    }

    #[test]
    fn asset_state_reads_each_write_back_through_the_other_name() {
        let out = TestRun::new("retry_assets", "asset_state")
            .asset(&Asset::new(STATE_ASSET_NAME, STATE_ASSET_URI))
            .run(asset_state);
        out.assert_success();
        let r = out.return_value.clone().unwrap();
        assert_eq!(r["read_by_uri"], "2026-12-01");
        assert_eq!(r["offsets_by_name"], json!({"p0": 10, "p1": 12}));
        assert_eq!(r["after_delete"], Value::Null);
        assert_eq!(r["after_clear"], Value::Null);
        assert_eq!(r["scratch_after_clear"], Value::Null);
        assert_eq!(r["unknown_read"], Value::Null);
        assert!(
            r["unknown_write"]
                .as_str()
                .unwrap()
                .contains("SetAssetStateStoreByName"),
            "{r}"
        );
        assert_eq!(
            out.asset_state[STATE_ASSET_NAME],
            [
                ("rows".to_owned(), json!(42)),
                ("watermark".to_owned(), json!("2026-12-06"))
            ]
            .into_iter()
            .collect()
        );
    }

    #[test]
    fn read_alias_sees_the_events_of_its_run() {
        let alias = AssetAlias::new(ALIAS);
        let target = Asset::new(ALIAS_TARGET_NAME, ALIAS_TARGET_URI);
        let out = TestRun::new("retry_assets", "emit_alias").run(emit_alias);
        out.assert_success();
        assert_eq!(out.emitted_alias_events[0].0, alias);
        assert_eq!(out.terminal.body["task_outlets"][0]["type"], "AssetAlias");
        let out = TestRun::new("retry_assets", "read_alias")
            .asset_alias_event(&alias, &target, json!({"rows": 7}))
            .run(read_alias);
        out.assert_success();
        let r = out.return_value.clone().unwrap();
        assert_eq!(
            r["assets"],
            json!([{"name": ALIAS_TARGET_NAME, "uri": ALIAS_TARGET_URI}])
        );
        assert_eq!(r["unknown_alias_events"], 0);
    }
}
