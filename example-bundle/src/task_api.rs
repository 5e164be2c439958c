//! The `task_api` dag: every part of the task API, used the way a real task would, for the
//! real-deployment tests (`tests/tests/e2e/task_api.rs`, stubs in
//! `tests/harness/dags/task_api_stubs.py`). Each task pushes what it saw as XComs; the tests
//! compare them with what Airflow's REST API says.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use airflow_sdk::log::info;
use airflow_sdk::{
    Asset, Dag, DagRunQuery, TaskContext, TaskError, TaskResult, TiQuery, TriggerOptions, XComRef,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The asset `emit_asset` produces and `task_api_consumer` is scheduled on.
pub const ASSET_NAME: &str = "rust_task_api_asset";
/// Its URI.
pub const ASSET_URI: &str = "file:///tmp/rust_task_api_asset";
/// The dag `trigger` starts.
const TARGET_DAG: &str = "task_api_target";

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Limits {
    max_rows: u64,
    tables: Vec<String>,
}

/// Writes, reads back as JSON and deletes Variables; reads one from `AIRFLOW_VAR_*`.
fn variables(ctx: &mut TaskContext) -> TaskResult {
    ctx.set_variable_with_description("ta_written", "written by rust", "set by task_api")?;
    let limits = Limits {
        max_rows: 42,
        tables: vec!["a".into(), "b".into()],
    };
    ctx.set_variable_json("ta_json", &limits)?;
    let back: Limits = ctx.variable_json("ta_json")?.ok_or("ta_json vanished")?;
    if back != limits {
        return Err(TaskError::fail(format!("ta_json read back as {back:?}")));
    }
    ctx.delete_variable("ta_to_delete")?;
    ctx.xcom_push("deleted_now", &ctx.variable("ta_to_delete")?)?;
    // Deleting it again succeeds: Airflow 3.3.2's API server answers OK for a missing key.
    ctx.delete_variable("ta_to_delete")?;
    ctx.xcom_push("env_var", &ctx.variable("ta_env")?)?;
    Ok(())
}

/// Connections from Airflow and from `AIRFLOW_CONN_*` (URI and JSON), as URIs and typed extra.
fn connections(ctx: &mut TaskContext) -> TaskResult<BTreeMap<String, String>> {
    #[derive(Deserialize)]
    struct Extra {
        timeout: u32,
    }
    let mut uris = BTreeMap::new();
    for id in ["ta_conn", "ta_env_uri", "ta_env_json"] {
        let c = ctx.connection(id)?.ok_or(format!("no connection {id}"))?;
        uris.insert(id.to_owned(), c.uri());
    }
    let c = ctx.connection("ta_conn")?.ok_or("no ta_conn")?;
    ctx.xcom_push("extra_timeout", &c.extra_as::<Extra>()?.timeout)?;
    Ok(uris)
}

/// Writes, reads back, lists and deletes objects through the `fs` connection `ta_fs` (blocking
/// calls of a sync task); a connection of another type is a typed error naming it.
#[cfg(feature = "object-store")]
fn object_store_fs(ctx: &mut TaskContext) -> TaskResult<Value> {
    let fs = ctx.object_storage("ta_fs", None)?;
    let text = format!("written by rust in {}", ctx.run_id());
    fs.write("rust/hello.txt", text.clone())?;
    let read = String::from_utf8(fs.read("rust/hello.txt")?)?;
    fs.write("rust/doomed.txt", "gone soon")?;
    fs.delete("rust/doomed.txt")?;
    let listed: Vec<String> = fs
        .list(Some("rust"))?
        .iter()
        .map(|m| m.location.to_string())
        .collect();
    let not_a_store = match ctx.object_storage("ta_conn", None) {
        Ok(s) => return Err(TaskError::fail(format!("ta_conn made a store: {s:?}"))),
        Err(e) => e.to_string(),
    };
    info!(bytes = text.len(); "object store: wrote rust/hello.txt through ta_fs");
    Ok(json!({"read": read, "listed": listed, "not_a_store": not_a_store}))
}

/// The same through the `aws` connection `ta_s3` (an S3-compatible server; the bucket from the
/// connection's `service_config`), awaited on the async task's runtime.
#[cfg(feature = "object-store")]
async fn object_store_s3(ctx: &TaskContext) -> TaskResult<Value> {
    use airflow_sdk::object_store::{ObjectStoreExt, path::Path};
    let s3 = ctx.object_storage("ta_s3", None)?;
    let store = s3.store();
    let key = Path::from("rust/hello.txt");
    let text = format!("written by rust to s3 in {}", ctx.run_id());
    store.put(&key, text.clone().into()).await?;
    let read = String::from_utf8(store.get(&key).await?.bytes().await?.to_vec())?;
    let listing = store.list_with_delimiter(Some(&Path::from("rust"))).await?;
    let listed: Vec<String> = listing
        .objects
        .iter()
        .map(|m| m.location.to_string())
        .collect();
    info!(bytes = text.len(); "object store: wrote rust/hello.txt to {store}");
    Ok(json!({"read": read, "listed": listed}))
}

/// Pulls one map index of a mapped Python task, and counts its values.
fn xcoms(ctx: &mut TaskContext) -> TaskResult<Value> {
    let r = XComRef::new(ctx.dag_id(), ctx.run_id(), "py_mapped");
    let second: Option<u64> = ctx.xcom_pull_from(&r.clone().map_index(1))?;
    let count = ctx.xcom_count(&r)?;
    let missing: Option<u64> = ctx.xcom_pull_from(&r.clone().key("no_such_key").map_index(0))?;
    // No map index: Airflow reads map index -1, which a mapped task does not have.
    let unmapped: Option<u64> = ctx.xcom_pull_from(&r)?;
    Ok(json!({"map_index_1": second, "count": count, "missing": missing, "unmapped": unmapped}))
}

/// Remembers progress across tries: try 1 records it and fails, try 2 resumes from it.
fn resumable(ctx: &mut TaskContext) -> TaskResult {
    let store = ctx.state_store();
    let done: Option<u64> = store.get("pages_done")?;
    if ctx.try_number() == 1 {
        store.set("pages_done", &3u64)?;
        return Err(TaskError::fail("failing after 3 pages, on purpose"));
    }
    ctx.xcom_push("resumed_from", &done)?;
    store.set_with_retention("scratch", &json!({"x": 1}), Duration::from_secs(3600))?;
    let scratch: Option<Value> = store.get("scratch")?;
    store.delete("scratch")?;
    let after_delete: Option<Value> = store.get("scratch")?;
    store.clear()?;
    let after_clear: Option<u64> = store.get("pages_done")?;
    ctx.xcom_push(
        "store",
        &json!({"scratch": scratch, "after_delete": after_delete, "after_clear": after_clear}),
    )?;
    Ok(())
}

/// Follows `follow_me`, skips `skip_me`.
fn branch(ctx: &mut TaskContext) -> TaskResult {
    ctx.branch(&["follow_me"], &["follow_me", "skip_me"])?;
    Ok(())
}

/// Triggers `task_api_target` with conf, waits for it, pulls what it pushed.
fn trigger(ctx: &mut TaskContext) -> TaskResult<Value> {
    let run_id = format!("triggered_by_rust__{}", ctx.run_id());
    let logical = airflow_sdk::time::OffsetDateTime::now_utc();
    let opts = TriggerOptions::new()
        .run_id(&run_id)
        .conf(json!({"from": "rust", "n": 7}))
        .logical_date(logical)
        .note("triggered by a Rust task");
    ctx.trigger_dag(TARGET_DAG, &opts)?;
    let state = ctx.wait_dag_run(
        TARGET_DAG,
        &run_id,
        Duration::from_millis(500),
        Some(Duration::from_secs(240)),
    )?;
    let echoed: Option<Value> = ctx.xcom_pull_from(&XComRef::new(TARGET_DAG, &run_id, "echo"))?;
    // Triggering the same run id again is an error naming it.
    let again = ctx.trigger_dag(TARGET_DAG, &opts).unwrap_err().to_string();
    Ok(json!({"run_id": run_id, "state": state, "echoed": echoed, "again": again}))
}

/// Run and history queries.
fn history(ctx: &mut TaskContext) -> TaskResult<Value> {
    let mapped_ok = ctx.ti_count(
        &TiQuery::dag(ctx.dag_id())
            .run_ids([ctx.run_id()])
            .task_ids(["py_mapped"])
            .states(["success"]),
    )?;
    let target_runs = ctx.dag_run_count(&DagRunQuery::dag(TARGET_DAG).states(["success"]))?;
    let states = ctx.task_states(
        &TiQuery::dag(ctx.dag_id())
            .run_ids([ctx.run_id()])
            .task_ids(["branch", "trigger"]),
    )?;
    let now = airflow_sdk::time::OffsetDateTime::now_utc();
    let previous = ctx.previous_dag_run(TARGET_DAG, now, Some("success"))?;
    let prev_ok = ctx.prev_successful_dag_run()?;
    Ok(json!({
        "mapped_success": mapped_ok,
        "target_success_runs": target_runs,
        "states": states,
        "previous_target_run": previous.map(|r| json!({"run_id": r.run_id, "state": r.state, "conf": r.conf})),
        "prev_successful_of_this_dag": prev_ok.is_some(),
    }))
}

/// What the UI shows: rendered fields and a rendered map index.
fn ui(ctx: &mut TaskContext) -> TaskResult {
    ctx.set_rendered_fields(&json!({"table": "sales_2026", "limit": 100, "tags": ["a", "b"]}))?;
    ctx.set_rendered_map_index("sales for 2026")?;
    Ok(())
}

/// Produces the asset (an outlet and an event with extra).
fn emit_asset(ctx: &mut TaskContext) -> TaskResult {
    ctx.emit_asset(
        &Asset::new(ASSET_NAME, ASSET_URI),
        json!({"rows": 42, "from": ctx.run_id()}),
    );
    Ok(())
}

/// Reads the asset and its events (after `emit_asset` succeeded).
fn read_asset(ctx: &mut TaskContext) -> TaskResult<Value> {
    let by_name = ctx.asset_by_name(ASSET_NAME)?.ok_or("no asset by name")?;
    let by_uri = ctx.asset_by_uri(ASSET_URI)?.ok_or("no asset by uri")?;
    let missing = ctx.asset_by_name("no_such_asset_anywhere")?;
    let events = ctx.asset_events(&Asset::new(ASSET_NAME, ASSET_URI), None)?;
    let mine: Vec<Value> = events
        .iter()
        .filter(|e| e.source_run_id.as_deref() == Some(ctx.run_id()))
        .map(|e| json!({"extra": e.extra, "source_task_id": e.source_task_id}))
        .collect();
    Ok(json!({
        "by_name_uri": by_name.uri,
        "by_uri_name": by_uri.name,
        "group": by_name.group,
        "missing": missing.is_none(),
        "events_of_this_run": mine,
    }))
}

/// Logs secrets: a connection password, a sensitive Variable, a value marked secret.
fn secrets(ctx: &mut TaskContext) -> TaskResult {
    let c = ctx.connection("ta_conn")?.ok_or("no ta_conn")?;
    let password = c.password.clone().unwrap_or_default();
    info!("connection password is {password}");
    let key = ctx.variable("ta_api_key")?.ok_or("no ta_api_key")?;
    info!("api key is {key}");
    let plain = ctx.variable("ta_plain")?.ok_or("no ta_plain")?;
    info!("plain value is {plain}");
    let own = "own-secret-value-9f3b";
    ctx.mask_secret(own)?;
    info!(token = own; "own secret is {own}");
    Ok(())
}

/// Many requests from a pool of threads at once, each checking it got its own answer.
fn concurrent(ctx: &mut TaskContext) -> TaskResult<Value> {
    const THREADS: usize = 8;
    const EACH: usize = 25;
    let ctx: &TaskContext = ctx;
    let start = Instant::now();
    let results: Vec<Result<usize, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || -> Result<usize, String> {
                    let key = format!("ta_conc_{t}");
                    for _ in 0..EACH {
                        let v = ctx.variable(&key).map_err(|e| e.to_string())?;
                        if v.as_deref() != Some(format!("value-{t}").as_str()) {
                            return Err(format!("{key} read {v:?}"));
                        }
                    }
                    Ok(EACH)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    let mut ok = 0;
    for r in results {
        ok += r.map_err(TaskError::fail)?;
    }
    Ok(json!({"requests": ok, "threads": THREADS, "seconds": start.elapsed().as_secs_f64()}))
}

/// Times `n` `GetVariable` round trips; returns the median in microseconds.
fn latency(ctx: &mut TaskContext) -> TaskResult<Value> {
    let n: usize = ctx
        .conf()
        .get("latency_n")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(1000);
    let mut micros = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        ctx.variable("ta_latency")?.ok_or("no ta_latency")?;
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);
    Ok(json!({"n": n, "median_us": micros[n / 2], "p90_us": micros[n * 9 / 10]}))
}

/// Failed requests are `RequestError`s naming the request and key, never a panic or hang.
fn errors(ctx: &mut TaskContext) -> TaskResult<Value> {
    let state = ctx
        .dag_run_state("no_such_dag_xyz", "no_such_run")
        .unwrap_err()
        .to_string();
    let skip = ctx
        .set_rendered_fields(&json!([1, 2]))
        .unwrap_err()
        .to_string();
    Ok(json!({"dag_run_state": state, "rendered_fields": skip}))
}

/// The `task_api` dag.
pub fn dag() -> Dag {
    let dag = Dag::new("task_api")
        .task("variables", variables)
        .task("connections", connections)
        .task("xcoms", xcoms)
        .task("resumable", resumable)
        .task("branch", branch)
        .task("trigger", trigger)
        .task("history", history)
        .task("ui", ui)
        .task("emit_asset", emit_asset)
        .task("read_asset", read_asset)
        .task("secrets", secrets)
        .task("concurrent", concurrent)
        .task("latency", latency)
        .task("errors", errors);
    // Only in a build with the `object-store` feature (the task_api deployment test packs one).
    #[cfg(feature = "object-store")]
    let dag = dag
        .task("object_store_fs", object_store_fs)
        .task_async("object_store_s3", object_store_s3);
    dag
}

#[cfg(test)]
mod tests {
    //! The tasks whose Airflow behaviour `tests/tests/e2e/task_api.rs` checks in a real
    //! deployment, here as unit tests with `airflow_sdk::testing`.

    use airflow_sdk::Connection;
    use airflow_sdk::testing::{TestRun, TestState};
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_masked_in_the_task_log_and_plain_values_are_not() {
        let conn = Connection::from_json(
            "ta_conn",
            r#"{"conn_type": "http", "host": "api.example", "password": "hunter2-secret-pw",
                "extra": "{\"timeout\": 5}"}"#,
        )
        .unwrap();
        let out = TestRun::new("task_api", "secrets")
            .connection(conn)
            .variable("ta_api_key", "apikey-value-7c1d")
            .variable("ta_plain", "plain-visible-value")
            .run(secrets);
        out.assert_success();
        let message = |start: &str| &out.log_containing(start).unwrap().message;
        assert_eq!(
            message("connection password is"),
            "connection password is ***"
        );
        assert_eq!(message("api key is"), "api key is ***");
        assert_eq!(
            message("plain value is"),
            "plain value is plain-visible-value"
        );
        let own = out.log_containing("own secret is").unwrap();
        assert_eq!(own.message, "own secret is ***");
        assert_eq!(own.fields["token"], "***");
    }

    #[test]
    fn resumable_resumes_from_the_state_store_on_its_second_try() {
        let first = TestRun::new("task_api", "resumable")
            .max_tries(1)
            .run(resumable);
        assert_eq!(first.state, TestState::UpForRetry);
        assert_eq!(first.state_store["pages_done"], json!(3));
        let second = TestRun::new("task_api", "resumable")
            .try_number(2)
            .max_tries(1)
            .state_store("pages_done", first.state_store["pages_done"].clone())
            .run(resumable);
        second.assert_success();
        assert_eq!(second.xcom("resumed_from"), Some(&json!(3)));
        assert_eq!(
            second.xcom("store"),
            Some(&json!({"scratch": {"x": 1}, "after_delete": null, "after_clear": null}))
        );
        assert!(second.state_store.is_empty());
    }
}
