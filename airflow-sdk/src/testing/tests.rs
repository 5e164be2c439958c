//! The harness itself: each outcome, each request kind, failure injection, logs, cancellation.

use std::time::Duration;

use log::{Level, LevelFilter, debug, info, warn};
use serde_json::{Value, json};

use super::*;
use crate::{Asset, DagRunQuery, RequestError, Task, TaskError, TiQuery, TriggerOptions, XComRef};

/// Deferral: the trigger asked for, resume handlers, failed triggers.
mod deferral;
/// Human in the loop: the request sent, the answer, timeouts.
mod hitl;
/// The retry policy, the asset state store and asset aliases.
mod retry_assets;
/// Sensors: poke and reschedule modes, the timeout from the first run, soft fail.
mod sensor;

fn ok(_: &mut TaskContext) -> TaskResult {
    Ok(())
}

fn fails(_: &mut TaskContext) -> TaskResult {
    Err(TaskError::fail("nope"))
}

// --- outcomes ---------------------------------------------------------------------------------

#[test]
fn a_returned_value_is_pushed_then_success_is_reported() {
    let out = TestRun::new("d", "t").run(|_| Ok(vec![1, 2]));
    out.assert_success();
    assert_eq!(out.return_value, Some(json!([1, 2])));
    assert_eq!(out.error, None);
    assert_eq!(
        out.xcoms_pushed,
        [PushedXCom {
            key: "return_value".into(),
            value: json!([1, 2]),
            map_index: None
        }]
    );
    let kinds: Vec<_> = out.requests.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RequestKind::SetXCom]);
    assert_eq!(out.requests[0].body["type"], "SetXCom");
    assert_eq!(out.requests[0].body["task_id"], "t");
    assert_eq!(out.requests[0].body["map_index"], -1);
    assert_eq!(out.terminal.kind, RequestKind::SucceedTask);
    assert_eq!(out.terminal.body["task_outlets"], json!([]));
    // `()` pushes nothing.
    let out = TestRun::new("d", "t").run(ok);
    out.assert_success();
    assert_eq!(out.return_value, None);
    assert!(out.requests.is_empty());
}

#[test]
fn a_failure_is_retried_while_tries_remain_then_failed() {
    for (try_number, max_tries, want) in [
        (1, 0, TestState::Failed),
        (1, 1, TestState::UpForRetry),
        (2, 1, TestState::Failed),
        (2, 3, TestState::UpForRetry),
        (4, 3, TestState::Failed),
    ] {
        let out = TestRun::new("d", "t")
            .try_number(try_number)
            .max_tries(max_tries)
            .run(fails);
        assert_eq!(out.state, want, "try {try_number} of max_tries {max_tries}");
        assert_eq!(out.error.as_deref(), Some("nope"));
        let terminal = match want {
            TestState::UpForRetry => RequestKind::RetryTask,
            _ => RequestKind::TaskState,
        };
        assert_eq!(out.terminal.kind, terminal);
    }
    let out = TestRun::new("d", "t").max_tries(1).run(fails);
    assert_eq!(out.terminal.body["retry_reason"], "nope");
    // The runtime logs why, at error level.
    let log = out.log_containing("task failed: nope").expect("logged");
    assert_eq!(log.level, Level::Error);
    assert_eq!(log.target, "airflow_sdk::runtime");
    assert_eq!(log.fields["error"], "nope");
}

#[test]
fn no_retry_skip_and_panic_end_as_under_airflow() {
    let out = TestRun::new("d", "t")
        .max_tries(5)
        .run(|_| -> TaskResult { Err(TaskError::fail_no_retry("bad input")) });
    assert_eq!(out.state, TestState::Failed);
    assert_eq!(out.terminal.body["state"], "failed");
    let out = TestRun::new("d", "t").run(|_| -> TaskResult { Err(TaskError::skip("holiday")) });
    assert_eq!(out.state, TestState::Skipped);
    assert_eq!(out.terminal.body["state"], "skipped");
    assert_eq!(out.error.as_deref(), Some("holiday"));
    for (max_tries, want) in [(0, TestState::Failed), (1, TestState::UpForRetry)] {
        let out = TestRun::new("d", "t")
            .max_tries(max_tries)
            .run(|_| -> TaskResult { panic!("kaboom {}", 7) });
        assert_eq!(out.state, want);
        assert_eq!(out.error.as_deref(), Some("panicked: kaboom 7"));
    }
    // Any error type converts, with its causes.
    let out = TestRun::new("d", "t").run(|_| -> TaskResult {
        std::fs::read("/nonexistent/airflow-sdk-testing")?;
        Ok(())
    });
    assert_eq!(out.state, TestState::Failed);
    assert!(out.error.unwrap().contains("No such file"));
}

/// A value whose `Display` panics.
struct PanicsWhenShown;

impl std::fmt::Display for PanicsWhenShown {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Display exploded")
    }
}

/// A value whose `Display` logs.
struct LogsWhenShown;

impl std::fmt::Display for LogsWhenShown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        info!("from inside Display");
        write!(f, "shown")
    }
}

#[test]
fn a_panic_reaches_the_log_as_in_the_task_log() {
    let out = TestRun::new("d", "t").run(|_| -> TaskResult { panic!("kaboom {}", 7) });
    let record = out
        .log_containing("panicked: kaboom 7")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(record.level, Level::Error);
    assert_eq!(record.target, "airflow_sdk::runtime");
    let location = record.fields["location"].as_str().unwrap();
    assert!(location.contains("tests.rs"), "{location}");
}

