//! Typed task arguments: the stub's bindings (literals and upstream outputs) resolved and
//! converted to the function's parameter types.

use serde::de::DeserializeOwned;

use airflow_bundle::declare::ArgSource;

use super::{RequestError, TaskContext};
use crate::TaskError;
use crate::runtime::messages::{ArgBinding, Json};

/// The binding of argument `name` that a native task declares with `source`, as Airflow would
/// hand it over.
pub(crate) fn binding(name: &str, source: &ArgSource) -> ArgBinding {
    match source {
        ArgSource::Output { task_id } => ArgBinding::XCom {
            name: name.to_owned(),
            task_id: task_id.clone(),
        },
        ArgSource::Literal { value } => ArgBinding::Literal {
            name: name.to_owned(),
            value: Json(value.clone()),
            from_default: false,
        },
        // A mapped argument is bound to the whole list; each map index takes its element.
        ArgSource::ExpandOutput { task_id } => ArgBinding::XCom {
            name: name.to_owned(),
            task_id: task_id.clone(),
        },
        ArgSource::ExpandValues { values } => ArgBinding::Literal {
            name: name.to_owned(),
            value: Json(serde_json::Value::Array(values.clone())),
            from_default: false,
        },
    }
}

/// What dynamic task mapping asks of a running task, from its dag's declarations.
#[derive(Debug, Clone, Default)]
pub(crate) struct MapPlan {
    /// The dag's mapped tasks: an argument taking the output of one gets the list of what all
    /// its task instances returned.
    pub(crate) mapped_tasks: Vec<String>,
    /// The mapped tasks that expand over this task's output (its return value must be a list,
    /// pushed with its length).
    pub(crate) mapped_over_by: Vec<String>,
}

/// The position in the list of each expanded argument `expanded` (in declaration order, with
/// the lists' `lengths`) for map index `map_index`: Airflow's cross product, the last argument
/// varying fastest (`DictOfListsExpandInput._find_index_for_this_field`).
fn element_positions(lengths: &[usize], map_index: usize) -> Option<Vec<usize>> {
    let mut index = map_index;
    let mut out = vec![0; lengths.len()];
    for (i, len) in lengths.iter().enumerate().rev() {
        if *len == 0 {
            return None;
        }
        out[i] = index % len;
        index /= len;
    }
    // Past the last combination: Airflow created no such task instance.
    (index == 0).then_some(out)
}

/// Replaces each expanded argument's list by its element for `map_index`.
fn select_elements(
    task_id: &str,
    args: &mut [BoundArg],
    expanded: &[String],
    map_index: Option<u32>,
) -> Result<(), TaskError> {
    let picked: Vec<usize> = args
        .iter()
        .enumerate()
        .filter(|(_, a)| expanded.contains(&a.name))
        .map(|(i, _)| i)
        .collect();
    if picked.is_empty() {
        return Ok(());
    }
    let Some(map_index) = map_index else {
        return Err(TaskError::fail_no_retry(format!(
            "task {task_id:?} is mapped (it expands {expanded:?}) but runs without a map index"
        )));
    };
    let mut lengths = Vec::with_capacity(picked.len());
    for &i in &picked {
        let a = &args[i];
        match &a.value {
            serde_json::Value::Array(items) => lengths.push(items.len()),
            other => {
                return Err(TaskError::fail_no_retry(format!(
                    "argument `{}` of task {task_id:?} is mapped over {}, which is not a list: {}",
                    a.name,
                    a.source,
                    preview(other)
                )));
            }
        }
    }
    let positions = element_positions(&lengths, map_index as usize).ok_or_else(|| {
        TaskError::fail_no_retry(format!(
            "map index {map_index} of task {task_id:?} is past the {} combinations of its mapped              arguments (lists of {lengths:?} elements)",
            lengths.iter().product::<usize>()
        ))
    })?;
    for (&i, pos) in picked.iter().zip(positions) {
        let a = &mut args[i];
        let value = std::mem::take(&mut a.value);
        if let serde_json::Value::Array(mut items) = value {
            a.value = items.swap_remove(pos);
        }
        a.source = format!("element {pos} of {}", a.source);
    }
    Ok(())
}

/// `template` with each `{name}` replaced by argument `name`'s value (strings unquoted); other
/// text, and names of no argument, are kept as written.
pub(crate) fn render_map_index(template: &str, args: &[BoundArg]) -> String {
    let mut out = template.to_owned();
    for a in args {
        let text = match &a.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{}}}", a.name), &text);
    }
    out
}

/// One argument value bound to a typed task parameter, with where it came from (for messages).
#[doc(hidden)]
#[derive(Debug)]
pub struct BoundArg {
    task_id: String,
    name: String,
    source: String,
    value: serde_json::Value,
}

