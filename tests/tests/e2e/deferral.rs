//! Issue 19 point 1 in a real deployment with a triggerer, asserted through the REST API: Rust
//! tasks defer on the standard provider's triggers and resume in their Rust handlers
//! (example-bundle/src/deferral.rs, stubs in `tests/harness/dags/deferral_stubs.py`).
//!
//! The deployment has one worker slot (`[core] parallelism = 1`): `deferral_slots` shows that a
//! deferred task holds none (a fourth task runs while three are deferred). `deferral` then
//! covers a timer, the deferrable wait on a triggered dag run and a trigger timeout. What resuming
//! costs beside a Python task is the benchmark `tests/benches/resume_cost.rs`.

use std::time::{Duration, Instant};

use airflow_e2e::deploy::{Api, Checks, DeployOptions, Deployment, unix_seconds};
use airflow_e2e::venv::Release;
use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

const RUN_TIMEOUT: Duration = Duration::from_secs(420);
const DAGS_TIMEOUT: Duration = Duration::from_secs(180);
const DAG: &str = "deferral";
const SLOTS: &str = "deferral_slots";
const RUN: &str = "deferral_run";

fn seconds(v: &Value, field: &str) -> Result<f64> {
    unix_seconds(v[field].as_str()).with_context(|| format!("{field} of {v}"))
}

/// Waits until every task of `tasks` has been seen `deferred` (at once or in turn).
fn wait_all_deferred(api: &Api, dag: &str, tasks: &[&str], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut seen: Vec<&str> = Vec::new();
    while seen.len() < tasks.len() {
        for ti in api.task_instances(dag, RUN)? {
            if ti.state.as_deref() == Some("deferred")
                && let Some(t) = tasks.iter().find(|t| **t == ti.task_id)
                && !seen.contains(t)
            {
                seen.push(t);
            }
        }
        ensure!(
            Instant::now() < deadline,
            "only {seen:?} of {tasks:?} were seen deferred within {} s: {}",
            timeout.as_secs(),
            api.explain_run(dag, RUN)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn scenarios(dep: &Deployment) -> Result<()> {
    let api = &dep.api;
    api.wait_for_dags(&[DAG, SLOTS, "deferral_target"], DAGS_TIMEOUT)?;
    let mut checks = Checks::default();

    // One worker slot: the three holds take it in turn, defer, and leave it to `busy`.
    api.trigger(SLOTS, RUN, json!({}))?;
    checks.check("deferred: the three hold tasks show deferred", || {
        wait_all_deferred(
            api,
            SLOTS,
            &["hold_1", "hold_2", "hold_3"],
            Duration::from_secs(180),
        )
    });
    let run = api.wait_run(SLOTS, RUN, RUN_TIMEOUT)?;
    eprintln!(
        "{SLOTS}/{RUN} ended {}: {}",
        run.state,
        api.explain_run(SLOTS, RUN)
    );
    checks.check(
        "slots: with one worker slot, busy runs while the three holds are deferred",
        || {
            let busy = api.return_value(SLOTS, RUN, "busy")?;
            let (started, ended) = (seconds(&busy, "started")?, seconds(&busy, "ended")?);
            for hold in ["hold_1", "hold_2", "hold_3"] {
                api.expect_state(SLOTS, RUN, hold, "success")?;
                let h = api.return_value(SLOTS, RUN, hold)?;
                let (deferred, resumed) = (seconds(&h, "deferred_at")?, seconds(&h, "resumed_at")?);
                ensure!(
                    deferred < started && ended < resumed,
                    "busy ran {started:.1}..{ended:.1}, but {hold} deferred at {deferred:.1} and \
                     resumed at {resumed:.1}: it held the slot"
                );
            }
            Ok(())
        },
    );

    api.trigger(DAG, RUN, json!({}))?;
    let run = api.wait_run(DAG, RUN, RUN_TIMEOUT)?;
    eprintln!(
        "{DAG}/{RUN} ended {}: {}",
        run.state,
        api.explain_run(DAG, RUN)
    );
    checks.check(
        "timer: deferred on the time-delta trigger, resumed in its Rust handler with the event and kwargs",
        || {
            api.expect_state(DAG, RUN, "timer", "success")?;
            let v = api.return_value(DAG, RUN, "timer")?;
            let (deferred, fired, resumed) = (
                seconds(&v, "deferred_at")?,
                seconds(&v, "event")?,
                seconds(&v, "resumed_at")?,
            );
            ensure!(
                (3.5..5.0).contains(&(fired - deferred)),
                "the trigger fired {:.2} s after the deferral, not 4 s: {v}",
                fired - deferred
            );
            ensure!(resumed >= fired, "resumed before the trigger fired: {v}");
            ensure!(v["try_number"] == 1, "{v}");
            // Deferral does not use up a try.
            let ti = api.task_instance(DAG, RUN, "timer")?;
            ensure!(ti.try_number == 1, "timer is at try {}", ti.try_number);
            let log = api.wait_log(DAG, RUN, "timer", 1, &["resumed by the trigger"])?;
            log.expect("task deferred to")?;
            log.expect("resumed by the trigger")?;
            Ok(())
        },
    );
    checks.check(
        "wait_dag: deferrable wait on a triggered dag run resumes with its final state",
        || {
            api.expect_state(DAG, RUN, "wait_dag", "success")?;
            ensure!(api.return_value(DAG, RUN, "wait_dag")? == json!("success"));
            let target = api.dag_run("deferral_target", &format!("from_rust__{RUN}"))?;
            ensure!(
                target.state == "success",
                "the target run is {}",
                target.state
            );
            Ok(())
        },
    );
    checks.check(
        "times_out: a trigger timeout fails the try with the timeout named",
        || {
            api.expect_state(DAG, RUN, "times_out", "failed")?;
            let log = api.wait_log(DAG, RUN, "times_out", 1, &["trigger timed out"])?;
            log.expect("the trigger timed out before it fired")?;
            ensure!(
                api.xcom(DAG, RUN, "times_out", "return_value")?.is_none(),
                "the handler ran"
            );
            Ok(())
        },
    );
    checks.finish()
}

#[test]
fn deferred_rust_tasks_free_their_slot_and_resume_in_a_real_airflow_3_3() -> Result<()> {
    Deployment::run(
        DeployOptions::new("deferral-3.3", Release::V3_3)
            .triggerer()
            .env("AIRFLOW__CORE__PARALLELISM", "1")
            .bundle(airflow_e2e::pack::example_bundle()?)
            .stub_dag("deferral_stubs.py"),
        scenarios,
    )
}