#[test]
fn a_logged_value_whose_display_panics_fails_the_task_with_the_panic_in_the_log() {
    for (max_tries, want) in [(0, TestState::Failed), (1, TestState::UpForRetry)] {
        let out = TestRun::new("d", "t")
            .max_tries(max_tries)
            .run(|_| -> TaskResult {
                info!("value: {}", PanicsWhenShown);
                Ok(())
            });
        assert_eq!(out.state, want, "{out}");
        assert_eq!(out.error.as_deref(), Some("panicked: Display exploded"));
        // The hook's record, as the runtime writes it to the task log, then the verdict.
        let hook = out
            .logs
            .iter()
            .position(|l| l.message == "panicked: Display exploded")
            .unwrap_or_else(|| panic!("{out}"));
        let verdict = out
            .logs
            .iter()
            .position(|l| {
                l.message
                    .starts_with("task failed: it panicked: Display exploded")
            })
            .unwrap_or_else(|| panic!("{out}"));
        assert!(hook < verdict, "{out}");
        assert!(out.log_containing("value:").is_none(), "{out}");
    }
    // A field's Display panics the same way.
    let out = TestRun::new("d", "t").run(|_| -> TaskResult {
        info!(v:% = PanicsWhenShown; "with a field");
        Ok(())
    });
    assert_eq!(out.state, TestState::Failed, "{out}");
    assert!(
        out.log_containing("panicked: Display exploded").is_some(),
        "{out}"
    );
}

#[test]
fn a_logged_value_whose_display_logs_is_logged_in_order() {
    let out = TestRun::new("d", "t").run(|_| -> TaskResult {
        info!("outer: {}", LogsWhenShown);
        Ok(())
    });
    out.assert_success();
    let messages: Vec<_> = out.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["from inside Display", "outer: shown"], "{out}");
}

#[test]
fn a_value_that_cannot_be_serialized_fails_without_retry() {
    let mut map = std::collections::HashMap::new();
    map.insert((1, 2), "tuple keys are not JSON");
    let out = TestRun::new("d", "t")
        .max_tries(3)
        .run(move |_| Ok(map.clone()));
    assert_eq!(out.state, TestState::Failed);
    assert!(out.error.unwrap().contains("cannot be serialized"));
}

fn bundle() -> Bundle {
    fn region(ctx: &mut TaskContext) -> TaskResult<String> {
        Ok(ctx.param::<String>("region")?.unwrap_or_default())
    }
    fn load(_: &mut TaskContext, rows: Vec<u64>, table: String) -> TaskResult<String> {
        Ok(format!("{} into {table}", rows.iter().sum::<u64>()))
    }
    Bundle::new()
        .supervisor_schema(SchemaVersion::V2026_10_30)
        .dag(
            Dag::new("etl")
                .param("region", "eu")
                .default_task(crate::TaskSettings::new().retries(2))
                .task("region", region)
                .task(Task::new("strict").retries(0), fails)
                .task("flaky", fails)
                .task_with_args("load", ["rows", "table"], load),
        )
}

#[test]
fn run_in_uses_the_bundles_params_retries_and_argument_bindings() {
    let b = bundle();
    let out = TestRun::new("etl", "region").run_in(&b);
    assert_eq!(out.return_value, Some(json!("eu")));
    let out = TestRun::new("etl", "region")
        .conf(json!({"region": "us"}))
        .run_in(&b);
    assert_eq!(out.return_value, Some(json!("us")));
    // The dag's default retries (2), the task's own (0), or the test's.
    assert_eq!(
        TestRun::new("etl", "flaky").try_number(2).run_in(&b).state,
        TestState::UpForRetry
    );
    assert_eq!(
        TestRun::new("etl", "flaky").try_number(3).run_in(&b).state,
        TestState::Failed
    );
    assert_eq!(
        TestRun::new("etl", "strict").run_in(&b).state,
        TestState::Failed
    );
    assert_eq!(
        TestRun::new("etl", "flaky").max_tries(0).run_in(&b).state,
        TestState::Failed
    );
    // Typed arguments from an upstream XCom and a literal.
    let out = TestRun::new("etl", "load")
        .xcom("transform", "return_value", json!([1, 2, 3]))
        .arg_from("rows", "transform")
        .arg("table", json!("t1"))
        .run_in(&b);
    out.assert_success();
    assert_eq!(out.return_value, Some(json!("6 into t1")));
    assert_eq!(out.requests[0].kind, RequestKind::GetXCom);
    assert_eq!(out.requests[0].body["task_id"], "transform");
}

#[test]
fn argument_errors_fail_without_retry_naming_the_parameter() {
    let b = bundle();
    // No bindings at all.
    let out = TestRun::new("etl", "load").max_tries(3).run_in(&b);
    assert_eq!(out.state, TestState::Failed);
    assert!(out.error.unwrap().contains("no argument bindings"));
    // A value of the wrong type.
    let out = TestRun::new("etl", "load")
        .max_tries(3)
        .xcom("transform", "return_value", json!({"rows": 1}))
        .arg_from("rows", "transform")
        .arg("table", json!("t1"))
        .run_in(&b);
    assert_eq!(out.state, TestState::Failed);
    let error = out.error.unwrap();
    assert!(error.contains("argument `rows`"), "{error}");
    assert!(
        error.contains("the output of task \"transform\""),
        "{error}"
    );
}

#[test]
fn an_unknown_task_fails_naming_the_dags_tasks() {
    let out = TestRun::new("etl", "lod").max_tries(3).run_in(&bundle());
    assert_eq!(out.state, TestState::Failed);
    let error = out.error.clone().unwrap();
    assert!(error.contains("no task \"lod\""), "{error}");
    assert!(error.contains("region, strict, flaky, load"), "{error}");
    assert!(out.log_containing("no task \"lod\"").is_some());
}

