//! `example_native`: a pipeline declared entirely in Rust. On Airflow 3.4 the bundle serves it
//! to the Dag processor itself (no Python file); on 3.3 it is not visible.
//!
//! `extract` reads the `region` param (the run's conf overrides it) and produces readings,
//! `clean_low` and `clean_high` split them (fan-out), and `report` joins both (fan-in). A run
//! with `{"fail_first_try": true}` in its conf fails `extract`'s first try, which the declared
//! retry then repeats.
//!
//! `example_native_catchup` is a daily cron dag over a closed window in the past with catchup:
//! the scheduler creates its runs on its own.

use std::time::Duration;

use airflow_sdk::log::info;
use airflow_sdk::{
    Dag, Schedule, Task, TaskContext, TaskError, TaskResult, TaskSettings, TriggerRule, flow,
};

fn extract(ctx: &mut TaskContext) -> TaskResult<Vec<u32>> {
    if ctx.conf()["fail_first_try"] == true && ctx.try_number() == 1 {
        return Err(TaskError::fail("failing the first try, as the conf asks"));
    }
    let region: String = ctx.param("region")?.unwrap_or_default();
    let readings = vec![3, 14, 15, 92, 65];
    info!(region = region.as_str(), readings = readings.len(); "extracted readings");
    ctx.xcom_push("region", &region)?;
    Ok(readings)
}

fn split(ctx: &mut TaskContext, high: bool) -> TaskResult<Vec<u32>> {
    let readings: Vec<u32> = ctx
        .xcom_pull("extract", "return_value")?
        .ok_or("extract pushed no readings")?;
    let threshold: u32 = ctx.param("threshold")?.unwrap_or(50);
    Ok(readings
        .into_iter()
        .filter(|r| (*r >= threshold) == high)
        .collect())
}

fn report(ctx: &mut TaskContext) -> TaskResult<u32> {
    let mut total = 0;
    for task in ["clean_low", "clean_high"] {
        let part: Vec<u32> = ctx
            .xcom_pull(task, "return_value")?
            .ok_or_else(|| format!("{task} pushed nothing"))?;
        total += part.iter().sum::<u32>();
    }
    info!(total = total; "report");
    Ok(total)
}

/// The `example_native` dag.
pub fn dag() -> Dag {
    Dag::new("example_native")
        .native()
        .description("A pipeline declared in Rust, served natively to Airflow 3.4")
        .schedule(Schedule::cron("0 3 * * *").timezone("Europe/Paris"))
        .start_date("2026-01-01")
        .catchup(false)
        .tags(["rust", "native"])
        .param_described("region", "eu", "Which region's readings to extract")
        .param("threshold", 50)
        .max_active_runs(2)
        .dagrun_timeout(Duration::from_secs(3600))
        .default_task(
            TaskSettings::new()
                .retries(1)
                .retry_delay(Duration::from_secs(1))
                .owner("data-team"),
        )
        .task("extract", extract)
        .task("clean_low", |ctx: &mut TaskContext| split(ctx, false))
        .task("clean_high", |ctx: &mut TaskContext| split(ctx, true))
        .task(
            Task::new("report")
                .trigger_rule(TriggerRule::AllSuccess)
                .execution_timeout(Duration::from_secs(600))
                .doc_md("Sums both halves."),
            report,
        )
        .flow(flow("extract") >> ["clean_low", "clean_high"] >> "report")
}

/// Returns the data interval the scheduler gave the run, as `start/end` in RFC 3339.
fn interval(ctx: &mut TaskContext) -> TaskResult<String> {
    let format = &airflow_sdk::time::format_description::well_known::Rfc3339;
    let start = ctx
        .data_interval_start()
        .ok_or("the run has no data interval")?;
    let end = ctx
        .data_interval_end()
        .ok_or("the run has no data interval")?;
    Ok(format!("{}/{}", start.format(format)?, end.format(format)?))
}

/// The `example_native_catchup` dag: 06:00 UTC daily from 2026-01-01 to 2026-01-03, caught up.
pub fn catchup_dag() -> Dag {
    Dag::new("example_native_catchup")
        .native()
        .description("Daily runs over a past window, created by the scheduler (catchup)")
        .schedule(Schedule::cron("0 6 * * *"))
        .start_date("2026-01-01")
        .end_date("2026-01-03")
        .catchup(true)
        .tags(["rust", "native"])
        .task("interval", interval)
}

/// The `native_timeout` dag: a native task that overruns its declared execution timeout (3 s)
/// with one retry, for Airflow 3.4's native path.
pub fn timeout_dag() -> Dag {
    Dag::new("native_timeout")
        .native()
        .description("A native task that overruns its execution timeout")
        .tags(["rust", "native"])
        .task(
            Task::new("sleep_past_timeout")
                .execution_timeout(crate::testing::TIMEOUT)
                .retries(1)
                .retry_delay(Duration::from_secs(1)),
            crate::testing::sleep_past_timeout,
        )
}

/// Which build of the example this is: `EXAMPLE_BUNDLE_BUILD` at compile time, `dev` without it.
/// Setting it makes a different binary at the cost of recompiling this crate alone (rustc tracks
/// the variable, so cargo rebuilds the crate when it changes): the Git Dag bundle test ships two
/// builds, v1 and v2, and tells them apart in the task logs.
pub const BUILD: &str = match option_env!("EXAMPLE_BUNDLE_BUILD") {
    Some(build) => build,
    None => "dev",
};

/// Logs and returns [`BUILD`].
pub(crate) fn which_build(ctx: &mut TaskContext) -> TaskResult<String> {
    info!(build = BUILD; "example-bundle build {BUILD} runs {}", ctx.task_id());
    Ok(BUILD.to_owned())
}

/// The pool `second` of `native_versioned` takes a slot of: a test holds a run between its two
/// tasks by giving it no slots.
pub const VERSIONED_GATE_POOL: &str = "versioned_gate";

/// The `native_versioned` dag: `first >> second`, each returning the build that ran it.
/// `second` waits for a slot of [`VERSIONED_GATE_POOL`], so a deployment can hold a run between
/// the two tasks while it ships a new build (Airflow 3.4, a versioned Dag bundle).
pub fn versioned_dag() -> Dag {
    Dag::new("native_versioned")
        .native()
        .description("Each task returns the bundle build that ran it")
        .tags(["rust", "native"])
        .task("first", which_build)
        .task(Task::new("second").pool(VERSIONED_GATE_POOL), which_build)
        .chain(["first", "second"])
}

/// Writes an object through the `fs` connection `native_fs` and reads it back (object storage
/// from a native task, Airflow 3.4).
#[cfg(feature = "object-store")]
fn store_and_read(ctx: &mut TaskContext) -> TaskResult<String> {
    let fs = ctx.object_storage("native_fs", None)?;
    let text = format!("written by a native rust task in {}", ctx.run_id());
    fs.write("native/hello.txt", text)?;
    let read = String::from_utf8(fs.read("native/hello.txt")?)?;
    info!(bytes = read.len(); "object store: native/hello.txt read back through native_fs");
    Ok(read)
}

/// The `native_object_store` dag (only in a build with the `object-store` feature).
#[cfg(feature = "object-store")]
pub fn object_store_dag() -> Dag {
    Dag::new("native_object_store")
        .native()
        .description("Object storage through an Airflow Connection, from a native task")
        .tags(["rust", "native"])
        .task("store_and_read", store_and_read)
}
