//! `TaskHandlerParseRequest` (upstream main's Dag processor) against a supervisor double built
//! from the spec ("Answering TaskHandlerParseRequest" in Airflow's
//! `contributing-docs/30_new_language_sdk.rst`): one `TaskHandlerParsingResult`, acknowledged,
//! exit 0, no task code run, the same answer whatever the request says.
//!
//! No released Airflow sends this request yet: 3.3.2 and 3.4.0b2 still route stub tasks by the
//! manifest's `dags:`. The runtime needs no switch, it answers whenever the request comes; the
//! real-deployment proof is the e2e crate's stub-task deployment tests run on the first release
//! that carries it (its Dag processor then binds every stub task through this answer, and an
//! unbound one fails), i.e. that release added to `Release` in `tests/src/venv.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::*;

/// How many times any task function of [`handler_bundle`] ran.
static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(serde::Deserialize)]
struct Totals {
    #[allow(dead_code)]
    rows: u64,
}

#[allow(clippy::too_many_arguments)]
fn load(
    _: &mut TaskContext,
    totals: Totals,
    table: String,
    limit: Option<i64>,
    ratio: f64,
    flags: Vec<bool>,
    dry_run: bool,
) -> TaskResult<u64> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    let _ = (table, limit, ratio, flags, dry_run);
    Ok(totals.rows)
}

fn explode(_: &mut TaskContext) -> TaskResult {
    CALLS.fetch_add(1, Ordering::SeqCst);
    panic!("a handler declaration must never run the task")
}

/// A stub dag with an untyped task (that panics) and a typed one, a second stub dag, and a
/// native dag (parsed from the bundle itself, so it has no stub tasks to handle).
fn handler_bundle() -> Bundle {
    Bundle::new()
        .supervisor_schema(SchemaVersion::V2026_10_30)
        .queue("rust")
        .dag(Dag::new("etl").task("extract", explode).task_with_args(
            "load",
            ["totals", "table", "limit", "ratio", "flags", "dry_run"],
            load,
        ))
        .dag(Dag::new("b_second").task("only", explode))
        .dag(Dag::new("native_one").native().task("n", explode))
}

/// The first frame: `type` spelled `kind`, with `extra` keys besides the spec's.
fn request(kind: &str, extra: Vec<(&str, Value)>) -> Value {
    let mut pairs = vec![
        ("file", Value::from("/bundles/rust/etl")),
        ("bundle_path", Value::from("/bundles/rust")),
        ("bundle_name", Value::from("rust-bundles")),
    ];
    pairs.extend(extra);
    pairs.push(("type", Value::from(kind)));
    Value::Array(vec![Value::from(0), m(pairs), Value::Nil])
}

/// Runs `bundle` against `first` and returns the exit code and the one answer, as JSON.
fn ask(bundle: Bundle, first: Value) -> (u8, serde_json::Value) {
    let (code, body, elapsed) = drive_bundle(bundle, 5000, move |mut s| {
        send(&mut s, &first);
        let (id, body) = recv(&mut s);
        ack(&mut s, id);
        // Nothing after the acknowledged answer: the runtime exits.
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty(), "frames after the answer: {rest:?}");
        body
    });
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    (code, messages::to_json(&body))
}

