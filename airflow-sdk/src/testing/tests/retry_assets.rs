//! The harness on the retry policy (a task's own retry delay, `removed`), the asset state store
//! and asset aliases.

use std::time::Duration;

use serde_json::json;

use super::super::*;
use crate::{Asset, AssetAlias, RequestError, TaskError};

fn retry_in_7s(_: &mut TaskContext) -> TaskResult {
    Err(TaskError::retry_after(
        Duration::from_secs(7),
        "rate limited",
    ))
}

#[test]
fn a_task_chosen_retry_delay_is_sent_with_retry_task_while_tries_remain() {
    let out = TestRun::new("d", "t")
        .try_number(1)
        .max_tries(1)
        .run(retry_in_7s);
    out.assert_state(TestState::UpForRetry);
    assert_eq!(out.retry_delay, Some(Duration::from_secs(7)));
    assert_eq!(out.terminal.kind, RequestKind::RetryTask);
    assert_eq!(out.terminal.body["retry_delay_seconds"], json!(7.0));
    assert_eq!(out.terminal.body["retry_reason"], "rate limited");
    assert!(out.log_containing("retried in 7.0 s").is_some(), "{out}");
    // A plain failure leaves the delay to the task's declaration.
    let out = TestRun::new("d", "t")
        .max_tries(1)
        .run(|_| -> TaskResult { Err(TaskError::fail("x")) });
    assert_eq!(out.retry_delay, None);
    assert!(out.terminal.body.get("retry_delay_seconds").is_none());
}

#[test]
fn a_task_chosen_retry_delay_on_the_last_try_fails_the_task() {
    let out = TestRun::new("d", "t")
        .try_number(2)
        .max_tries(1)
        .run(retry_in_7s);
    out.assert_state(TestState::Failed);
    assert_eq!(out.retry_delay, None);
    assert_eq!(out.terminal.body["state"], "failed");
    let e = TaskError::retry_after(Duration::from_millis(1500), "later");
    assert_eq!(e.retry_delay(), Some(Duration::from_millis(1500)));
    assert_eq!(
        e.outcome(),
        crate::TaskOutcome::RetryAfter(Duration::from_millis(1500))
    );
    assert_eq!(TaskError::fail("x").retry_delay(), None);
}

#[test]
fn a_removed_task_reports_the_removed_state_even_with_tries_left() {
    let out = TestRun::new("d", "t")
        .max_tries(3)
        .run(|_| -> TaskResult { Err(TaskError::remove("partition dropped")) });
    out.assert_state(TestState::Removed);
    assert_eq!(out.terminal.kind, RequestKind::TaskState);
    assert_eq!(out.terminal.body["state"], "removed");
    assert_eq!(out.error.as_deref(), Some("partition dropped"));
    assert_eq!(TestState::Removed.as_str(), "removed");
}

fn orders() -> Asset {
    Asset::new("orders", "s3://bucket/orders")
}

#[test]
fn the_asset_state_store_is_read_and_written_by_name_and_by_uri() {
    let out = TestRun::new("d", "t")
        .asset_state(&orders(), "watermark", json!("2026-01-01"))
        .run(|ctx| {
            let by_name = ctx.asset_state_by_name("orders");
            let by_uri = ctx.asset_state_by_uri("s3://bucket/orders");
            let before: Option<String> = by_uri.get("watermark")?;
            by_name.set("watermark", "2026-02-01")?;
            by_uri.set("offsets", &json!({"p0": 10}))?;
            let after: Option<String> = by_uri.get("watermark")?;
            by_name.delete("offsets")?;
            let deleted: Option<serde_json::Value> = by_name.get("offsets")?;
            by_uri.set("scratch", &1)?;
            Ok(json!({"before": before, "after": after, "deleted": deleted}))
        });
    out.assert_success();
    assert_eq!(
        out.return_value,
        Some(json!({"before": "2026-01-01", "after": "2026-02-01", "deleted": null}))
    );
    assert_eq!(
        out.asset_state["orders"],
        [
            ("scratch".to_owned(), json!(1)),
            ("watermark".to_owned(), json!("2026-02-01"))
        ]
        .into_iter()
        .collect::<BTreeMap<_, _>>()
    );
    let kinds: Vec<_> = out.requests.iter().map(|r| r.kind).collect();
    assert_eq!(kinds[0], RequestKind::GetAssetStateStoreByUri);
    assert_eq!(
        out.requests[1].body,
        json!({"type": "SetAssetStateStoreByName",
        "name": "orders", "key": "watermark", "value": "2026-02-01"})
    );
    // Clear, by either name.
    let out = TestRun::new("d", "t")
        .asset_state(&orders(), "a", json!(1))
        .asset_state(&orders(), "b", json!(2))
        .run(|ctx| {
            ctx.asset_state_by_uri("s3://bucket/orders").clear()?;
            Ok(ctx.asset_state_by_name("orders").get::<u32>("a")?)
        });
    out.assert_success();
    assert_eq!(out.return_value, None);
    assert!(out.asset_state.get("orders").is_none_or(|s| s.is_empty()));
}

