//! Issue 19 point 3 in real deployments, asserted through the REST API: human in the loop
//! (example-bundle/src/hitl.rs, stubs in `tests/harness/dags/hitl_stubs.py`). A Rust task asks
//! a person (`TaskContext::await_input`) and waits in `awaiting_input` with no triggerer
//! running; the test answers as a person does, through
//! `PATCH .../taskInstances/{task}/-1/hitlDetails`; the task resumes in its handler and
//! succeeds with an XCom made of the chosen option and the params. A second task's short
//! timeout takes its defaults (the scheduler's sweep, `timedout`); a third has no defaults and
//! fails. Airflow 3.3.2 and 3.4.0b2 take the same messages and the same answer (both passed on
//! 2026-12-07): CI runs 3.3 only, to keep its time; the same test with `Release::V3_4`
//! runs the checks on 3.4.

use std::time::Duration;

use airflow_e2e::deploy::{Checks, DeployOptions, Deployment};
use airflow_e2e::venv::Release;
use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

const RUN_TIMEOUT: Duration = Duration::from_secs(300);
const DAGS_TIMEOUT: Duration = Duration::from_secs(180);
const WAIT_TIMEOUT: Duration = Duration::from_secs(180);
const DAG: &str = "hitl";
const RUN: &str = "hitl_run";
/// The user the deployment logs in as, who answers.
const USER: &str = "admin";

/// The params every task of the dag asks for, as Airflow stores and shows them.
fn params_asked() -> Value {
    json!({
        "note": {"value": "none", "description": "A note for the warehouse", "schema": {},
                 "source": "task"},
        "boxes": {"value": 1, "description": "How many boxes",
                  "schema": {"type": "integer", "minimum": 1}, "source": "task"},
    })
}

fn scenarios(dep: &Deployment) -> Result<()> {
    let api = &dep.api;
    api.wait_for_dags(&[DAG], DAGS_TIMEOUT)?;
    api.trigger(DAG, RUN, json!({}))?;
    let mut checks = Checks::default();
    // Phase 1, before anyone answers: `approve` waits, and Airflow holds its request.
    checks.check(
        "awaiting input: the task waits in awaiting_input with its request in the REST API",
        || {
            api.wait_task_state(DAG, RUN, "approve", "awaiting_input", WAIT_TIMEOUT)
                .with_context(|| api.explain_run(DAG, RUN))?;
            let d = api.hitl_detail(DAG, RUN, "approve")?;
            ensure!(d["subject"] == "Ship order 42?", "{d}");
            ensure!(d["options"] == json!(["ship", "hold"]), "{d}");
            ensure!(
                d["body"] == "Order **42** is packed. Ship it now, or hold it?",
                "{d}"
            );
            ensure!(d["defaults"].is_null() && d["multiple"] == false, "{d}");
            ensure!(d["params"] == params_asked(), "params: {d}");
            ensure!(
                d["response_received"] == false && d["chosen_options"].is_null(),
                "{d}"
            );
            // Nothing resumes it but an answer: it is still waiting a moment later.
            std::thread::sleep(Duration::from_secs(3));
            api.expect_state(DAG, RUN, "approve", "awaiting_input")?;
            let log = api.wait_log(
                DAG,
                RUN,
                "approve",
                1,
                &["asked a person: Ship order 42?", "task awaiting input"],
            )?;
            log.expect("asked a person: Ship order 42?")?;
            log.expect("task awaiting input; it resumes in decided")?;
            Ok(())
        },
    );
    // Phase 2: a person answers through the REST API.
    let answered = api.answer_hitl(
        DAG,
        RUN,
        "approve",
        &["ship"],
        json!({"note": "fragile", "boxes": 3}),
    );
    let run = api.wait_run(DAG, RUN, RUN_TIMEOUT)?;
    eprintln!(
        "{DAG}/{RUN} ended {}: {}",
        run.state,
        api.explain_run(DAG, RUN)
    );
    checks.check(
        "answered: a person's answer through the REST API resumes the task, which succeeds with the chosen option and params",
        || {
            let answered = answered?;
            ensure!(
                answered["chosen_options"] == json!(["ship"])
                    && answered["responded_by"]["name"] == USER,
                "the answer as Airflow recorded it: {answered}"
            );
            api.expect_state(DAG, RUN, "approve", "success")?;
            let r = api.return_value(DAG, RUN, "approve")?;
            ensure!(
                r == json!({"order": 42, "decision": "ship",
                            "summary": "ship order 42 in 3 boxes: fragile",
                            "by": USER, "timedout": false, "try_number": 1}),
                "the resumed handler returned {r}"
            );
            let tries = api.tries(DAG, RUN, "approve")?;
            ensure!(tries.len() == 1, "approve has {} tries", tries.len());
            let d = api.hitl_detail(DAG, RUN, "approve")?;
            ensure!(d["response_received"] == true, "{d}");
            ensure!(d["params_input"] == json!({"note": "fragile", "boxes": 3}), "{d}");
            Ok(())
        },
    );
    checks.check(
        "timeout with defaults: nobody answers, the scheduler takes the defaults and the task succeeds with them (timedout)",
        || {
            api.expect_state(DAG, RUN, "auto", "success")?;
            let r = api.return_value(DAG, RUN, "auto")?;
            ensure!(
                r == json!({"order": 43, "decision": "hold",
                            "summary": "hold order 43 in 1 boxes: none",
                            "by": null, "timedout": true, "try_number": 1}),
                "the resumed handler returned {r}"
            );
            let d = api.hitl_detail(DAG, RUN, "auto")?;
            ensure!(d["defaults"] == json!(["hold"]), "{d}");
            ensure!(
                d["chosen_options"] == json!(["hold"]) && d["responded_by_user"].is_null(),
                "{d}"
            );
            Ok(())
        },
    );
    checks.check(
        "timeout without defaults: nobody answers and the task fails, naming the timeout",
        || {
            api.expect_state(DAG, RUN, "expire", "failed")?;
            let tries = api.tries(DAG, RUN, "expire")?;
            ensure!(tries.len() == 1, "expire has {} tries", tries.len());
            let log = api.wait_log(
                DAG,
                RUN,
                "expire",
                1,
                &["nobody answered the input request in time"],
            )?;
            log.expect("nobody answered the input request in time, and it has no defaults")?;
            ensure!(run.state == "failed", "the run ended {}", run.state);
            Ok(())
        },
    );
    checks.finish()
}

#[test]
fn human_in_the_loop_in_a_real_airflow_3_3() -> Result<()> {
    Deployment::run(
        DeployOptions::new("hitl-3.3", Release::V3_3)
            .bundle(airflow_e2e::pack::example_bundle()?)
            .stub_dag("hitl_stubs.py")
            // The scheduler's sweep of timed-out waits runs this often (default 15 s).
            .env("AIRFLOW__SCHEDULER__TRIGGER_TIMEOUT_CHECK_INTERVAL", "2"),
        scenarios,
    )
}