#[test]
#[should_panic(expected = "the bundle cannot run")]
fn an_invalid_bundle_is_refused() {
    let b = Bundle::new().dag(Dag::new("d").task("t", ok).task("t", ok));
    let _ = TestRun::new("d", "t").run_in(&b);
}

#[test]
#[should_panic(expected = "takes 2 argument(s)")]
fn run_with_args_refuses_a_wrong_parameter_list() {
    fn two(_: &mut TaskContext, _a: u8, _b: u8) -> TaskResult {
        Ok(())
    }
    let _ = TestRun::new("d", "t").run_with_args(["a"], two);
}

// --- the task instance ------------------------------------------------------------------------

#[test]
fn the_context_has_what_the_test_set() {
    let out = TestRun::new("etl", "t")
        .run_id("scheduled__x")
        .ti_id("0199-ti")
        .try_number(3)
        .max_tries(4)
        .map_index(2)
        .logical_date("2026-03-01T06:00:00+02:00")
        .data_interval("2026-02-28", "2026-03-01")
        .run_after("2026-03-01T05:00:00Z")
        .start_date("2026-03-01T07:00:00Z")
        .run_type("scheduled")
        .conf(json!({"k": [1]}))
        .param("p", 5)
        .run(|ctx| {
            let t = |d: Option<OffsetDateTime>| d.map(format_time);
            Ok(json!({
                "dag": ctx.dag_id(), "task": ctx.task_id(), "run": ctx.run_id(),
                "ti": ctx.ti_id(), "try": ctx.try_number(), "max": ctx.max_tries(),
                "map": ctx.map_index(), "logical": t(ctx.logical_date()),
                "start": t(ctx.data_interval_start()), "end": t(ctx.data_interval_end()),
                "after": t(ctx.run_after()), "started": t(ctx.start_date()),
                "type": ctx.run_type(), "conf": ctx.conf(), "p": ctx.param::<u8>("p")?,
            }))
        });
    assert_eq!(
        out.return_value.unwrap(),
        json!({
            "dag": "etl", "task": "t", "run": "scheduled__x", "ti": "0199-ti", "try": 3,
            "max": 4, "map": 2, "logical": "2026-03-01T04:00:00Z",
            "start": "2026-02-28T00:00:00Z", "end": "2026-03-01T00:00:00Z",
            "after": "2026-03-01T05:00:00Z", "started": "2026-03-01T07:00:00Z",
            "type": "scheduled", "conf": {"k": [1]}, "p": 5,
        })
    );
    // A mapped instance pushes under its map index.
    assert_eq!(out.xcoms_pushed[0].map_index, Some(2));
    assert_eq!(out.requests[0].body["map_index"], 2);
}

#[test]
fn defaults_are_a_manual_run_on_2026_01_01() {
    let out = TestRun::new("d", "t").run(|ctx| {
        Ok(json!([
            ctx.run_id(),
            ctx.logical_date().map(format_time),
            ctx.run_type(),
            ctx.conf(),
            ctx.try_number(),
            ctx.max_tries(),
            ctx.map_index(),
        ]))
    });
    assert_eq!(
        out.return_value.unwrap(),
        json!([
            "manual__2026-01-01T00:00:00+00:00",
            "2026-01-01T00:00:00Z",
            "manual",
            {},
            1,
            0,
            null
        ])
    );
    let out = TestRun::new("d", "t")
        .no_logical_date()
        .run(|ctx| Ok(ctx.logical_date().is_none() && ctx.run_id().starts_with("manual__")));
    assert_eq!(out.return_value, Some(json!(true)));
}

#[test]
#[should_panic(expected = "TestRun::logical_date")]
fn a_bad_date_names_the_method() {
    let _ = TestRun::new("d", "t").logical_date("yesterday");
}

// --- each request kind ------------------------------------------------------------------------

#[test]
fn variables_are_read_written_and_deleted() {
    let out = TestRun::new("d", "t")
        .variable("a", "1")
        .variable("limits", r#"{"max": 3}"#)
        .variable("gone", "x")
        .run(|ctx| {
            let a = ctx.variable("a")?;
            let missing = ctx.variable("nope")?;
            #[derive(serde::Deserialize)]
            struct Limits {
                max: u8,
            }
            let max = ctx.variable_json::<Limits>("limits")?.map(|l| l.max);
            ctx.set_variable("b", "2")?;
            ctx.set_variable_with_description("c", "3", "desc")?;
            ctx.set_variable_json("j", &json!([1]))?;
            ctx.delete_variable("gone")?;
            // Deleting a missing key succeeds, as on Airflow 3.3.2.
            ctx.delete_variable("never")?;
            Ok(json!([a, missing, max, ctx.variable("b")?]))
        });
    out.assert_success();
    assert_eq!(out.return_value, Some(json!(["1", null, 3, "2"])));
    let vars: Vec<_> = out
        .variables
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        vars,
        [
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("j", "[1]"),
            ("limits", r#"{"max": 3}"#)
        ]
    );
    let kinds: Vec<_> = out.requests.iter().map(|r| r.kind).collect();
    use RequestKind::*;
    assert_eq!(
        kinds,
        [
            GetVariable,
            MaskSecret,
            GetVariable,
            GetVariable,
            MaskSecret,
            PutVariable,
            PutVariable,
            PutVariable,
            DeleteVariable,
            DeleteVariable,
            GetVariable,
            MaskSecret,
            SetXCom
        ]
    );
    assert_eq!(out.requests[6].body["description"], "desc");
}

#[test]
fn connections_are_read_and_missing_ones_are_none() {
    let conn = Connection::from_json(
        "wh",
        r#"{"conn_type": "postgres", "host": "db", "port": 5432, "login": "u",
            "password": "pw-12345", "schema": "dw", "extra": {"sslmode": "require"}}"#,
    )
    .unwrap();
    let out = TestRun::new("d", "t").connection(conn).run(|ctx| {
        let c = ctx.connection("wh")?.ok_or("no wh")?;
        let missing = ctx.connection("nope")?;
        Ok(json!([
            c.uri(),
            c.extra["sslmode"],
            c.port,
            missing.is_none()
        ]))
    });
    out.assert_success();
    assert_eq!(
        out.return_value,
        Some(json!([
            "postgres://u:pw-12345@db:5432/dw?sslmode=require",
            "require",
            5432,
            true
        ]))
    );
    assert_eq!(out.requests[0].kind, RequestKind::GetConnection);
    assert_eq!(out.requests[0].body["conn_id"], "wh");
    // The password is registered with the masker by the task too.
    assert_eq!(out.requests[1].kind, RequestKind::MaskSecret);
}

