//! Native dags for Airflow 3.4: the declarations of each dag that opts in
//! ([`Dag::native`](crate::Dag::native)), serialized as Airflow's `DagSerialization` (schema
//! `__version` 3) expects them from a Lang-SDK runtime.
//!
//! Airflow fills in only a few Dag keys from its config and applies no `default_args` to tasks,
//! so every task carries its resolved settings and its queue (the worker picks the executable
//! coordinator by queue alone). `relative_fileloc` must be set: without it the Dag is accepted
//! but none of its tasks can start.

use std::path::Path;

use airflow_bundle::declare::{DagDeclaration, Schedule, TaskSettings, parse_utc};
use serde_json::{Map, Value, json};

/// The module name Airflow shows for these tasks; Airflow never imports it.
const TASK_MODULE: &str = "airflow.sdk.coordinators.executable";
/// The operator name the UI and REST API show.
const TASK_TYPE: &str = "RustTask";

/// `file` relative to `bundle_path`, or `file` unchanged when it is not inside it.
pub(crate) fn relative_fileloc(file: &str, bundle_path: &str) -> String {
    match Path::new(file).strip_prefix(bundle_path) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
        _ => file.to_owned(),
    }
}

/// A JSON value encoded as Airflow's `BaseSerialization` encodes it (dicts are wrapped).
fn encode(value: &Value) -> Value {
    match value {
        Value::Object(m) => json!({
            "__type": "dict",
            "__var": m.iter().map(|(k, v)| (k.clone(), encode(v))).collect::<Map<_, _>>(),
        }),
        Value::Array(items) => Value::Array(items.iter().map(encode).collect()),
        other => other.clone(),
    }
}

fn timetable(schedule: &Schedule) -> Value {
    match schedule {
        Schedule::None => json!({"__type": "airflow.timetables.simple.NullTimetable", "__var": {}}),
        Schedule::Once => json!({"__type": "airflow.timetables.simple.OnceTimetable", "__var": {}}),
        Schedule::Continuous => {
            json!({"__type": "airflow.timetables.simple.ContinuousTimetable", "__var": {}})
        }
        Schedule::Cron { timezone, .. } => json!({
            "__type": "airflow.timetables.trigger.CronTriggerTimetable",
            "__var": {
                "expression": schedule.cron_expression().unwrap_or_default(),
                "timezone": timezone,
                "interval": 0.0,
                "run_immediately": false,
            }
        }),
    }
}

/// Epoch seconds as the float Airflow's schema wants (dates were checked when declared).
fn epoch(date: &Option<String>) -> Option<Value> {
    date.as_deref()
        .and_then(parse_utc)
        .map(|s| Value::from(s as f64))
}

/// The settings as task keys; values equal to Airflow's defaults are written too (harmless, and
/// what was declared is what is seen).
fn put_settings(out: &mut Map<String, Value>, s: &TaskSettings) {
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(k.to_owned(), v);
        }
    };
    put("retries", s.retries.map(Value::from));
    put("retry_delay", s.retry_delay.map(Value::from));
    put(
        "retry_exponential_backoff",
        s.retry_exponential_backoff.map(Value::from),
    );
    put("max_retry_delay", s.max_retry_delay.map(Value::from));
    put("execution_timeout", s.execution_timeout.map(Value::from));
    put(
        "trigger_rule",
        s.trigger_rule.map(|r| Value::from(r.as_str())),
    );
    put("pool", s.pool.clone().map(Value::from));
    put("priority_weight", s.priority_weight.map(Value::from));
    put("queue", s.queue.clone().map(Value::from));
    put("owner", s.owner.clone().map(Value::from));
    put("doc_md", s.doc_md.clone().map(Value::from));
}

/// `default_args` for display: `BaseSerialization`-encoded, durations as `timedelta`.
fn default_args(s: &TaskSettings) -> Value {
    let mut plain = Map::new();
    put_settings(&mut plain, s);
    let var: Map<String, Value> = plain
        .into_iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                "retry_delay" | "max_retry_delay" | "execution_timeout" => {
                    json!({"__type": "timedelta", "__var": v})
                }
                _ => v,
            };
            (k, v)
        })
        .collect();
    json!({"__type": "dict", "__var": var})
}

