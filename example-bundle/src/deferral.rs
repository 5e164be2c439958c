//! Deferral: the `deferral` dag (a timer, a wait on a triggered dag run, a trigger that times
//! out) and the `deferral_slots` dag (three tasks deferred while a fourth runs in the one worker
//! slot). For the real-deployment test `tests/tests/e2e/deferral.rs` (stubs in
//! `tests/harness/dags/deferral_stubs.py`, with the Python dag the wait triggers), and
//! `deferral_bench` for the resume-cost benchmark `tests/benches/resume_cost.rs`.

use std::time::Duration;

use airflow_sdk::log::info;
use airflow_sdk::time::OffsetDateTime;
use airflow_sdk::time::format_description::well_known::Rfc3339;
use airflow_sdk::{
    Dag, DagStateEvent, Defer, Resumed, TaskContext, TaskError, TaskResult, Trigger, TriggerOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How long `timer` sleeps in the triggerer.
pub const TIMER: Duration = Duration::from_secs(4);
/// The trigger timeout of `times_out` (its trigger would fire in an hour).
pub const TRIGGER_TIMEOUT: Duration = Duration::from_secs(3);
/// The Python dag `wait_dag` triggers.
pub const TARGET_DAG: &str = "deferral_target";
/// How long the benchmark's timers defer.
pub const BENCH_TIMER: Duration = Duration::from_secs(3);
/// How long each `hold_*` task of `deferral_slots` stays deferred.
pub const HOLD: Duration = Duration::from_secs(25);

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// What a deferring task hands its resume handler.
#[derive(Debug, Serialize, Deserialize)]
struct Asked {
    /// When the task deferred.
    deferred_at: String,
    /// The try that deferred.
    try_number: u32,
}

/// What a resumed timer returns (its XCom).
#[derive(Debug, Serialize)]
struct Woke {
    /// The trigger's event: the moment it fired for.
    event: String,
    deferred_at: String,
    resumed_at: String,
    try_number: u32,
}

/// Defers on the standard provider's time-delta trigger for `delay`, resuming in `woke`.
fn defer_for(ctx: &TaskContext, delay: Duration) -> TaskError {
    let asked = json!({"deferred_at": now(), "try_number": ctx.try_number()});
    info!(seconds = delay.as_secs(); "deferring to the triggerer");
    TaskError::defer(Defer::new(Trigger::time_delta(delay), "woke").kwargs(asked))
}

/// `woke`: the timer fired.
fn woke(ctx: &mut TaskContext, resumed: Resumed<String, Asked>) -> TaskResult<Woke> {
    info!(event = resumed.event.as_str(), deferred_at = resumed.kwargs.deferred_at.as_str();
        "resumed by the trigger in try {}", ctx.try_number());
    Ok(Woke {
        event: resumed.event,
        deferred_at: resumed.kwargs.deferred_at,
        resumed_at: now(),
        try_number: resumed.kwargs.try_number,
    })
}

/// Triggers [`TARGET_DAG`] and defers until its run ends (the deferrable `wait_dag_run`).
fn wait_dag(ctx: &mut TaskContext) -> TaskResult {
    let run_id = format!("from_rust__{}", ctx.run_id());
    ctx.trigger_dag(TARGET_DAG, &TriggerOptions::new().run_id(&run_id))?;
    let defer = Defer::dag_run_end(TARGET_DAG, &run_id, Duration::from_secs(2), "target_done")
        .kwargs(json!({"run_id": run_id}));
    Err(TaskError::defer(defer))
}

/// `target_done`: the triggered run ended; returns its state.
fn target_done(_: &mut TaskContext, resumed: Resumed<DagStateEvent, Value>) -> TaskResult<String> {
    let Resumed { event, kwargs, .. } = resumed;
    let run_id = kwargs["run_id"].as_str().unwrap_or_default();
    let state = event
        .state(run_id)
        .ok_or_else(|| format!("no state for {run_id} in the event {:?}", event.fields()))?;
    info!(run_id = run_id, state = state; "the triggered run ended");
    Ok(state.to_owned())
}

/// Defers to a trigger that fires in an hour, with a 3 s trigger timeout: the try fails.
fn times_out(_: &mut TaskContext) -> TaskResult {
    let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let defer = Defer::new(Trigger::date_time(later), "never").timeout(TRIGGER_TIMEOUT);
    Err(TaskError::defer(defer))
}

/// `never`: not reached (the trigger times out first).
fn never(_: &mut TaskContext, _: Resumed) -> TaskResult<&'static str> {
    Ok("the trigger fired after all")
}

/// The `deferral` dag: `timer`, `wait_dag` and `times_out`.
pub fn dag() -> Dag {
    Dag::new("deferral")
        .task("timer", |ctx: &mut TaskContext| -> TaskResult {
            Err(defer_for(ctx, TIMER))
        })
        .on_resume("timer", "woke", woke)
        .task("wait_dag", wait_dag)
        .on_resume("wait_dag", "target_done", target_done)
        .task("times_out", times_out)
        .on_resume("times_out", "never", never)
}

/// The `deferral_native` dag, served natively to Airflow 3.4: one `timer` deferring for
/// [`TIMER`] (`tests/tests/e2e/deployment.rs`, the native deployment).
pub fn native_dag() -> Dag {
    Dag::new("deferral_native")
        .native()
        .tags(["rust", "native"])
        .task("timer", |ctx: &mut TaskContext| -> TaskResult {
            Err(defer_for(ctx, TIMER))
        })
        .on_resume("timer", "woke", woke)
}

/// The `deferral_bench` dag: one `timer` deferring for [`BENCH_TIMER`], for
/// `tests/benches/resume_cost.rs` (beside the Python timer of `deferral_bench_py`).
pub fn bench_dag() -> Dag {
    Dag::new("deferral_bench")
        .task("timer", |ctx: &mut TaskContext| -> TaskResult {
            Err(defer_for(ctx, BENCH_TIMER))
        })
        .on_resume("timer", "woke", woke)
}

/// The `deferral_slots` dag: `hold_1..3` defer for [`HOLD`]; `busy` runs meanwhile (the
/// deployment has one worker slot) and returns when it ran.
pub fn slots_dag() -> Dag {
    let mut dag = Dag::new("deferral_slots").task("busy", |ctx: &mut TaskContext| {
        let started = now();
        ctx.sleep(Duration::from_secs(2))?;
        Ok(json!({"started": started, "ended": now()}))
    });
    for i in 1..=3 {
        let id = format!("hold_{i}");
        dag = dag
            .task(id.as_str(), |ctx: &mut TaskContext| -> TaskResult {
                Err(defer_for(ctx, HOLD))
            })
            .on_resume(&id, "woke", woke);
    }
    dag
}