#[test]
fn xcoms_of_this_run_and_of_any_run_are_pulled_counted_and_pushed() {
    let other = XComRef::new("other", "r0", "mapped");
    let out = TestRun::new("d", "t")
        .xcom("up", "return_value", json!({"n": 1}))
        .xcom("up", "extra", json!("e"))
        .xcom_at(&other.clone().map_index(0), json!(10))
        .xcom_at(&other.clone().map_index(1), json!(11))
        .run(|ctx| {
            let n: Option<Value> = ctx.xcom_pull("up", "return_value")?;
            let e: Option<String> = ctx.xcom_pull("up", "extra")?;
            let none: Option<Value> = ctx.xcom_pull("up", "missing")?;
            let r = XComRef::new("other", "r0", "mapped");
            let one: Option<u8> = ctx.xcom_pull_from(&r.clone().map_index(1))?;
            // Without a map index (or a negative one) the unmapped value is read: none here.
            let unmapped: Option<u8> = ctx.xcom_pull_from(&r)?;
            let negative: Option<u8> = ctx.xcom_pull_from(&r.clone().map_index(-2))?;
            let count = ctx.xcom_count(&r)?;
            let zero = ctx.xcom_count(&r.clone().key("nope"))?;
            ctx.xcom_push("mine", &json!({"a": 1}))?;
            Ok(json!([n, e, none, one, unmapped, negative, count, zero]))
        });
    out.assert_success();
    assert_eq!(
        out.return_value,
        Some(json!([{"n": 1}, "e", null, 11, null, null, 2, 0]))
    );
    assert_eq!(out.xcom("mine"), Some(&json!({"a": 1})));
    let pull = &out.requests[0].body;
    assert_eq!(pull["dag_id"], "d");
    assert_eq!(pull["run_id"], "manual__2026-01-01T00:00:00+00:00");
    assert_eq!(out.requests_of(RequestKind::GetXComCount).count(), 2);
    // A wrong type is a value error naming the XCom.
    let out = TestRun::new("d", "t")
        .xcom("up", "return_value", json!("text"))
        .run(|ctx| Ok(ctx.xcom_pull::<u64>("up", "return_value")?));
    assert!(
        out.error
            .unwrap()
            .contains("XCom \"return_value\" of task \"up\"")
    );
}

#[test]
fn xcoms_an_earlier_try_left_are_cleared_first() {
    let own = XComRef::new("d", "r", "t");
    let out = TestRun::new("d", "t")
        .run_id("r")
        .try_number(2)
        .xcom_at(&own.clone().key("partial"), json!(1))
        .xcom_at(&own, json!("old"))
        .run(|ctx| Ok(ctx.xcom_pull::<Value>("t", "partial")?.is_none()));
    out.assert_success();
    let kinds: Vec<_> = out.requests.iter().map(|r| r.kind).collect();
    use RequestKind::*;
    assert_eq!(kinds, [DeleteXCom, DeleteXCom, GetXCom, SetXCom]);
    assert_eq!(out.return_value, Some(json!(true)));
}