/// The serialized Dag (`{"__version": 3, "dag": {...}}`) of `dag_id`.
pub(crate) fn serialize(
    dag_id: &str,
    decl: &DagDeclaration,
    fileloc: &str,
    relative_fileloc: &str,
) -> Value {
    let tasks: Vec<Value> = decl
        .tasks
        .iter()
        .map(|t| {
            let mut v = Map::new();
            v.insert("task_id".into(), Value::from(t.id.as_str()));
            v.insert("task_type".into(), Value::from(TASK_TYPE));
            v.insert("_task_module".into(), Value::from(TASK_MODULE));
            v.insert("language".into(), Value::from("rust"));
            v.insert("template_fields".into(), json!([]));
            v.insert("is_stub".into(), Value::from(true));
            put_settings(&mut v, &t.settings);
            if !t.downstream.is_empty() {
                v.insert("downstream_task_ids".into(), json!(t.downstream));
            }
            json!({"__type": "operator", "__var": v})
        })
        .collect();
    let params: Vec<Value> = decl
        .params
        .iter()
        .map(|p| {
            json!([p.name, {
                "__class": "airflow.sdk.definitions.param.Param",
                "default": encode(&p.default),
                "description": p.description,
                "schema": {"__type": "dict", "__var": {}},
            }])
        })
        .collect();
    let mut dag = Map::new();
    dag.insert("dag_id".into(), Value::from(dag_id));
    dag.insert("fileloc".into(), Value::from(fileloc));
    dag.insert("relative_fileloc".into(), Value::from(relative_fileloc));
    dag.insert("timezone".into(), Value::from("UTC"));
    dag.insert("timetable".into(), timetable(&decl.schedule));
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            dag.insert(k.to_owned(), v);
        }
    };
    put("start_date", epoch(&decl.start_date));
    put("end_date", epoch(&decl.end_date));
    put("catchup", decl.catchup.map(Value::from));
    put("description", decl.description.clone().map(Value::from));
    put("max_active_runs", decl.max_active_runs.map(Value::from));
    put("max_active_tasks", decl.max_active_tasks.map(Value::from));
    put("dagrun_timeout", decl.dagrun_timeout.map(Value::from));
    if !decl.tags.is_empty() {
        // Airflow keeps tags as a set: sorted here so the output never depends on order.
        let mut tags = decl.tags.clone();
        tags.sort();
        put("tags", Some(json!(tags)));
    }
    if !decl.default_task.is_empty() {
        put("default_args", Some(default_args(&decl.default_task)));
    }
    put("params", Some(Value::Array(params)));
    put("tasks", Some(Value::Array(tasks)));
    put("dag_dependencies", Some(json!([])));
    put("edge_info", Some(json!({})));
    put("deadline", Some(Value::Null));
    put("allowed_run_types", Some(Value::Null));
    json!({"__version": 3, "dag": dag})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bundle, Dag, Schedule, Task, TaskContext, TaskResult, TaskSettings};
    use std::time::Duration;

    fn noop(_: &mut TaskContext) -> TaskResult {
        Ok(())
    }

    #[test]
    fn relative_fileloc_is_relative_to_the_bundle_root() {
        assert_eq!(relative_fileloc("/b/etl", "/b"), "etl");
        assert_eq!(relative_fileloc("/b/sub/etl", "/b/"), "sub/etl");
        assert_eq!(relative_fileloc("/elsewhere/etl", "/b"), "/elsewhere/etl");
    }

    #[test]
    fn defaults_are_copied_onto_each_task_and_the_queue_is_routed() {
        let b = Bundle::new().queue("rust").dag(
            Dag::new("etl")
                .native()
                .schedule(Schedule::cron("@daily").timezone("Europe/Paris"))
                .start_date("2026-01-01")
                .catchup(true)
                .tags(["z", "a", "z"])
                .param("region", serde_json::json!({"name": "eu"}))
                .default_task(
                    TaskSettings::new()
                        .retries(2)
                        .retry_delay(Duration::from_secs(5)),
                )
                .task("a", noop)
                .task(Task::new("b").retries(0), noop)
                .chain(["a", "b"]),
        );
        let m = b.metadata().unwrap();
        let decl = m.dags["etl"].declared.as_ref().unwrap();
        let v = serialize("etl", decl, "/b/etl", "etl");
        let dag = &v["dag"];
        assert_eq!(v["__version"], 3);
        assert_eq!(dag["relative_fileloc"], "etl");
        assert_eq!(dag["start_date"], 1_767_225_600.0);
        assert_eq!(dag["tags"], json!(["a", "z"]));
        assert_eq!(dag["timetable"]["__var"]["expression"], "0 0 * * *");
        assert_eq!(dag["timetable"]["__var"]["timezone"], "Europe/Paris");
        let a = &dag["tasks"][0]["__var"];
        let b = &dag["tasks"][1]["__var"];
        assert_eq!((&a["retries"], &a["retry_delay"]), (&json!(2), &json!(5.0)));
        assert_eq!(
            b["retries"], 0,
            "a task's own setting wins over the default"
        );
        assert_eq!((&a["queue"], &b["queue"]), (&json!("rust"), &json!("rust")));
        assert_eq!(a["downstream_task_ids"], json!(["b"]));
        assert!(b.get("downstream_task_ids").is_none());
        assert_eq!(
            dag["params"][0][1]["default"],
            json!({"__type": "dict", "__var": {"name": "eu"}})
        );
        assert_eq!(
            dag["default_args"]["__var"]["retry_delay"],
            json!({"__type": "timedelta", "__var": 5.0})
        );
    }

    #[test]
    fn a_native_dag_needs_a_routed_queue() {
        let b = Bundle::new().dag(Dag::new("etl").native().task("a", noop));
        let err = b.validate().unwrap_err().to_string();
        assert!(
            err.contains("task \"a\" of dag \"etl\" has no queue routed"),
            "{err}"
        );
        // Not native: Python stubs may route it themselves.
        assert!(
            Bundle::new()
                .dag(Dag::new("etl").task("a", noop))
                .validate()
                .is_ok()
        );
    }
}
