//! The `hitl` dag: human in the loop. `approve` asks a person whether to ship an order (with
//! params for a note and a box count) and waits until answered; `auto` asks the same with a
//! short timeout and defaults, which Airflow takes when nobody answers; `expire` asks with a
//! short timeout and no defaults, and fails when nobody answers. Each resumes in `decided`,
//! which returns what was decided. For the real-deployment test `tests/tests/e2e/hitl.rs` (stubs
//! in `tests/harness/dags/hitl_stubs.py`), which answers `approve` through the REST API.

use std::time::Duration;

use airflow_sdk::{Dag, HumanResponse, InputRequest, Resumed, TaskContext, TaskResult};
use serde::{Deserialize, Serialize};

/// How long `auto` and `expire` wait for an answer.
pub const SHORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The params the person fills in.
#[derive(Debug, Deserialize, Serialize)]
pub struct Shipping {
    /// A note for the warehouse.
    pub note: String,
    /// How many boxes.
    pub boxes: u32,
}

/// What the tasks give their resume handler.
#[derive(Debug, Deserialize)]
struct Order {
    order: u32,
}

/// The question the three tasks ask: ship or hold order `order`, with a note and a box count.
fn question(order: u32) -> InputRequest {
    InputRequest::new(format!("Ship order {order}?"), ["ship", "hold"], "decided")
        .body(format!(
            "Order **{order}** is packed. Ship it now, or hold it?"
        ))
        .param_described("note", "none", "A note for the warehouse")
        .param_described("boxes", 1, "How many boxes")
        .param_schema(
            "boxes",
            serde_json::json!({"type": "integer", "minimum": 1}),
        )
        .kwargs(serde_json::json!({"order": order}))
}

/// Asks, and waits until a person answers.
fn approve(ctx: &mut TaskContext) -> TaskResult {
    Err(ctx.await_input(question(42)))
}

/// Asks with a short timeout; nobody answering means `hold`.
fn auto(ctx: &mut TaskContext) -> TaskResult {
    let request = question(43).default_option("hold").timeout(SHORT_TIMEOUT);
    Err(ctx.await_input(request))
}

/// Asks with a short timeout and no defaults: nobody answering fails the task.
fn expire(ctx: &mut TaskContext) -> TaskResult {
    Err(ctx.await_input(question(44).timeout(SHORT_TIMEOUT)))
}

/// The resume handler: what was decided, by whom, and whether the timeout decided it.
fn decided(
    ctx: &mut TaskContext,
    r: Resumed<HumanResponse<Shipping>, Order>,
) -> TaskResult<serde_json::Value> {
    let answer = r.event;
    let decision = answer.chosen().unwrap_or("none").to_owned();
    airflow_sdk::log::info!(order = r.kwargs.order, decision = decision.as_str(),
        timedout = answer.timedout; "order {}: {decision}", r.kwargs.order);
    Ok(serde_json::json!({
        "order": r.kwargs.order,
        "decision": decision,
        "summary": format!(
            "{decision} order {} in {} boxes: {}",
            r.kwargs.order, answer.params_input.boxes, answer.params_input.note
        ),
        "by": answer.responded_by_user.map(|u| u.name),
        "timedout": answer.timedout,
        "try_number": ctx.try_number(),
    }))
}

/// The `hitl` dag.
pub fn dag() -> Dag {
    Dag::new("hitl")
        .task("approve", approve)
        .on_resume("approve", "decided", decided)
        .task("auto", auto)
        .on_resume("auto", "decided", decided)
        .task("expire", expire)
        .on_resume("expire", "decided", decided)
}

#[cfg(test)]
mod tests {
    //! The same tasks under `airflow_sdk::testing`.

    use airflow_sdk::Bundle;
    use airflow_sdk::testing::{TestRun, TestState};
    use serde_json::json;

    use super::*;

    fn bundle() -> Bundle {
        Bundle::new().dag(dag())
    }

    #[test]
    fn approve_asks_and_waits_then_the_answer_decides() {
        let out = TestRun::new("hitl", "approve").run_in(&bundle());
        out.assert_state(TestState::AwaitingInput);
        let asked = out.input_request.as_ref().unwrap();
        assert_eq!(asked.subject(), "Ship order 42?");
        assert_eq!(asked.response_timeout(), None);
        assert_eq!(asked.params()["boxes"]["value"], 1);
        let out = TestRun::new("hitl", "approve")
            .answer_input("decided", ["ship"], json!({"note": "fragile", "boxes": 3}))
            .resume_kwargs(json!({"order": 42}))
            .run_in(&bundle());
        out.assert_success();
        let r = out.return_value.clone().unwrap();
        assert_eq!(r["summary"], "ship order 42 in 3 boxes: fragile");
        assert_eq!(r["timedout"], false);
    }

    #[test]
    fn auto_holds_when_the_timeout_takes_the_defaults() {
        let out = TestRun::new("hitl", "auto").run_in(&bundle());
        out.assert_state(TestState::AwaitingInput);
        let asked = out.input_request.as_ref().unwrap();
        assert_eq!(asked.defaults(), Some(&["hold".to_owned()][..]));
        assert_eq!(asked.response_timeout(), Some(SHORT_TIMEOUT));
        let out = TestRun::new("hitl", "auto")
            .input_defaults_taken("decided", ["hold"], json!({"note": "none", "boxes": 1}))
            .resume_kwargs(json!({"order": 43}))
            .run_in(&bundle());
        out.assert_success();
        let r = out.return_value.clone().unwrap();
        assert_eq!(r["summary"], "hold order 43 in 1 boxes: none");
        assert_eq!(r["timedout"], true);
        assert_eq!(r["by"], serde_json::Value::Null);
    }

    #[test]
    fn expire_fails_when_nobody_answers() {
        let out = TestRun::new("hitl", "expire")
            .input_timed_out("decided")
            .resume_kwargs(json!({"order": 44}))
            .run_in(&bundle());
        out.assert_state(TestState::Failed);
        assert!(
            out.error
                .as_deref()
                .unwrap_or_default()
                .starts_with("nobody answered the input request in time"),
            "{out}"
        );
    }
}