#[test]
fn the_state_store_keeps_values_across_tries() {
    let out = TestRun::new("d", "t")
        .state_store("done", json!(3))
        .state_store("scratch", json!("x"))
        .run(|ctx| {
            let store = ctx.state_store();
            let done: Option<u64> = store.get("done")?;
            store.set("done", &(done.unwrap_or(0) + 1))?;
            store.set_with_retention("tmp", &json!([1]), Duration::from_secs(60))?;
            store.delete("scratch")?;
            let gone: Option<Value> = store.get("scratch")?;
            Ok(json!([done, gone]))
        });
    out.assert_success();
    assert_eq!(out.return_value, Some(json!([3, null])));
    assert_eq!(
        out.state_store,
        BTreeMap::from([("done".into(), json!(4)), ("tmp".into(), json!([1]))])
    );
    let set = out
        .requests_of(RequestKind::SetTaskStateStore)
        .nth(1)
        .unwrap();
    assert!(set.body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(set.body["ti_id"], DEFAULT_TI_ID);
    let out = TestRun::new("d", "t")
        .state_store("a", json!(1))
        .run(|ctx| ctx.state_store().clear().map_err(Into::into));
    assert!(out.state_store.is_empty());
    assert_eq!(out.requests[0].kind, RequestKind::ClearTaskStateStore);
}

#[test]
fn branching_skips_the_tasks_not_followed() {
    let out = TestRun::new("d", "branch")
        .task_instance("d", "manual__2026-01-01T00:00:00+00:00", "b", "scheduled")
        .run(|ctx| {
            ctx.branch(&["a"], &["a", "b", "c"])?;
            let states = ctx.task_states(&TiQuery::dag("d").task_ids(["b"]))?;
            Ok(states["manual__2026-01-01T00:00:00+00:00"]["b"].clone())
        });
    out.assert_success();
    assert_eq!(out.skipped_tasks, ["b", "c"]);
    assert_eq!(out.requests[0].body["tasks"], json!(["b", "c"]));
    assert_eq!(out.return_value, Some(json!("skipped")));
}

#[test]
fn triggered_runs_can_be_waited_for() {
    let out = TestRun::new("d", "t")
        .dag_run_states("report", "r1", ["queued", "running", "success"])
        .run(|ctx| {
            let opts = TriggerOptions::new()
                .run_id("r1")
                .conf(json!({"day": 1}))
                .note("from a test");
            let run_id = ctx.trigger_dag("report", &opts)?;
            let state = ctx.wait_dag_run("report", &run_id, Duration::from_millis(1), None)?;
            // The same run id again: it exists now.
            let again = ctx.trigger_dag("report", &opts).unwrap_err().to_string();
            Ok(json!([run_id, state, again]))
        });
    out.assert_success();
    let v = out.return_value.clone().unwrap();
    assert_eq!(v[0], "r1");
    assert_eq!(v[1], "success");
    assert!(
        v[2].as_str().unwrap().contains("DAGRUN_ALREADY_EXISTS"),
        "{v}"
    );
    assert_eq!(out.requests_of(RequestKind::GetDagRunState).count(), 3);
    assert_eq!(out.triggered_runs.len(), 1);
    let t = &out.triggered_runs[0];
    assert_eq!((t.dag_id.as_str(), t.run_id.as_str()), ("report", "r1"));
    assert_eq!(t.conf, Some(json!({"day": 1})));
    assert_eq!(t.note.as_deref(), Some("from a test"));
    // An unknown run is an API error (404) naming the request.
    let out = TestRun::new("d", "t").run(|ctx| Ok(ctx.dag_run_state("x", "y")?));
    let error = out.error.unwrap();
    assert!(error.contains("GetDagRunState \"x\" \"y\""), "{error}");
    assert!(error.contains("API_SERVER_ERROR"), "{error}");
}

#[test]
fn run_history_is_answered_from_the_runs_and_task_instances_set() {
    let at = |d: &str| date("test", d);
    let mut old = DagRunInfo::new("d", "old", "success");
    old.logical_date = Some(at("2025-12-01"));
    old.data_interval_start = Some(at("2025-11-30"));
    let mut failed = DagRunInfo::new("d", "failed", "failed");
    failed.logical_date = Some(at("2025-12-15"));
    let out = TestRun::new("d", "t")
        .dag_run(old)
        .dag_run(failed)
        .task_instance("d", "old", "t", "success")
        .mapped_task_instance("d", "old", "m", 0, "success")
        .mapped_task_instance("d", "old", "m", 1, "failed")
        .task_instance("d", "failed", "g.inner", "failed")
        .run(|ctx| {
            let d = ctx.dag_id().to_owned();
            let ok = ctx.ti_count(&TiQuery::dag(&d).states(["success"]))?;
            let mapped = ctx.ti_count(&TiQuery::dag(&d).task_ids(["m"]).map_index(1))?;
            let group = ctx.ti_count(&TiQuery::dag(&d).task_group("g"))?;
            let running = ctx.ti_count(&TiQuery::dag(&d).run_ids([ctx.run_id()]))?;
            let runs = ctx.dag_run_count(&DagRunQuery::dag(&d))?;
            let failed_runs = ctx.dag_run_count(&DagRunQuery::dag(&d).states(["failed"]))?;
            let states = ctx.task_states(&TiQuery::dag(&d).run_ids(["old"]))?;
            let now = ctx.logical_date().ok_or("no date")?;
            let prev = ctx.previous_dag_run(&d, now, None)?.map(|r| r.run_id);
            let prev_ok = ctx.previous_dag_run(&d, now, Some("success"))?.map(|r| r.run_id);
            let prev_success = ctx.prev_successful_dag_run()?;
            Ok(json!({
                "ok": ok, "mapped": mapped, "group": group, "running": running, "runs": runs,
                "failed_runs": failed_runs, "states": states, "prev": prev, "prev_ok": prev_ok,
                "prev_success_start": prev_success.and_then(|p| p.data_interval_start).map(format_time),
            }))
        });
    out.assert_success();
    assert_eq!(
        out.return_value.unwrap(),
        json!({
            "ok": 2, "mapped": 1, "group": 1, "running": 1, "runs": 3, "failed_runs": 1,
            "states": {"old": {"t": "success", "m_0": "success", "m_1": "failed"}},
            "prev": "failed", "prev_ok": "old", "prev_success_start": "2025-11-30T00:00:00Z",
        })
    );
    // No earlier successful run: none.
    let out = TestRun::new("d", "t").run(|ctx| Ok(ctx.prev_successful_dag_run()?.is_none()));
    assert_eq!(out.return_value, Some(json!(true)));
}

#[test]
fn rendered_fields_and_map_index_are_recorded() {
    let out = TestRun::new("d", "t").map_index(0).run(|ctx| {
        ctx.set_rendered_fields(&json!({"table": "t"}))?;
        ctx.set_rendered_map_index("sales 2026")?;
        let not_object = ctx.set_rendered_fields(&json!([1])).is_err();
        Ok(not_object)
    });
    out.assert_success();
    assert_eq!(out.rendered_fields, Some(json!({"table": "t"})));
    assert_eq!(out.rendered_map_index.as_deref(), Some("sales 2026"));
    // The label is repeated in the success message, as the supervisor records it there.
    assert_eq!(out.terminal.body["rendered_map_index"], "sales 2026");
    assert_eq!(out.return_value, Some(json!(true)));
}

#[test]
fn assets_are_read_and_emitted_assets_reach_the_success_message() {
    let sales = Asset::new("sales", "s3://b/sales");
    let out = TestRun::new("d", "t")
        .asset_event(&sales, json!({"rows": 1}))
        .asset_event(&sales, json!({"rows": 2}))
        .asset(&Asset::new("quiet", "s3://b/quiet"))
        .run(|ctx| {
            let by_name = ctx.asset_by_name("sales")?.ok_or("no sales")?;
            let by_uri = ctx.asset_by_uri("s3://b/quiet")?.ok_or("no quiet")?;
            let missing = ctx.asset_by_name("nope")?;
            let sales = Asset::new("sales", "s3://b/sales");
            let events = ctx.asset_events(&sales, None)?;
            let last = ctx.asset_events(&sales, Some(1))?;
            let none = ctx.asset_events(&Asset::new("quiet", "s3://b/quiet"), None)?;
            ctx.emit_asset(&sales, json!({"rows": 3}));
            ctx.emit_asset(&Asset::new("plain", "s3://b/plain"), Value::Null);
            Ok(json!([
                by_name.uri,
                by_name.group,
                by_uri.name,
                missing.is_none(),
                events
                    .iter()
                    .map(|e| e.extra["rows"].clone())
                    .collect::<Vec<_>>(),
                last.len(),
                none.len(),
                events[0].id
            ]))
        });
    out.assert_success();
    assert_eq!(
        out.return_value,
        Some(json!([
            "s3://b/sales",
            "asset",
            "quiet",
            true,
            [1, 2],
            1,
            0,
            1
        ]))
    );
    assert_eq!(
        out.terminal.body["task_outlets"],
        json!([
            {"name": "sales", "uri": "s3://b/sales", "type": "Asset"},
            {"name": "plain", "uri": "s3://b/plain", "type": "Asset"},
        ])
    );
    assert_eq!(
        out.terminal.body["outlet_events"],
        json!([{"dest_asset_key": {"name": "sales", "uri": "s3://b/sales"}, "extra": {"rows": 3}}])
    );
    assert_eq!(out.emitted_assets.len(), 2);
    // Not sent when the task fails.
    let out = TestRun::new("d", "t").run(|ctx| -> TaskResult {
        ctx.emit_asset(&Asset::new("a", "s3://a"), Value::Null);
        Err("later failure".into())
    });
    assert_eq!(out.terminal.kind, RequestKind::TaskState);
    assert_eq!(out.emitted_assets.len(), 1);
}

#[test]
fn threads_of_a_task_make_requests_at_once() {
    let mut run = TestRun::new("d", "t");
    for i in 0..8 {
        run = run.variable(&format!("v{i}"), &format!("value-{i}"));
    }
    let out = run.run(|ctx| {
        let ctx: &TaskContext = ctx;
        let seen: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| s.spawn(move || ctx.variable(&format!("v{i}"))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap().unwrap())
                .collect()
        });
        Ok(seen)
    });
    let want: Vec<String> = (0..8).map(|i| format!("value-{i}")).collect();
    assert_eq!(out.return_value, Some(json!(want)));
    assert_eq!(out.requests_of(RequestKind::GetVariable).count(), 8);
}

