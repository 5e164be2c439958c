//! `native_taskflow`: TaskFlow in a native dag (Airflow 3.4, no Python file). Return values are
//! passed to downstream tasks' typed arguments, which implies the dependencies, and a branch
//! chooses which task runs.
//!
//! `extract` returns readings; `summarize` takes them (`arg("readings").output_of("extract")`)
//! with a literal unit; `choose` branches on the total against the `threshold` param: `alert`
//! when above it, else `archive`, and the other is skipped. `report` takes the summary and the
//! outputs of both branches (the skipped one's is `None`) and runs once neither failed
//! (`none_failed_min_one_success`).

use airflow_sdk::log::info;
use airflow_sdk::{Dag, Task, TaskContext, TaskResult, TriggerRule, arg, flow};
use serde::{Deserialize, Serialize};

/// What `summarize` hands down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many readings.
    pub count: usize,
    /// Their sum.
    pub total: u32,
    /// Their unit.
    pub unit: String,
}

fn extract(_ctx: &mut TaskContext) -> TaskResult<Vec<u32>> {
    Ok(vec![3, 14, 15, 92, 65])
}

#[allow(clippy::needless_pass_by_value)] // typed arguments arrive owned: the SDK deserializes them
fn summarize(_ctx: &mut TaskContext, readings: Vec<u32>, unit: String) -> TaskResult<Summary> {
    let summary = Summary {
        count: readings.len(),
        total: readings.iter().sum(),
        unit,
    };
    info!(count = summary.count, total = summary.total; "summarized readings");
    Ok(summary)
}

/// Follows `alert` when the total is above the `threshold` param, else `archive`.
fn choose(ctx: &mut TaskContext) -> TaskResult<[&'static str; 1]> {
    let summary: Summary = ctx
        .xcom_pull("summarize", "return_value")?
        .ok_or("summarize pushed nothing")?;
    let threshold: u32 = ctx.param("threshold")?.unwrap_or(100);
    Ok([if summary.total > threshold {
        "alert"
    } else {
        "archive"
    }])
}

#[allow(clippy::needless_pass_by_value)]
fn alert(_ctx: &mut TaskContext, summary: Summary) -> TaskResult<String> {
    Ok(format!("alert: total {} {}", summary.total, summary.unit))
}

#[allow(clippy::needless_pass_by_value)]
fn archive(_ctx: &mut TaskContext, summary: Summary) -> TaskResult<String> {
    Ok(format!("archived {} readings", summary.count))
}

/// Joins the branches: the skipped one's output is `None`.
#[allow(clippy::needless_pass_by_value)]
fn report(
    _ctx: &mut TaskContext,
    summary: Summary,
    alerted: Option<String>,
    archived: Option<String>,
) -> TaskResult<String> {
    let outcome = alerted
        .or(archived)
        .ok_or("neither branch produced anything")?;
    Ok(format!("{} readings: {outcome}", summary.count))
}

/// The `native_taskflow` dag.
pub fn dag() -> Dag {
    let summary = || arg("summary").output_of("summarize");
    Dag::new("native_taskflow")
        .native()
        .description("Return values as typed arguments, and a branch, in a native dag")
        .tags(["rust", "native"])
        .param("threshold", 100)
        .task("extract", extract)
        // extract >> summarize is implied by the argument.
        .task_with_args(
            "summarize",
            [
                arg("readings").output_of("extract"),
                arg("unit").value("celsius"),
            ],
            summarize,
        )
        .branch("choose", choose)
        .task_with_args("alert", [summary()], alert)
        .task_with_args("archive", [summary()], archive)
        .task_with_args(
            Task::new("report").trigger_rule(TriggerRule::NoneFailedMinOneSuccess),
            [
                summary(),
                arg("alerted").output_of("alert"),
                arg("archived").output_of("archive"),
            ],
            report,
        )
        .flow(flow("summarize") >> "choose" >> ["alert", "archive"])
}

#[cfg(test)]
mod tests {
    use airflow_sdk::Bundle;
    use airflow_sdk::testing::{RequestKind, TestRun, TestState};
    use serde_json::json;

    use super::*;

    fn bundle() -> Bundle {
        Bundle::new().queue("rust").dag(dag())
    }

    fn summary() -> serde_json::Value {
        json!({"count": 5, "total": 189, "unit": "celsius"})
    }

    #[test]
    fn summarize_gets_extracts_output_and_the_literal_unit() {
        let out = TestRun::new("native_taskflow", "summarize")
            .xcom("extract", "return_value", json!([3, 14, 15, 92, 65]))
            .run_in(&bundle());
        out.assert_success();
        assert_eq!(out.return_value, Some(summary()));
    }

    #[test]
    fn choose_follows_one_branch_and_skips_the_other() {
        let run = |threshold: u32| {
            TestRun::new("native_taskflow", "choose")
                .xcom("summarize", "return_value", summary())
                .conf(json!({"threshold": threshold}))
                .run_in(&bundle())
        };
        let out = run(100);
        out.assert_success();
        assert_eq!(out.return_value, Some(json!(["alert"])));
        assert_eq!(
            out.xcom("skipmixin_key"),
            Some(&json!({"followed": ["alert"]}))
        );
        let skips: Vec<_> = out.requests_of(RequestKind::SkipDownstreamTasks).collect();
        assert_eq!(skips.len(), 1);
        assert_eq!(skips[0].body["tasks"], json!(["archive"]));

        let out = run(1000);
        assert_eq!(out.return_value, Some(json!(["archive"])));
        let skips: Vec<_> = out.requests_of(RequestKind::SkipDownstreamTasks).collect();
        assert_eq!(skips[0].body["tasks"], json!(["alert"]));
    }

    #[test]
    fn report_takes_the_output_of_the_branch_that_ran() {
        let out = TestRun::new("native_taskflow", "report")
            .xcom("summarize", "return_value", summary())
            .xcom("archive", "return_value", json!("archived 5 readings"))
            .run_in(&bundle());
        out.assert_success();
        assert_eq!(
            out.return_value,
            Some(json!("5 readings: archived 5 readings"))
        );
        // Neither branch's output: the task fails, saying so.
        let out = TestRun::new("native_taskflow", "report")
            .xcom("summarize", "return_value", summary())
            .run_in(&bundle());
        assert_eq!(out.state, TestState::Failed);
    }
}
