//! The harness on human in the loop: the `CreateHITLDetailPayload` and `AwaitInputTask` a task
//! asking a person sends, the request shown to the test, the answer a resumed try gets, the
//! defaults a timeout takes, a timeout without defaults, and requests refused before or by
//! Airflow.

use std::time::Duration;

use serde_json::json;

use super::super::*;
use crate::{HumanResponse, InputRequest, Resumed};

fn request() -> InputRequest {
    InputRequest::new("Ship order 42?", ["ship", "hold"], "decided")
        .body("Total **120 EUR**")
        .default_option("hold")
        .param_described("note", "none", "For the warehouse")
        .param("count", 1)
        .param_schema("count", json!({"type": "integer", "minimum": 1}))
        .assign_user("u1", "Ada")
        .timeout(Duration::from_secs(90))
        .kwargs(json!({"order": 42}))
}

fn ask(ctx: &mut TaskContext) -> TaskResult {
    Err(ctx.await_input(request()))
}

#[derive(serde::Deserialize)]
struct Order {
    order: u32,
}

fn decided(_: &mut TaskContext, r: Resumed<HumanResponse, Order>) -> TaskResult<Value> {
    Ok(json!({
        "order": r.kwargs.order,
        "chosen": r.event.chosen(),
        "note": r.event.params_input["note"],
        "by": r.event.responded_by_user.map(|u| u.name),
        "timedout": r.event.timedout,
        "year": r.event.responded_at.year(),
    }))
}

fn bundle() -> Bundle {
    Bundle::new().dag(
        Dag::new("d")
            .task("ask", ask)
            .on_resume("ask", "decided", decided)
            .task("bad", |ctx: &mut TaskContext| -> TaskResult {
                Err(ctx.await_input(
                    InputRequest::new("Pick", ["a", "b"], "decided")
                        .default_option("a")
                        .default_option("b"),
                ))
            })
            .on_resume("bad", "decided", decided),
    )
}

#[test]
fn asking_sends_the_request_then_await_input_task_and_shows_the_request() {
    let out = TestRun::new("d", "ask").run_in(&bundle());
    out.assert_state(TestState::AwaitingInput);
    let sent: Vec<_> = out
        .requests_of(RequestKind::CreateHITLDetailPayload)
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body,
        json!({
            "type": "CreateHITLDetailPayload",
            "ti_id": DEFAULT_TI_ID,
            "options": ["ship", "hold"], "subject": "Ship order 42?", "body": "Total **120 EUR**",
            "defaults": ["hold"], "multiple": false,
            "params": {
                "note": {"value": "none", "description": "For the warehouse", "schema": {}, "source": "task"},
                "count": {"value": 1, "description": null,
                    "schema": {"type": "integer", "minimum": 1}, "source": "task"},
            },
            "assigned_users": [{"id": "u1", "name": "Ada"}],
        })
    );
    assert_eq!(out.terminal.kind, RequestKind::AwaitInputTask);
    assert_eq!(
        out.terminal.body,
        json!({"type": "AwaitInputTask", "timeout": "PT90S", "next_method": "decided",
               "next_kwargs": {"order": 42}})
    );
    let shown = out.input_request.as_ref().expect("the request is shown");
    assert_eq!(shown, &request());
    assert_eq!(shown.response_timeout(), Some(Duration::from_secs(90)));
    assert!(out.xcoms_pushed.is_empty());
    assert!(
        out.log_containing("asked a person: Ship order 42?")
            .is_some(),
        "{out}"
    );
    assert!(out.log_containing("task awaiting input").is_some(), "{out}");
}

#[test]
fn a_resumed_try_gets_the_answer_and_the_kwargs() {
    let out = TestRun::new("d", "ask")
        .answer_input("decided", ["ship"], json!({"note": "fragile", "count": 2}))
        .resume_kwargs(json!({"order": 42}))
        .run_in(&bundle());
    out.assert_success();
    let now = time::OffsetDateTime::now_utc().year();
    assert_eq!(
        out.return_value,
        Some(
            json!({"order": 42, "chosen": "ship", "note": "fragile", "by": "test",
                    "timedout": false, "year": now})
        )
    );
    assert!(out.input_request.is_none());
}

#[test]
fn a_timeout_with_defaults_resumes_with_them() {
    let out = TestRun::new("d", "ask")
        .input_defaults_taken("decided", ["hold"], json!({"note": "none", "count": 1}))
        .resume_kwargs(json!({"order": 42}))
        .run_in(&bundle());
    out.assert_success();
    let r = out.return_value.clone().unwrap();
    assert_eq!(r["chosen"], "hold");
    assert_eq!(r["timedout"], true);
    assert_eq!(r["by"], Value::Null);
}

#[test]
fn a_timeout_without_defaults_fails_the_try_as_declared_naming_the_timeout() {
    let out = TestRun::new("d", "ask")
        .max_tries(2)
        .input_timed_out("decided")
        .resume_kwargs(json!({"order": 42}))
        .run_in(&bundle());
    out.assert_state(TestState::UpForRetry);
    let error = out.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("nobody answered the input request in time, and it has no defaults"),
        "{error}"
    );
    assert!(error.contains("response timeout has passed"), "{error}");
    assert!(!error.contains("does not fit"), "{error}");
}

#[test]
fn an_invalid_request_fails_without_retry_before_anything_is_sent() {
    let out = TestRun::new("d", "bad").max_tries(3).run_in(&bundle());
    out.assert_state(TestState::Failed);
    let error = out.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("input request \"Pick\": [\"a\", \"b\"] are several defaults"),
        "{error}"
    );
    assert_eq!(
        out.requests_of(RequestKind::CreateHITLDetailPayload)
            .count(),
        0
    );
}

#[test]
fn a_request_airflow_refuses_fails_the_try_naming_it() {
    let out = TestRun::new("d", "ask")
        .max_tries(2)
        .fail_request(
            RequestKind::CreateHITLDetailPayload,
            Failure::ApiServer {
                status_code: Some(422),
                message: "params: Input should be a valid dictionary".into(),
            },
        )
        .run_in(&bundle());
    out.assert_state(TestState::UpForRetry);
    let error = out.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("CreateHITLDetailPayload \"Ship order 42?\": the Airflow API server failed"),
        "{error}"
    );
    assert!(error.contains("valid dictionary"), "{error}");
    assert!(out.input_request.is_none());
}