// --- failure injection ------------------------------------------------------------------------

/// What a `variable` read sees under `failure`.
fn variable_read_under(failure: Failure) -> String {
    let out = TestRun::new("d", "t")
        .variable("k", "v")
        .fail_request(RequestKind::GetVariable, failure)
        .run(|ctx| match ctx.variable("k") {
            Ok(v) => Ok(format!("ok {v:?}")),
            Err(e @ RequestError::ApiServer { .. }) => Ok(format!("api: {e}")),
            Err(e @ RequestError::PermissionDenied { .. }) => Ok(format!("denied: {e}")),
            Err(e @ RequestError::Timeout { .. }) => Ok(format!("timeout: {e}")),
            Err(e) => Ok(format!("other: {e}")),
        });
    out.assert_success();
    assert!(out.requests[0].failure.is_some());
    out.return_value.unwrap().as_str().unwrap().to_owned()
}

#[test]
fn each_failure_reaches_the_task_as_the_runtime_maps_it() {
    let api = variable_read_under(Failure::api_server(503, "maintenance"));
    assert!(api.starts_with("api: GetVariable \"k\""), "{api}");
    assert!(
        api.contains("API_SERVER_ERROR") && api.contains("503"),
        "{api}"
    );
    assert!(api.contains("maintenance"), "{api}");
    let down = variable_read_under(Failure::unreachable("connection refused"));
    assert!(
        down.starts_with("api: ") && down.contains("connection refused"),
        "{down}"
    );
    let denied = variable_read_under(Failure::permission_denied());
    assert!(denied.starts_with("denied: GetVariable \"k\""), "{denied}");
    let timeout = variable_read_under(Failure::Timeout);
    assert!(
        timeout.starts_with("timeout: GetVariable \"k\""),
        "{timeout}"
    );
    assert!(timeout.contains("60s"), "{timeout}");
    // A not-found error body where a missing value is normal.
    let missing = variable_read_under(Failure::ErrorResponse {
        error: "VARIABLE_NOT_FOUND".into(),
        detail: json!({"key": "k"}),
    });
    assert_eq!(missing, "ok None");
}

