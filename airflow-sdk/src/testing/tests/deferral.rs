//! The harness on deferral: the `DeferTask` a deferring task sends, the resume handler a resumed
//! try runs, a failed trigger, and a deferral to a method nobody registered.

use std::time::Duration;

use serde_json::{Value, json};

use super::super::*;
use crate::{Defer, Resumed, TaskError, Trigger};

fn wait(_: &mut TaskContext) -> TaskResult {
    let defer = Defer::new(Trigger::time_delta(Duration::from_secs(30)), "woke")
        .kwargs(json!({"asked": 3}))
        .timeout(Duration::from_secs(90));
    Err(TaskError::defer(defer))
}

#[derive(serde::Deserialize)]
struct Asked {
    asked: u32,
}

fn woke(_: &mut TaskContext, resumed: Resumed<String, Asked>) -> TaskResult<String> {
    Ok(format!("{} after {}", resumed.event, resumed.kwargs.asked))
}

fn bundle() -> Bundle {
    Bundle::new().dag(
        Dag::new("d")
            .task("wait", wait)
            .on_resume("wait", "woke", woke)
            .task("lost", |_: &mut TaskContext| -> TaskResult {
                Err(TaskError::defer(Defer::new(
                    Trigger::new("x.Y").arg("n", 1),
                    "nowhere",
                )))
            }),
    )
}

#[test]
fn a_deferring_task_sends_defer_task_with_its_trigger_and_pushes_nothing() {
    let before = time::OffsetDateTime::now_utc();
    let out = TestRun::new("d", "wait").run_in(&bundle());
    out.assert_state(TestState::Deferred);
    assert_eq!(out.terminal.kind, RequestKind::DeferTask);
    let body = &out.terminal.body;
    assert_eq!(
        body["classpath"],
        "airflow.providers.standard.triggers.temporal.DateTimeTrigger"
    );
    assert_eq!(body["next_method"], "woke");
    assert_eq!(body["next_kwargs"], json!({"asked": 3}));
    assert_eq!(body["trigger_timeout"], json!("PT90S"));
    assert_eq!(body["trigger_kwargs"]["end_from_trigger"], json!(false));
    let at = body["trigger_kwargs"]["moment"]["__data__"]["timestamp"]
        .as_f64()
        .unwrap();
    let from_now = at - before.unix_timestamp() as f64;
    assert!((29.0..32.0).contains(&from_now), "{from_now}");
    assert!(out.xcoms_pushed.is_empty());
    let d = out.deferral.as_ref().expect("the deferral is shown");
    assert_eq!(d.method(), "woke");
    assert_eq!(d.trigger_timeout(), Some(Duration::from_secs(90)));
    assert!(out.log_containing("task deferred to").is_some(), "{out}");
}

#[test]
fn a_resumed_try_runs_the_handler_with_the_event_and_the_kwargs() {
    let out = TestRun::new("d", "wait")
        .resume("woke", json!("2026-01-01T00:00:30Z"))
        .resume_kwargs(json!({"asked": 3}))
        .run_in(&bundle());
    out.assert_success();
    assert_eq!(
        out.return_value,
        Some(json!("2026-01-01T00:00:30Z after 3"))
    );
}

#[test]
fn an_event_that_does_not_fit_fails_without_retry_naming_the_type() {
    let out = TestRun::new("d", "wait")
        .max_tries(3)
        .resume("woke", json!({"not": "a string"}))
        .resume_kwargs(json!({"asked": 3}))
        .run_in(&bundle());
    out.assert_state(TestState::Failed);
    let error = out.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("the event does not fit alloc::string::String"),
        "{error}"
    );
}

#[test]
fn a_failed_trigger_fails_the_try_as_declared_without_running_a_handler() {
    let out = TestRun::new("d", "wait")
        .max_tries(2)
        .trigger_failed("Trigger timeout")
        .run_in(&bundle());
    out.assert_state(TestState::UpForRetry);
    assert_eq!(
        out.error.as_deref(),
        Some("the trigger timed out before it fired (its deferral timeout passed)")
    );
}

#[test]
fn deferring_to_a_method_without_a_handler_fails_instead_of_stranding_the_task() {
    let out = TestRun::new("d", "lost").max_tries(3).run_in(&bundle());
    out.assert_state(TestState::Failed);
    let error = out.error.as_deref().unwrap_or_default();
    assert!(error.contains("no such resume handler"), "{error}");
    assert!(error.contains("on_resume(\"lost\", \"nowhere\""), "{error}");
    // And a try resumed in a method the bundle does not have.
    let out = TestRun::new("d", "wait")
        .resume("gone", Value::Null)
        .run_in(&bundle());
    out.assert_state(TestState::Failed);
    assert!(
        out.error
            .as_deref()
            .unwrap_or_default()
            .contains("\"gone\""),
        "{out}"
    );
}

#[test]
fn resume_handlers_for_unknown_tasks_or_reserved_names_are_refused() {
    let handler = |_: &mut TaskContext, _: Resumed| -> TaskResult { Ok(()) };
    let bad = Bundle::new().dag(
        Dag::new("d")
            .task("t", super::ok)
            .on_resume("ghost", "m", handler)
            .on_resume("t", "__fail__", handler)
            .on_resume("t", "m", handler)
            .on_resume("t", "m", handler),
    );
    let e = bad.validate().unwrap_err().to_string();
    assert!(
        e.contains("\"ghost\" in dag \"d\": the dag declares no such task"),
        "{e}"
    );
    assert!(e.contains("one Airflow reserves"), "{e}");
    assert!(e.contains("two handlers of this name"), "{e}");
}
