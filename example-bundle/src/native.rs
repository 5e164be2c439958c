//! `example_native`: a pipeline declared entirely in Rust. On Airflow 3.4 the bundle serves it
//! to the Dag processor itself (no Python file); on 3.3 it is not visible.
//!
//! `extract` reads the `region` param (the run's conf overrides it) and produces readings,
//! `clean_low` and `clean_high` split them (fan-out), and `report` joins both (fan-in).

use std::time::Duration;

use airflow_sdk::log::info;
use airflow_sdk::{Dag, Schedule, Task, TaskContext, TaskResult, TaskSettings, TriggerRule, flow};

fn extract(ctx: &mut TaskContext) -> TaskResult<Vec<u32>> {
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