#[test]
fn an_unhandled_request_failure_fails_the_task_by_its_retries() {
    let run = || {
        TestRun::new("d", "t")
            .xcom("up", "return_value", json!(1))
            .fail_request(RequestKind::GetXCom, Failure::api_server(500, "boom"))
    };
    let pull = |ctx: &mut TaskContext| -> TaskResult<u8> {
        Ok(ctx.xcom_pull("up", "return_value")?.unwrap_or(0))
    };
    let out = run().max_tries(1).run(pull);
    assert_eq!(out.state, TestState::UpForRetry);
    assert!(
        out.error
            .unwrap()
            .contains("GetXCom \"up\" \"return_value\"")
    );
    assert_eq!(
        run().try_number(2).max_tries(1).run(pull).state,
        TestState::Failed
    );
}

#[test]
fn a_predicate_picks_requests_and_can_count_them() {
    let mut n = 0;
    let out = TestRun::new("d", "t")
        .variable("k", "v")
        .fail_request_if(
            move |r| {
                if r.kind != RequestKind::GetVariable {
                    return false;
                }
                n += 1;
                n == 2
            },
            Failure::Timeout,
        )
        .run(|ctx| {
            Ok((0..3)
                .map(|_| ctx.variable("k").is_ok())
                .collect::<Vec<_>>())
        });
    assert_eq!(out.return_value, Some(json!([true, false, true])));
    let failed: Vec<_> = out
        .requests
        .iter()
        .filter(|r| r.failure.is_some())
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].failure, Some(Failure::Timeout));
}

#[test]
fn failing_the_return_value_push_or_the_clearing_fails_the_task() {
    let out = TestRun::new("d", "t")
        .fail_request(RequestKind::SetXCom, Failure::api_server(500, "db"))
        .run(|_| Ok(5));
    assert_eq!(out.state, TestState::Failed);
    assert!(
        out.error
            .unwrap()
            .contains("cannot push the return value as XCom")
    );
    assert!(out.xcoms_pushed.is_empty());
    assert_eq!(out.return_value, Some(json!(5)));
    let out = TestRun::new("d", "t")
        .run_id("r")
        .xcom_at(&XComRef::new("d", "r", "t"), json!(1))
        .fail_request(RequestKind::DeleteXCom, Failure::api_server(500, "db"))
        .run(|_| -> TaskResult { panic!("must not run") });
    assert_eq!(out.state, TestState::Failed);
    assert!(
        out.error
            .unwrap()
            .contains("cannot clear XCom \"return_value\"")
    );
}

// --- logs -------------------------------------------------------------------------------------

#[test]
fn logs_have_level_message_fields_and_logger() {
    let out = TestRun::new("d", "t").run(|_| -> TaskResult {
        info!(rows = 3, ratio = 0.5, ok = true, table = "t1"; "loaded {} rows", 3);
        warn!(target: "my_crate::load", msg = "collides"; "careful");
        debug!("not at info");
        Ok(())
    });
    assert!(out.logs_captured);
    assert_eq!(out.logs.len(), 2, "{out}");
    let first = &out.logs[0];
    assert_eq!(first.level, Level::Info);
    assert_eq!(first.airflow_level(), "info");
    assert_eq!(first.message, "loaded 3 rows");
    assert_eq!(first.target, module_path!());
    assert_eq!(
        Value::Object(first.fields.clone()),
        json!({"rows": 3, "ratio": 0.5, "ok": true, "table": "t1"})
    );
    let second = &out.logs[1];
    assert_eq!(second.airflow_level(), "warning");
    assert_eq!(second.target, "my_crate::load");
    // Renamed as the runtime sends it: the supervisor reserves `msg`.
    assert_eq!(second.fields["field.msg"], "collides");
    // Debug records, the runtime's among them, with a lower level.
    let out = TestRun::new("d", "t")
        .log_level(LevelFilter::Debug)
        .run(|_| -> TaskResult {
            debug!("now kept");
            log::trace!("still not");
            Ok(())
        });
    let messages: Vec<_> = out.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["now kept"]);
}

#[test]
fn secrets_are_masked_as_the_supervisor_masks_them() {
    let conn = Connection::from_uri("api", "http://me:hunter2-secret-pw@h/?timeout=5").unwrap();
    let out = TestRun::new("d", "t")
        .connection(conn)
        .variable("my_api_key", "apikey-value-7c1d")
        .variable("plain", "plain-visible-value")
        .variable("short_secret", "abc")
        .variable("password_word", "airflow")
        .variable("team", "in-house-name")
        .sensitive_names(["team"])
        .run(|ctx| -> TaskResult {
            let own = "own-secret-9f3b";
            info!("before: {own}");
            let c = ctx.connection("api")?.ok_or("no api")?;
            info!("password {}", c.password.unwrap_or_default());
            info!("extra {}", c.extra);
            for k in [
                "my_api_key",
                "plain",
                "short_secret",
                "password_word",
                "team",
            ] {
                info!("{k} is {}", ctx.variable(k)?.unwrap_or_default());
            }
            ctx.mask_secret(own)?;
            info!(token = "t-1", note = own, count = 7; "after: {own}");
            Ok(())
        });
    out.assert_success();
    let messages: Vec<_> = out.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            // Logged before it was registered: shown, as in Airflow.
            "before: own-secret-9f3b",
            "password ***",
            // The supervisor masks a connection's whole extra string.
            "extra {\"timeout\":\"5\"}",
            "my_api_key is ***",
            "plain is plain-visible-value",
            // Too short to mask, and a word Airflow never masks.
            "short_secret is abc",
            "password_word is airflow",
            "team is ***",
            "after: ***",
        ]
    );
    let last = out.logs.last().unwrap();
    assert_eq!(last.fields["token"], "***");
    assert_eq!(last.fields["note"], "***");
    assert_eq!(last.fields["count"], 7);
}

