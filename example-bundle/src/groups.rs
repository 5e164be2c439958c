//! `native_groups`: task groups in a native dag (Airflow 3.4, no Python file), as Python's
//! `with TaskGroup(...)` declares them.
//!
//! `extract` returns readings. The group `stats` (tooltip, defaults: 2 retries, owner
//! `stats-team`) holds `stats.total` and `stats.count`, each taking the readings, and the nested
//! group `stats.checks` ("Sanity checks") with `stats.checks.positive`, which sets its own owner.
//! The group `publish` does not prefix its tasks' ids: it holds `report`, which takes the total
//! and the count. The dependencies are written on the groups: `extract >> stats >> publish`, so
//! `extract` runs before the roots of `stats` and every leaf of `stats` before `report`.

use airflow_sdk::log::info;
use airflow_sdk::{Dag, Task, TaskContext, TaskGroup, TaskResult, TaskSettings, arg, flow};

fn extract(_ctx: &mut TaskContext) -> TaskResult<Vec<u32>> {
    Ok(vec![4, 8, 15, 16, 23, 42])
}

#[allow(clippy::needless_pass_by_value)] // typed arguments arrive owned: the SDK deserializes them
fn total(_ctx: &mut TaskContext, readings: Vec<u32>) -> TaskResult<u32> {
    Ok(readings.iter().sum())
}

#[allow(clippy::needless_pass_by_value)]
fn count(_ctx: &mut TaskContext, readings: Vec<u32>) -> TaskResult<usize> {
    Ok(readings.len())
}

#[allow(clippy::needless_pass_by_value)]
fn positive(_ctx: &mut TaskContext, readings: Vec<u32>) -> TaskResult<bool> {
    let ok = readings.iter().all(|r| *r > 0);
    info!(ok; "checked the readings are positive");
    Ok(ok)
}

fn report(_ctx: &mut TaskContext, total: u32, count: usize) -> TaskResult<String> {
    info!(total, count; "reporting the group's results");
    Ok(format!("{count} readings, total {total}"))
}

/// The `native_groups` dag.
pub fn dag() -> Dag {
    let readings = || arg("readings").output_of("extract");
    Dag::new("native_groups")
        .native()
        .description("Task groups declared in Rust, served natively to Airflow 3.4")
        .tags(["rust", "native"])
        .task("extract", extract)
        .group(
            TaskGroup::new("stats")
                .tooltip("Summary statistics of the readings")
                .default_task(TaskSettings::new().retries(2).owner("stats-team")),
            |g| {
                g.task_with_args("total", [readings()], total)
                    .task_with_args("count", [readings()], count)
                    .group(
                        TaskGroup::new("checks").display_name("Sanity checks"),
                        |g| {
                            g.task_with_args(
                                Task::new("positive").owner("qa"),
                                [readings()],
                                positive,
                            )
                        },
                    )
            },
        )
        .group(TaskGroup::new("publish").prefix_group_id(false), |g| {
            g.task_with_args(
                "report",
                [
                    arg("total").output_of("stats.total"),
                    arg("count").output_of("stats.count"),
                ],
                report,
            )
        })
        .flow(flow("extract") >> "stats" >> "publish")
}

#[cfg(test)]
mod tests {
    use airflow_sdk::Bundle;
    use airflow_sdk::testing::TestRun;
    use serde_json::json;

    use super::*;

    fn bundle() -> Bundle {
        Bundle::new().queue("rust").dag(dag())
    }

    #[test]
    fn grouped_tasks_run_by_their_full_ids() {
        let out = TestRun::new("native_groups", "stats.total")
            .xcom("extract", "return_value", json!([4, 8, 15, 16, 23, 42]))
            .run_in(&bundle());
        out.assert_success();
        assert_eq!(out.return_value, Some(json!(108)));
        let out = TestRun::new("native_groups", "report")
            .xcom("stats.total", "return_value", json!(108))
            .xcom("stats.count", "return_value", json!(6))
            .run_in(&bundle());
        out.assert_success();
        assert_eq!(out.return_value, Some(json!("6 readings, total 108")));
    }

    #[test]
    fn the_groups_shape_the_dependencies_and_the_defaults() {
        let m = bundle().metadata().unwrap();
        let decl = m.dags["native_groups"].declared.as_ref().unwrap();
        let t = |id: &str| decl.tasks.iter().find(|t| t.id == id).unwrap();
        assert_eq!(
            m.dags["native_groups"].tasks,
            [
                "extract",
                "stats.total",
                "stats.count",
                "stats.checks.positive",
                "report"
            ]
        );
        for leaf in ["stats.total", "stats.count", "stats.checks.positive"] {
            assert_eq!(t(leaf).downstream, ["report"], "{leaf}");
            assert_eq!(t(leaf).settings.retries, Some(2), "{leaf}");
        }
        assert_eq!(
            t("stats.count").settings.owner.as_deref(),
            Some("stats-team")
        );
        assert_eq!(
            t("stats.checks.positive").settings.owner.as_deref(),
            Some("qa")
        );
        assert_eq!(t("report").settings.retries, None);
    }
}
