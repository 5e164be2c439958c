//! Issue 19 point 2 in real deployments, asserted through the REST API: sensors in reschedule
//! mode (`up_for_reschedule` between pokes, each poke a run of the same try, the timeout counted
//! from the first run) and in poke mode, timing out without retry or skipped with soft fail
//! (example-bundle/src/sensors.rs, stubs in `tests/harness/dags/sensor_stubs.py`). Airflow
//! 3.3.2 and 3.4.0b2 speak the same messages for all of it (`RescheduleTask`,
//! `GetTaskRescheduleStartDate`; both passed on 2026-12-07): CI runs 3.3 only, to keep its time;
//! the same test with `Release::V3_4` runs the checks on 3.4.
//!
//! Each run of a task instance writes an audit-log entry (`GET /api/v2/eventLogs`, event
//! `running`) with its try number: those are the pokes' start times the timing checks use.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use airflow_e2e::deploy::{Api, Checks, DeployOptions, Deployment, TaskLog, unix_seconds};
use airflow_e2e::venv::Release;
use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

const RUN_TIMEOUT: Duration = Duration::from_secs(300);
const DAGS_TIMEOUT: Duration = Duration::from_secs(180);
const DAG: &str = "sensors";
const RUN: &str = "sensors_run";
/// The bundle's settings (example-bundle/src/sensors.rs), in seconds. The reschedule interval
/// is 5 s, not 1 or 2: with quicker reschedules Airflow's scheduler can take a late executor
/// report of one poke's end for a killed task and fail the try (apache/airflow#71172), which
/// a run of this test met on 3.3.2 with a 0.2 s reschedule.
const RESCHEDULE_INTERVAL: f64 = 5.0;
const POKE_INTERVAL: f64 = 1.0;
const RESCHEDULE_TIMEOUT: f64 = 12.0;
const POKE_TIMEOUT: f64 = 3.0;
const SOFT_FAIL_TIMEOUT: f64 = 6.0;
const HOLDS_ON: usize = 3;

/// The states each task instance was seen in while the run went on, in order, without repeats.
type Seen = BTreeMap<String, Vec<String>>;

