//! `native_mapping`: dynamic task mapping in a native dag (Airflow 3.4, no Python file), the
//! Rust form of Python's `.partial(...).expand(...)`.
//!
//! `numbers` returns `[2, 3, 4]`; `square` is mapped over it (one task instance per element,
//! map indexes 0 to 2) with a literal partial argument `unit`, each labelled `x=<element> <unit>`;
//! `scale` is mapped over a literal list `[10, 100]` with `numbers`' whole output as a partial
//! argument; `total` takes the outputs of all of `square`'s and `scale`'s task instances (lists,
//! in map index order) and sums them.

use airflow_sdk::log::info;
use airflow_sdk::{Dag, Task, TaskContext, TaskResult, arg};

fn numbers(_ctx: &mut TaskContext) -> TaskResult<Vec<u64>> {
    Ok(vec![2, 3, 4])
}

#[allow(clippy::needless_pass_by_value)] // typed arguments arrive owned: the SDK deserializes them
fn square(ctx: &mut TaskContext, x: u64, unit: String) -> TaskResult<String> {
    info!(x = x, map_index = ctx.map_index().unwrap_or(0); "squaring");
    Ok(format!("{} {unit}2", x * x))
}

#[allow(clippy::needless_pass_by_value)]
fn scale(_ctx: &mut TaskContext, factor: u64, base: Vec<u64>) -> TaskResult<u64> {
    Ok(factor * base.iter().sum::<u64>())
}

#[allow(clippy::needless_pass_by_value)]
fn total(_ctx: &mut TaskContext, squares: Vec<String>, scaled: Vec<u64>) -> TaskResult<String> {
    Ok(format!(
        "squares {}; scaled sum {}",
        squares.join(", "),
        scaled.iter().sum::<u64>()
    ))
}

/// The `native_mapping` dag.
pub fn dag() -> Dag {
    Dag::new("native_mapping")
        .native()
        .description("Dynamic task mapping of Rust tasks in a native dag")
        .tags(["rust", "native"])
        .task("numbers", numbers)
        .task_with_args(
            Task::new("square").map_index_template("x={x} {unit}"),
            [arg("x").expand_output_of("numbers"), arg("unit").value("m")],
            square,
        )
        .task_with_args(
            Task::new("scale").map_index_template("factor {factor}"),
            [
                arg("factor").expand([10, 100]),
                arg("base").output_of("numbers"),
            ],
            scale,
        )
        .task_with_args(
            "total",
            [
                arg("squares").output_of("square"),
                arg("scaled").output_of("scale"),
            ],
            total,
        )
}

#[cfg(test)]
mod tests {
    use airflow_sdk::testing::{RequestKind, TestRun, TestState};
    use airflow_sdk::{Bundle, XComRef};
    use serde_json::json;

    use super::*;

    fn bundle() -> Bundle {
        Bundle::new().queue("rust").dag(dag())
    }

    #[test]
    fn numbers_pushes_its_list_with_the_length_square_maps_over() {
        let out = TestRun::new("native_mapping", "numbers").run_in(&bundle());
        out.assert_success();
        let push = out.requests_of(RequestKind::SetXCom).next().unwrap();
        assert_eq!(push.body["value"], json!([2, 3, 4]));
        assert_eq!(push.body["mapped_length"], 3);
    }

    #[test]
    fn each_map_index_of_square_gets_its_element_and_label() {
        for (i, x) in [2, 3, 4].into_iter().enumerate() {
            let out = TestRun::new("native_mapping", "square")
                .map_index(u32::try_from(i).unwrap())
                .xcom("numbers", "return_value", json!([2, 3, 4]))
                .run_in(&bundle());
            out.assert_success();
            assert_eq!(out.return_value, Some(json!(format!("{} m2", x * x))));
            let label = out
                .requests_of(RequestKind::SetRenderedMapIndex)
                .next()
                .unwrap();
            assert_eq!(label.body["rendered_map_index"], format!("x={x} m"));
        }
        // Past the list: no such task instance, the task fails.
        let out = TestRun::new("native_mapping", "square")
            .map_index(3)
            .xcom("numbers", "return_value", json!([2, 3, 4]))
            .run_in(&bundle());
        assert_eq!(out.state, TestState::Failed);
    }

    #[test]
    fn the_bindings_airflow_sends_are_indexed_the_same_way() {
        // Schema 2026-10-30: Airflow hands every map index the task's serialized bindings
        // (the whole list); the runtime takes its element.
        let newer = Bundle::new()
            .queue("rust")
            .supervisor_schema(airflow_sdk::SchemaVersion::V2026_10_30)
            .dag(dag());
        let out = TestRun::new("native_mapping", "square")
            .map_index(2)
            .arg_from("x", "numbers")
            .arg("unit", json!("km"))
            .xcom("numbers", "return_value", json!([2, 3, 4]))
            .run_in(&newer);
        out.assert_success();
        assert_eq!(out.return_value, Some(json!("16 km2")));
        // An upstream output that is not a list cannot be mapped over.
        let out = TestRun::new("native_mapping", "square")
            .map_index(0)
            .xcom("numbers", "return_value", json!(7))
            .run_in(&bundle());
        assert_eq!(out.state, TestState::Failed);
        assert!(
            out.error
                .as_deref()
                .unwrap_or_default()
                .contains("not a list"),
            "{:?}",
            out.error
        );
    }

    #[test]
    fn scale_maps_over_a_literal_list_with_an_output_as_partial() {
        let out = TestRun::new("native_mapping", "scale")
            .map_index(1)
            .xcom("numbers", "return_value", json!([2, 3, 4]))
            .run_in(&bundle());
        out.assert_success();
        assert_eq!(out.return_value, Some(json!(900)));
    }

    #[test]
    fn total_reduces_the_outputs_of_every_map_index() {
        let at = |task: &str, i: i64| XComRef::new("native_mapping", "r", task).map_index(i);
        let out = TestRun::new("native_mapping", "total")
            .run_id("r")
            .xcom_at(&at("square", 1), json!("9 m2"))
            .xcom_at(&at("square", 0), json!("4 m2"))
            .xcom_at(&at("square", 2), json!("16 m2"))
            .xcom_at(&at("scale", 0), json!(90))
            .xcom_at(&at("scale", 1), json!(900))
            .run_in(&bundle());
        out.assert_success();
        assert_eq!(
            out.return_value,
            Some(json!("squares 4 m2, 9 m2, 16 m2; scaled sum 990"))
        );
        assert_eq!(
            out.requests_of(RequestKind::GetXComSequenceSlice).count(),
            2
        );
    }
}