impl BoundArg {
    /// Converts the value to the parameter's type, or fails the task (no retry: the same value
    /// arrives again) naming the parameter, the type and what arrived.
    pub(crate) fn convert<A: DeserializeOwned>(self) -> Result<A, TaskError> {
        let BoundArg {
            task_id,
            name,
            source,
            value,
        } = self;
        A::deserialize(&value).map_err(|e| {
            TaskError::fail_no_retry(format!(
                "argument `{name}` of task {task_id:?} does not fit the parameter's type `{}`: \
                 {e}; it arrived from {source} as {}",
                std::any::type_name::<A>(),
                preview(&value)
            ))
        })
    }
}

/// A value as short JSON, for error messages.
fn preview(value: &serde_json::Value) -> String {
    const MAX: usize = 200;
    let text = value.to_string();
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// Binds parameters `names` of task `task_id` from the stub's `bindings`; `pull` fetches an
/// upstream task's output (all of a mapped one's).
fn bind(
    task_id: &str,
    names: &[String],
    bindings: Option<&[ArgBinding]>,
    mut pull: impl FnMut(&str) -> Result<serde_json::Value, RequestError>,
) -> Result<Vec<BoundArg>, TaskError> {
    {
        let wanted = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let Some(bindings) = bindings else {
            return Err(TaskError::fail_no_retry(format!(
                "task {task_id:?} takes arguments {wanted}, but Airflow sent no argument \
                 bindings: call the @task.stub with them in the dag file (e.g. \
                 {task_id}(upstream(), name=\"value\")), run on Airflow 3.4 or later, and \
                 declare supervisor schema 2026-10-30"
            )));
        };
        let binding_name = |b: &ArgBinding| match b {
            ArgBinding::XCom { name, .. } | ArgBinding::Literal { name, .. } => name.clone(),
        };
        for extra in bindings
            .iter()
            .filter(|b| !names.contains(&binding_name(b)))
        {
            log::warn!(target: "airflow_sdk::runtime", argument = binding_name(extra).as_str();
                "the stub binds argument `{}`, which task {task_id:?} does not take; ignored",
                binding_name(extra));
        }
        let mut args = Vec::with_capacity(names.len());
        for name in names {
            let Some(binding) = bindings.iter().find(|b| &binding_name(b) == name) else {
                let given = bindings
                    .iter()
                    .map(|b| format!("`{}`", binding_name(b)))
                    .collect::<Vec<_>>();
                let given = if given.is_empty() {
                    "none".to_owned()
                } else {
                    given.join(", ")
                };
                return Err(TaskError::fail_no_retry(format!(
                    "argument `{name}` of task {task_id:?} has no binding: the stub binds \
                     {given}; name the stub's parameter `{name}` and pass it a value"
                )));
            };
            let (source, value) = match binding {
                ArgBinding::Literal {
                    value,
                    from_default,
                    ..
                } => (
                    if *from_default {
                        "the stub's default".to_owned()
                    } else {
                        "a literal in the dag file".to_owned()
                    },
                    value.0.clone(),
                ),
                ArgBinding::XCom {
                    task_id: upstream, ..
                } => {
                    let value = pull(upstream).map_err(|e| {
                        TaskError::fail(format!(
                            "cannot pull argument `{name}` (the output of task {upstream:?}): {e}"
                        ))
                    })?;
                    (format!("the output of task {upstream:?}"), value)
                }
            };
            args.push(BoundArg {
                task_id: task_id.to_owned(),
                name: name.clone(),
                source,
                value,
            });
        }
        Ok(args)
    }
}

/// # Typed arguments
impl TaskContext {
    /// The values of a typed task's parameters `names` (in that order), from the argument
    /// bindings Airflow sent, else from `declared` (a native task's own): literals as they are,
    /// upstream outputs pulled as XComs.
    pub(crate) fn bind_arguments(
        &self,
        task_id: &str,
        names: &[String],
        declared: Option<&[ArgBinding]>,
        expanded: &[String],
    ) -> Result<Vec<BoundArg>, TaskError> {
        let sent = self.details.ti_context.arg_bindings.as_deref();
        if declared.is_some() {
            // A native task: say which copy of its bindings it runs with.
            let from = if sent.is_some() {
                "the bindings Airflow sent (serialized with the dag)"
            } else {
                "the bundle's declaration (Airflow sent none: supervisor schema 2026-06-16)"
            };
            log::info!(target: "airflow_sdk::runtime", "binding arguments {names:?} from {from}");
        }
        let mut args = bind(task_id, names, sent.or(declared), |upstream| {
            if self.mapping.mapped_tasks.iter().any(|t| t == upstream) {
                self.pull_mapped_outputs(upstream)
            } else {
                self.xcom_pull_json(upstream, "return_value")
            }
        })?;
        select_elements(task_id, &mut args, expanded, self.map_index())?;
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    fn literal(name: &str, value: serde_json::Value) -> ArgBinding {
        ArgBinding::Literal {
            name: name.into(),
            value: Json(value),
            from_default: false,
        }
    }

    #[derive(Debug, serde::Deserialize)]
    struct Totals {
        #[allow(dead_code)]
        rows: u64,
    }

    #[test]
    fn binding_errors_name_the_parameter_and_what_arrived() {
        let none = |_: &str| -> Result<serde_json::Value, RequestError> { unreachable!() };
        // No bindings at all (2026-06-16, or a stub called without arguments).
        let e = bind("load", &names(&["totals"]), None, none).unwrap_err();
        assert!(e.to_string().contains("no argument bindings"), "{e}");
        assert_eq!(e.outcome(), crate::TaskOutcome::FailedNoRetry);
        // A parameter the stub does not bind.
        let b = [literal("table", serde_json::json!("t1"))];
        let e = bind("load", &names(&["totals", "table"]), Some(&b), none).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("argument `totals`"), "{text}");
        assert!(text.contains("binds `table`"), "{text}");
        // A value of the wrong type: parameter, type and value named.
        let b = [ArgBinding::XCom {
            name: "totals".into(),
            task_id: "transform".into(),
        }];
        let args = bind("load", &names(&["totals"]), Some(&b), |up| {
            assert_eq!(up, "transform");
            Ok(serde_json::json!({"rows": "many"}))
        })
        .unwrap();
        let e = args
            .into_iter()
            .next()
            .unwrap()
            .convert::<Totals>()
            .unwrap_err();
        let text = e.to_string();
        assert_eq!(e.outcome(), crate::TaskOutcome::FailedNoRetry);
        for needle in ["`totals`", "Totals", "\"transform\"", r#"{"rows":"many"}"#] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        // Literal values, by name, in the function's order; Option takes a missing output.
        let b = [
            literal("table", serde_json::json!("t1")),
            ArgBinding::XCom {
                name: "totals".into(),
                task_id: "transform".into(),
            },
        ];
        let mut args = bind("load", &names(&["totals", "table"]), Some(&b), |_| {
            Ok(serde_json::Value::Null)
        })
        .unwrap()
        .into_iter();
        assert!(
            args.next()
                .unwrap()
                .convert::<Option<Totals>>()
                .unwrap()
                .is_none()
        );
        assert_eq!(args.next().unwrap().convert::<String>().unwrap(), "t1");
    }

    #[test]
    fn mapped_arguments_take_their_element_the_last_varying_fastest() {
        // Airflow's cross product: x (2 elements) then y (3): index 4 is x[1], y[1].
        assert_eq!(element_positions(&[2, 3], 4), Some(vec![1, 1]));
        assert_eq!(element_positions(&[2, 3], 2), Some(vec![0, 2]));
        assert_eq!(element_positions(&[2, 3], 6), None);
        assert_eq!(element_positions(&[0], 0), None);
        let arg = |name: &str, value: serde_json::Value| BoundArg {
            task_id: "t".into(),
            name: name.into(),
            source: "a literal in the dag file".into(),
            value,
        };
        let mut args = vec![
            arg("x", serde_json::json!([1, 2])),
            arg("unit", serde_json::json!("m")),
        ];
        select_elements("t", &mut args, &names(&["x"]), Some(1)).unwrap();
        assert_eq!(args[0].value, serde_json::json!(2));
        assert_eq!(args[1].value, serde_json::json!("m"));
        assert_eq!(
            render_map_index("x={x} {unit} {other}", &args),
            "x=2 m {other}"
        );
        // Not a list, or no map index: the task fails without retrying.
        let mut args = vec![arg("x", serde_json::json!({"a": 1}))];
        let e = select_elements("t", &mut args, &names(&["x"]), Some(0)).unwrap_err();
        assert!(e.to_string().contains("not a list"), "{e}");
        let mut args = vec![arg("x", serde_json::json!([1]))];
        let e = select_elements("t", &mut args, &names(&["x"]), None).unwrap_err();
        assert!(e.to_string().contains("without a map index"), "{e}");
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = serde_json::Value::String("é".repeat(300));
        let p = preview(&long);
        assert!(p.len() < 260, "{p}");
        assert!(p.ends_with("bytes)"), "{p}");
    }
}