/// Waits for the run to end, polling its task instances' states meanwhile.
fn watch_run(api: &Api) -> Result<Seen> {
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut seen = Seen::new();
    loop {
        for ti in api.task_instances(DAG, RUN)? {
            let states = seen.entry(ti.task_id).or_default();
            let state = ti.state.unwrap_or_else(|| "none".to_owned());
            if states.last() != Some(&state) {
                states.push(state);
            }
        }
        let run = api.dag_run(DAG, RUN)?;
        if run.state == "success" || run.state == "failed" {
            eprintln!(
                "{DAG}/{RUN} ended {}: {}",
                run.state,
                api.explain_run(DAG, RUN)
            );
            return Ok(seen);
        }
        if Instant::now() >= deadline {
            bail!(
                "{DAG}/{RUN} is still {} after {} s: {}",
                run.state,
                RUN_TIMEOUT.as_secs(),
                api.explain_run(DAG, RUN)
            );
        }
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// One run of a task instance: the `running` audit-log entry Airflow writes when it starts.
#[derive(Debug)]
struct Started {
    at: f64,
    try_number: i64,
}

/// Every run of `task` in this dag run, oldest first.
fn runs_of(api: &Api, task: &str) -> Result<Vec<Started>> {
    let v: Value = api.get(&format!(
        "/api/v2/eventLogs?dag_id={DAG}&run_id={RUN}&task_id={task}&event=running&order_by=when&limit=100"
    ))?;
    v["event_logs"]
        .as_array()
        .context("no event_logs")?
        .iter()
        .map(|e| {
            Ok(Started {
                at: unix_seconds(e["when"].as_str())?,
                try_number: e["try_number"].as_i64().context("no try_number")?,
            })
        })
        .collect()
}

/// The task instance ended `want`, in its first try, which is its only one.
fn ended_in_try_1(api: &Api, task: &str, want: &str) -> Result<()> {
    let ti = api.task_instance(DAG, RUN, task)?;
    ensure!(
        ti.state.as_deref() == Some(want),
        "{task} is {:?}, not {want}; all: {}",
        ti.state,
        api.explain_run(DAG, RUN)
    );
    ensure!(ti.try_number == 1, "{task} is at try {}", ti.try_number);
    let tries = api.tries(DAG, RUN, task)?;
    ensure!(tries.len() == 1, "{task} has {} tries", tries.len());
    Ok(())
}

/// Each run started in try 1; at least `min` of them (`max` at most), each at least the
/// reschedule interval after the one before.
fn rescheduled_runs(api: &Api, task: &str, min: usize, max: usize) -> Result<Vec<Started>> {
    let runs = runs_of(api, task)?;
    ensure!(
        (min..=max).contains(&runs.len()),
        "{task} ran {} times (expected {min} to {max}): {runs:?}",
        runs.len()
    );
    ensure!(
        runs.iter().all(|r| r.try_number == 1),
        "{task}: runs of other tries: {runs:?}"
    );
    for pair in runs.windows(2) {
        let gap = pair[1].at - pair[0].at;
        ensure!(
            gap >= RESCHEDULE_INTERVAL,
            "{task}: a run started {gap:.2} s after the one before, under the interval: {runs:?}"
        );
    }
    Ok(runs)
}

fn log_of(api: &Api, task: &str, text: &str) -> Result<TaskLog> {
    let log = api.wait_log(DAG, RUN, task, 1, &[text])?;
    log.expect(text)?;
    Ok(log)
}

fn never_rescheduled(seen: &Seen, task: &str) -> Result<()> {
    let states = seen.get(task).context("never seen")?;
    ensure!(
        !states.iter().any(|s| s == "up_for_reschedule"),
        "{task} went up_for_reschedule: {states:?}"
    );
    Ok(())
}

fn scenarios(dep: &Deployment) -> Result<()> {
    let api = &dep.api;
    api.wait_for_dags(&[DAG], DAGS_TIMEOUT)?;
    api.trigger(DAG, RUN, json!({}))?;
    let seen = watch_run(api)?;
    eprintln!("states seen: {seen:?}");
    let mut checks = Checks::default();
    checks.check(
        "reschedule sensor: up_for_reschedule between pokes, then success on the third poke of the same try",
        || {
            let states = seen.get("wait_reschedule").context("never seen")?;
            ensure!(
                states.iter().filter(|s| *s == "up_for_reschedule").count() >= 2,
                "wait_reschedule was not seen up_for_reschedule between its pokes: {states:?}"
            );
            ended_in_try_1(api, "wait_reschedule", "success")?;
            let runs = rescheduled_runs(api, "wait_reschedule", HOLDS_ON, HOLDS_ON)?;
            let xcom = api
                .xcom(DAG, RUN, "wait_reschedule", "return_value")?
                .context("no return_value XCom")?;
            ensure!(xcom["pokes"] == json!(HOLDS_ON), "{xcom}");
            ensure!(xcom["try_number"] == 1, "{xcom}");
            // What GetTaskRescheduleStartDate answered: the first reschedule, recorded when
            // the first run ended, so between the first run's start and the second's (the
            // answer is in whole seconds).
            let first = xcom["first_try_start"]
                .as_f64()
                .with_context(|| format!("no first_try_start: {xcom}"))?;
            ensure!(
                first >= runs[0].at.floor() && first <= runs[1].at,
                "first_try_start {first} is not between the first two runs {runs:?}"
            );
            log_of(api, "wait_reschedule", "sensor condition met")?;
            Ok(())
        },
    );
    checks.check(
        "poke sensor: pokes in one run and succeeds on the third poke, never up_for_reschedule",
        || {
            ended_in_try_1(api, "wait_poke", "success")?;
            never_rescheduled(&seen, "wait_poke")?;
            let runs = runs_of(api, "wait_poke")?;
            ensure!(runs.len() == 1, "wait_poke ran {} times", runs.len());
            let xcom = api.xcom(DAG, RUN, "wait_poke", "return_value")?;
            ensure!(
                xcom == Some(json!({"pokes": HOLDS_ON})),
                "wait_poke returned {xcom:?}"
            );
            let ti = api.task_instance(DAG, RUN, "wait_poke")?;
            let took = ti.duration().context("no duration")?;
            let waits = (HOLDS_ON - 1) as f64 * POKE_INTERVAL;
            ensure!(took >= waits, "wait_poke took {took:.2} s, under {waits} s");
            Ok(())
        },
    );
    checks.check(
        "reschedule sensor timeout: fails after its timeout counted from the first poke, not retried",
        || {
            ended_in_try_1(api, "timeout_reschedule", "failed")?;
            let runs = rescheduled_runs(api, "timeout_reschedule", 2, 20)?;
            let ti = api.task_instance(DAG, RUN, "timeout_reschedule")?;
            let ended = unix_seconds(ti.end_date.as_deref())?;
            let span = ended - runs[0].at;
            eprintln!(
                "   timeout_reschedule: {} runs, failed {span:.2} s after the first started",
                runs.len()
            );
            ensure!(
                span >= RESCHEDULE_TIMEOUT,
                "failed {span:.2} s after the first run started, before the {RESCHEDULE_TIMEOUT} s timeout"
            );
            // The last run alone is far shorter than the timeout: it counted from the first.
            let last = ti.duration().context("no duration")?;
            ensure!(
                last < RESCHEDULE_TIMEOUT / 2.0,
                "the last run took {last:.2} s"
            );
            log_of(api, "timeout_reschedule", "sensor timed out")?;
            Ok(())
        },
    );
    checks.check(
        "poke sensor timeout: fails after its timeout in one run, not retried",
        || {
            ended_in_try_1(api, "timeout_poke", "failed")?;
            never_rescheduled(&seen, "timeout_poke")?;
            let runs = runs_of(api, "timeout_poke")?;
            ensure!(runs.len() == 1, "timeout_poke ran {} times", runs.len());
            let took = api
                .task_instance(DAG, RUN, "timeout_poke")?
                .duration()
                .context("no duration")?;
            ensure!(
                took >= POKE_TIMEOUT,
                "failed after {took:.2} s, before its {POKE_TIMEOUT} s timeout"
            );
            log_of(api, "timeout_poke", "sensor timed out")?;
            Ok(())
        },
    );
    checks.check(
        "soft fail: a reschedule sensor that times out ends skipped, not failed",
        || {
            ended_in_try_1(api, "soft_fail", "skipped")?;
            let runs = rescheduled_runs(api, "soft_fail", 2, 20)?;
            let ti = api.task_instance(DAG, RUN, "soft_fail")?;
            let span = unix_seconds(ti.end_date.as_deref())? - runs[0].at;
            ensure!(
                span >= SOFT_FAIL_TIMEOUT,
                "skipped {span:.2} s after the first run started, before its {SOFT_FAIL_TIMEOUT} s timeout"
            );
            log_of(api, "soft_fail", "sensor timed out")?;
            Ok(())
        },
    );
    checks.finish()
}

#[test]
fn sensors_in_a_real_airflow_3_3() -> Result<()> {
    Deployment::run(
        DeployOptions::new("sensors-3.3", Release::V3_3)
            .bundle(airflow_e2e::pack::example_bundle()?)
            .stub_dag("sensor_stubs.py"),
        scenarios,
    )
}