#[test]
fn both_spellings_get_every_handler_with_its_binding_and_params() {
    for kind in ["TaskHandlerParseRequest", "SDKTaskHandlerParseRequest"] {
        let before = CALLS.load(Ordering::SeqCst);
        let (code, answer) = ask(handler_bundle(), request(kind, vec![]));
        assert_eq!(code, 0, "{kind}");
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            before,
            "a task ran for {kind}"
        );
        let int64 = json!({"type": "integer", "format": "int64"});
        let expected = json!({
            "type": "TaskHandlerParsingResult",
            "fileloc": "/bundles/rust/etl",
            "task_handlers": {
                "b_second": [{"task_id": "only", "binding": "named", "params": []}],
                "etl": [
                    {"task_id": "extract", "binding": "named", "params": []},
                    {"task_id": "load", "binding": "named", "params": [
                        {"name": "totals", "exact_name": true,
                         "value_schema": {"type": "object"}},
                        {"name": "table", "exact_name": true,
                         "value_schema": {"type": "string"}},
                        {"name": "limit", "exact_name": true,
                         "value_schema": {"anyOf": [int64, {"type": "null"}]}},
                        {"name": "ratio", "exact_name": true,
                         "value_schema": {"type": "number", "format": "double"}},
                        {"name": "flags", "exact_name": true,
                         "value_schema": {"type": "array", "items": {"type": "boolean"}}},
                        {"name": "dry_run", "exact_name": true,
                         "value_schema": {"type": "boolean"}},
                    ]},
                ],
            },
        });
        assert_eq!(answer, expected, "{kind}");
    }
}

#[test]
fn the_handlers_do_not_depend_on_the_request_and_unknown_keys_are_ignored() {
    let (_, plain) = ask(handler_bundle(), request("TaskHandlerParseRequest", vec![]));
    let (code, odd) = ask(
        handler_bundle(),
        Value::Array(vec![
            Value::from(0),
            m(vec![
                ("file", Value::from("/elsewhere/other")),
                ("bundle_name", Value::from("another")),
                ("callback_requests", Value::Array(vec![Value::from(1)])),
                ("future_key", m(vec![("nested", Value::from(true))])),
                ("type", Value::from("SDKTaskHandlerParseRequest")),
            ]),
            Value::Nil,
        ]),
    );
    assert_eq!(code, 0);
    assert_eq!(odd["task_handlers"], plain["task_handlers"]);
    assert_eq!(odd["fileloc"], "/elsewhere/other");
    // The same as what `--airflow-metadata` hands `pack` for the manifest's digest.
    let metadata = handler_bundle().metadata().unwrap();
    assert_eq!(
        metadata.task_handlers.as_ref(),
        Some(&plain["task_handlers"])
    );
}

#[test]
fn an_empty_bundle_answers_an_empty_mapping_never_null() {
    let native_only = Bundle::new()
        .queue("rust")
        .dag(Dag::new("n").native().task("t", explode));
    for bundle in [Bundle::new(), native_only] {
        let (code, answer) = ask(bundle, request("TaskHandlerParseRequest", vec![]));
        assert_eq!(code, 0);
        assert_eq!(answer["task_handlers"], json!({}), "{answer}");
    }
}

#[test]
fn a_refused_or_unanswered_declaration_ends_with_exit_1() {
    let (code, _, _) = drive_bundle(handler_bundle(), 300, |mut s| {
        send(&mut s, &request("TaskHandlerParseRequest", vec![]));
        let _ = recv(&mut s);
        std::thread::sleep(Duration::from_millis(1000));
    });
    assert_eq!(code, 1);
}

#[cfg(feature = "tokio")]
#[test]
fn async_typed_tasks_declare_their_arguments_too() {
    async fn load(_: &TaskContext, rows: Vec<u32>, table: Option<String>) -> TaskResult<usize> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        Ok(rows.len() + table.map_or(0, |t| t.len()))
    }
    let bundle = Bundle::new()
        .supervisor_schema(SchemaVersion::V2026_10_30)
        .dag(Dag::new("a").task_async_with_args("load", ["rows", "table"], load));
    let before = CALLS.load(Ordering::SeqCst);
    let (code, answer) = ask(bundle, request("TaskHandlerParseRequest", vec![]));
    assert_eq!(code, 0);
    assert_eq!(CALLS.load(Ordering::SeqCst), before);
    let u32_schema = json!({"type": "integer", "minimum": 0, "maximum": u32::MAX});
    assert_eq!(
        answer["task_handlers"],
        json!({"a": [{"task_id": "load", "binding": "named", "params": [
            {"name": "rows", "exact_name": true,
             "value_schema": {"type": "array", "items": u32_schema}},
            {"name": "table", "exact_name": true,
             "value_schema": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
        ]}]})
    );
}
