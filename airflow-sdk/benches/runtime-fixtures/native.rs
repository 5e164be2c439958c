//! The bundle that `benches/runtime.rs` parses as Airflow 3.4's Dag processor would: 100 native
//! dags of 20 tasks each, with schedules, params, defaults, per-task settings, a chain, a
//! fan-out and a fan-in (the budget's shape). Not part of any crate of the workspace.

use std::time::Duration;

use airflow_sdk::{
    Bundle, Dag, Schedule, Task, TaskContext, TaskResult, TaskSettings, TriggerRule, flow,
};

fn noop(_: &mut TaskContext) -> TaskResult {
    Ok(())
}

fn dag(n: usize) -> Dag {
    let mut d = Dag::new(format!("native_{n:03}"))
        .native()
        .schedule(Schedule::cron("0 3 * * *").timezone("Europe/Paris"))
        .start_date("2026-01-01")
        .catchup(false)
        .description("one of 100 benchmark dags")
        .tags(["bench", "native"])
        .param("region", "eu")
        .param("limit", 100)
        .default_task(
            TaskSettings::new()
                .retries(2)
                .retry_delay(Duration::from_secs(30))
                .owner("bench"),
        );
    let ids: Vec<String> = (0..20).map(|t| format!("task_{t:02}")).collect();
    for id in &ids {
        d = d.task(
            Task::new(id.as_str())
                .pool("bench_pool")
                .execution_timeout(Duration::from_secs(600))
                .trigger_rule(TriggerRule::AllSuccess),
            noop,
        );
    }
    // task_00 >> task_01..task_09 (fan-out) >> task_10 (fan-in) >> task_11 >> ... >> task_19
    d.flow(flow(ids[0].as_str()) >> ids[1..10].to_vec() >> ids[10].as_str())
        .chain(ids[10..].iter().cloned())
}

fn bundle() -> Bundle {
    (0..100).fold(Bundle::new().queue("rust"), |b, n| b.dag(dag(n)))
}

airflow_sdk::main!(bundle());