#[test]
fn masking_follows_airflows_rules() {
    let m = logs::Masker::new(&["custom".to_owned()]);
    for (name, sensitive) in [
        ("password", true),
        ("db-Password", true),
        ("MY API KEY", true),
        ("x_custom_y", true),
        ("apikeys", true),
        ("region", false),
        ("", false),
    ] {
        assert_eq!(m.is_sensitive(name), sensitive, "{name:?}");
    }
    m.add(&json!("abcdefgh"), None);
    m.add(&json!("abcdef"), None);
    m.add(
        &json!({"password": "nested-secret", "region": "eu-west-1"}),
        None,
    );
    m.add(&json!(["list-secret"]), Some("token"));
    assert_eq!(m.redact("xabcdefghx abcdefy"), "x***x ***y");
    assert_eq!(
        m.redact("nested-secret eu-west-1 list-secret"),
        "*** eu-west-1 ***"
    );
    assert_eq!(m.redact("é-abcdef-é"), "é-***-é");
    assert_eq!(
        m.redact_field("auth", json!({"bearer": "x", "n": 1, "s": "abcdef"})),
        json!({"bearer": "***", "n": 1, "s": "***"})
    );
}

#[test]
fn parallel_runs_capture_only_their_own_records() {
    let handles: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                TestRun::new("d", &format!("t{i}")).run(move |ctx| -> TaskResult {
                    for n in 0..20 {
                        info!(task = ctx.task_id(); "record {n} of {i}");
                    }
                    Ok(())
                })
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let out = h.join().unwrap();
        assert_eq!(out.logs.len(), 20, "{out}");
        for l in &out.logs {
            assert!(l.message.ends_with(&format!(" of {i}")), "{l}");
            assert_eq!(l.fields["task"], format!("t{i}"));
        }
    }
}

#[test]
fn records_of_spawned_threads_need_all_threads_capture() {
    let task = |_: &mut TaskContext| -> TaskResult {
        std::thread::scope(|s| {
            s.spawn(|| info!("from a worker thread"));
        });
        info!("from the task thread");
        Ok(())
    };
    let out = TestRun::new("d", "t").run(task);
    let messages: Vec<_> = out.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["from the task thread"]);
    let out = TestRun::new("d", "t")
        .capture_logs_from_all_threads()
        .run(task);
    // Records of unrelated threads without a run of their own may come too (documented).
    let messages: Vec<_> = out
        .logs
        .iter()
        .filter(|l| l.target == module_path!())
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(messages, ["from a worker thread", "from the task thread"]);
}

// --- cancellation -----------------------------------------------------------------------------

#[test]
fn a_cancelled_run_stops_sleeping_and_fails_by_its_retries() {
    let sleepy = |ctx: &mut TaskContext| -> TaskResult {
        ctx.sleep(Duration::from_secs(300))?;
        Ok(())
    };
    let out = TestRun::new("d", "t").cancelled().max_tries(1).run(sleepy);
    assert_eq!(out.state, TestState::UpForRetry);
    assert!(out.error.unwrap().contains("asked to stop"));
    let out = TestRun::new("d", "t")
        .cancel_after(Duration::from_millis(50))
        .run(sleepy);
    assert_eq!(out.state, TestState::Failed);
    // A wait for a dag run stops too.
    let out = TestRun::new("d", "t")
        .dag_run_states("x", "r", ["running"])
        .cancel_after(Duration::from_millis(50))
        .run(|ctx| Ok(ctx.wait_dag_run("x", "r", Duration::from_millis(5), None)?));
    assert!(out.error.unwrap().contains("cancelled"));
    let out = TestRun::new("d", "t")
        .cancelled()
        .run(|ctx| Ok(ctx.cancel_token().is_cancelled()));
    assert_eq!(out.return_value, Some(json!(true)));
}

#[test]
fn a_task_deaf_to_cancellation_is_failed_after_the_grace_period() {
    let out = TestRun::new("d", "t")
        .max_tries(1)
        .cancel_after(Duration::from_millis(10))
        .run(|_| {
            std::thread::sleep(runtime::task::TERM_GRACE + Duration::from_millis(200));
            Ok(1)
        });
    assert_eq!(out.state, TestState::UpForRetry);
    assert_eq!(out.return_value, None);
    let error = out.error.unwrap();
    assert!(error.starts_with("terminated by SIGTERM"), "{error}");
    assert_eq!(out.terminal.body["retry_reason"], "terminated by SIGTERM");
}

#[test]
fn a_dag_run_wait_that_runs_out_says_the_run_is_still_going() {
    let out = TestRun::new("d", "t")
        .dag_run_states("x", "r", ["running"])
        .run(|ctx| -> TaskResult {
            match ctx.wait_dag_run(
                "x",
                "r",
                Duration::from_millis(5),
                Some(Duration::from_millis(40)),
            ) {
                Err(e @ RequestError::DagRunNotFinished { .. }) => {
                    Err(TaskError::fail(e.to_string()))
                }
                other => panic!("{other:?}"),
            }
        });
    let error = out.error.unwrap();
    assert!(
        error.starts_with("dag run \"x\" \"r\" is still running after"),
        "{error}"
    );
    assert!(!error.contains("no answer"), "{error}");
}

#[test]
fn deleting_a_missing_variable_succeeds_as_on_the_api_server() {
    let out = TestRun::new("d", "t")
        .variable("k", "v")
        .run(|ctx| -> TaskResult {
            ctx.delete_variable("k")?;
            ctx.delete_variable("k")?;
            ctx.delete_variable("never_set")?;
            Ok(())
        });
    out.assert_success();
    assert!(!out.variables.contains_key("k"));
}