#[test]
fn an_unknown_asset_reads_as_nothing_and_refuses_writes_and_nulls_are_refused() {
    let out = TestRun::new("d", "t").asset(&orders()).run(|ctx| {
        let missing: Option<u32> = ctx.asset_state_by_name("nope").get("k")?;
        let write = ctx
            .asset_state_by_uri("s3://nope")
            .set("k", &1)
            .unwrap_err();
        let null_err = ctx
            .asset_state_by_name("orders")
            .set("k", &serde_json::Value::Null)
            .unwrap_err();
        let wrong_type = {
            ctx.asset_state_by_name("orders").set("k", "text")?;
            ctx.asset_state_by_name("orders")
                .get::<u32>("k")
                .unwrap_err()
        };
        assert!(matches!(write, RequestError::ApiServer { .. }), "{write}");
        assert!(matches!(null_err, RequestError::Value { .. }), "{null_err}");
        Ok(json!({
            "missing": missing,
            "write": write.to_string(),
            "null": null_err.to_string(),
            "wrong_type": wrong_type.to_string(),
        }))
    });
    out.assert_success();
    let r = out.return_value.clone().unwrap();
    assert_eq!(r["missing"], json!(null));
    let write = r["write"].as_str().unwrap();
    assert!(
        write.contains("SetAssetStateStoreByUri \"s3://nope\" \"k\""),
        "{write}"
    );
    assert!(write.contains("404"), "{write}");
    assert!(
        r["null"].as_str().unwrap().contains("delete the key"),
        "{r}"
    );
    assert!(
        r["wrong_type"]
            .as_str()
            .unwrap()
            .contains("GetAssetStateStoreByName"),
        "{r}"
    );
    // The null never reached Airflow.
    assert_eq!(
        out.requests_of(RequestKind::SetAssetStateStoreByName)
            .count(),
        1
    );
}

#[test]
fn events_emitted_through_an_alias_are_sent_with_success_only() {
    let alias = AssetAlias::new("partitions");
    let part = Asset::new("sales_2026_12_06", "s3://bucket/sales/2026-12-06");
    let emit = |ctx: &mut TaskContext| -> TaskResult {
        ctx.emit_asset_via_alias(&alias, &part, json!({"rows": 42}));
        ctx.emit_asset_via_alias(&alias, &part, serde_json::Value::Null);
        if ctx.conf()["fail"] == true {
            return Err(TaskError::fail("no"));
        }
        Ok(())
    };
    let out = TestRun::new("d", "t").run(emit);
    out.assert_success();
    assert_eq!(
        out.terminal.body["task_outlets"],
        json!([{"name": "partitions", "type": "AssetAlias"}])
    );
    let event = |extra| {
        json!({"source_alias_name": "partitions",
               "dest_asset_key": {"name": part.name, "uri": part.uri},
               "dest_asset_extra": {}, "extra": extra})
    };
    assert_eq!(
        out.terminal.body["outlet_events"],
        json!([event(json!({"rows": 42})), event(json!({}))])
    );
    assert_eq!(out.emitted_alias_events.len(), 2);
    assert_eq!(out.emitted_alias_events[0].0, alias);
    let out = TestRun::new("d", "t").conf(json!({"fail": true})).run(emit);
    out.assert_state(TestState::Failed);
    assert_eq!(out.terminal.kind, RequestKind::TaskState);
}

#[test]
fn events_and_assets_are_read_by_alias() {
    let alias = AssetAlias::new("partitions");
    let a = Asset::new("p1", "s3://b/p1");
    let b = Asset::new("p2", "s3://b/p2");
    let out = TestRun::new("d", "t")
        .asset_alias_event(&alias, &a, json!({"n": 1}))
        .asset_event(&b, json!({"n": 0}))
        .asset_alias_event(&alias, &b, json!({"n": 2}))
        .asset_alias_event(&alias, &a, json!({"n": 3}))
        .run(|ctx| {
            let alias = AssetAlias::new("partitions");
            let events = ctx.asset_events_by_alias(&alias, None)?;
            let first_two = ctx.asset_events_by_alias(&alias, Some(2))?;
            let assets = ctx.assets_by_alias(&alias)?;
            let none = ctx.asset_events_by_alias(&AssetAlias::new("other"), None)?;
            Ok(json!({
                "extras": events.iter().map(|e| e.extra.clone()).collect::<Vec<_>>(),
                "first_two": first_two.len(),
                "assets": assets.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
                "none": none.len(),
            }))
        });
    out.assert_success();
    assert_eq!(
        out.return_value,
        Some(
            json!({"extras": [{"n": 1}, {"n": 2}, {"n": 3}], "first_two": 2,
                    "assets": ["p1", "p2"], "none": 0})
        )
    );
    assert_eq!(
        out.requests_of(RequestKind::GetAssetEventByAssetAlias)
            .next()
            .unwrap()
            .body,
        json!({"type": "GetAssetEventByAssetAlias", "alias_name": "partitions", "ascending": true})
    );
}
