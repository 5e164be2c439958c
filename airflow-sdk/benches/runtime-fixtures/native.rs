//! The bundle that `benches/runtime.rs` parses as Airflow 3.4's Dag processor would: 100 native
//! dags of 20 tasks each, with schedules, params, defaults, per-task settings, a chain, a
//! fan-out into nested task groups and a fan-in (the budget's shape). Not part of any crate of the workspace.

use std::time::Duration;

use airflow_sdk::{
    Bundle, Dag, Schedule, Task, TaskContext, TaskGroup, TaskResult, TaskSettings, TriggerRule,
    flow,
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
    let task = |id: &str| {
        Task::new(id)
            .pool("bench_pool")
            .execution_timeout(Duration::from_secs(600))
            .trigger_rule(TriggerRule::AllSuccess)
    };
    d = d.task(task(&ids[0]), noop);
    // task_01..task_09 in the group `fan`, task_05..task_09 in its nested group `half`, with
    // group defaults: ids `fan.task_01`, `fan.half.task_05`.
    d = d.group(
        TaskGroup::new("fan")
            .tooltip("the fan-out")
            .default_task(TaskSettings::new().retries(3)),
        |mut g| {
            for id in &ids[1..5] {
                g = g.task(task(id), noop);
            }
            g.group(
                TaskGroup::new("half").default_task(TaskSettings::new().owner("half")),
                |mut h| {
                    for id in &ids[5..10] {
                        h = h.task(task(id), noop);
                    }
                    h
                },
            )
        },
    );
    for id in &ids[10..] {
        d = d.task(task(id), noop);
    }
    // task_00 >> fan (fan-out to its 9 tasks) >> task_10 (fan-in) >> task_11 >> ... >> task_19
    d.flow(flow(ids[0].as_str()) >> "fan" >> ids[10].as_str())
        .chain(ids[10..].iter().cloned())
}

fn bundle() -> Bundle {
    (0..100).fold(Bundle::new().queue("rust"), |b, n| b.dag(dag(n)))
}

airflow_sdk::main!(bundle());
