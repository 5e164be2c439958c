//! Declaring a bundle: its dags and their tasks.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use airflow_bundle::{DagEntry, Metadata, Sdk};
use serde::Serialize;

use crate::{SchemaVersion, TaskContext, TaskError, TaskResult};

/// A task function with its return value erased to JSON (it becomes the `return_value` XCom).
pub(crate) type TaskFn =
    Arc<dyn Fn(&mut TaskContext) -> Result<serde_json::Value, TaskError> + Send + Sync>;

/// One declared task.
#[derive(Clone)]
pub(crate) struct Task {
    pub(crate) id: String,
    pub(crate) run: TaskFn,
}

/// A dag: an id and its tasks, in declaration order.
#[derive(Clone)]
pub struct Dag {
    id: String,
    pub(crate) tasks: Vec<Task>,
}

impl Dag {
    /// A dag with no tasks yet.
    pub fn new(id: impl Into<String>) -> Self {
        Dag {
            id: id.into(),
            tasks: Vec::new(),
        }
    }

    /// Adds a task. Its return value (any `serde` type) becomes the task's `return_value` XCom;
    /// `()` pushes nothing.
    pub fn task<T, F>(mut self, id: impl Into<String>, f: F) -> Self
    where
        T: Serialize,
        F: Fn(&mut TaskContext) -> TaskResult<T> + Send + Sync + 'static,
    {
        let run: TaskFn = Arc::new(move |ctx| {
            let value = f(ctx)?;
            serde_json::to_value(value).map_err(|e| {
                TaskError::fail_no_retry(format!(
                    "the task's return value cannot be serialized: {e}"
                ))
            })
        });
        self.tasks.push(Task { id: id.into(), run });
        self
    }

    /// The dag id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The task ids, in declaration order.
    pub fn task_ids(&self) -> impl Iterator<Item = &str> {
        self.tasks.iter().map(|t| t.id.as_str())
    }
}

impl fmt::Debug for Dag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dag")
            .field("id", &self.id)
            .field("tasks", &self.task_ids().collect::<Vec<_>>())
            .finish()
    }
}

/// Everything a bundle binary holds: its dags, and the supervisor schema version it declares.
#[derive(Clone, Debug, Default)]
pub struct Bundle {
    pub(crate) dags: Vec<Dag>,
    pub(crate) schema: SchemaVersion,
}

/// One thing wrong with a bundle's declarations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclarationProblem {
    /// Two dags share an id.
    DuplicateDag(String),
    /// Two tasks of one dag share an id.
    DuplicateTask {
        /// The dag.
        dag_id: String,
        /// The repeated task id.
        task_id: String,
    },
}

/// The bundle's declarations are inconsistent; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the bundle's declarations are invalid: {}", self.describe())]
pub struct DeclarationError {
    /// Each problem found.
    pub problems: Vec<DeclarationProblem>,
}

impl DeclarationError {
    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .problems
            .iter()
            .map(|p| match p {
                DeclarationProblem::DuplicateDag(d) => {
                    format!("dag id {d:?} is declared more than once")
                }
                DeclarationProblem::DuplicateTask { dag_id, task_id } => {
                    format!("task id {task_id:?} is declared more than once in dag {dag_id:?}")
                }
            })
            .collect();
        parts.join("; ")
    }
}

impl Bundle {
    /// An empty bundle.
    pub fn new() -> Self {
        Bundle::default()
    }

    /// Chooses the supervisor schema version the bundle declares in its manifest and its runtime
    /// speaks. The default, [`SchemaVersion::V2026_06_16`], runs on Airflow 3.3 and 3.4;
    /// [`SchemaVersion::V2026_10_30`] runs on Airflow 3.4 only and is needed for typed task
    /// arguments ([`Dag::task_with_args`]).
    pub fn supervisor_schema(mut self, version: SchemaVersion) -> Self {
        self.schema = version;
        self
    }

    /// The supervisor schema version the bundle declares.
    pub fn schema_version(&self) -> SchemaVersion {
        self.schema
    }

    /// Adds a dag.
    pub fn dag(mut self, dag: Dag) -> Self {
        self.dags.push(dag);
        self
    }

    /// The declared dags, in declaration order.
    pub fn dags(&self) -> &[Dag] {
        &self.dags
    }

    /// Checks the declarations: dag ids unique, task ids unique within their dag.
    pub fn validate(&self) -> Result<(), DeclarationError> {
        let mut problems = Vec::new();
        let mut dags = HashSet::new();
        for dag in &self.dags {
            if !dags.insert(dag.id.as_str())
                && !problems.contains(&DeclarationProblem::DuplicateDag(dag.id.clone()))
            {
                problems.push(DeclarationProblem::DuplicateDag(dag.id.clone()));
            }
            let mut tasks = HashSet::new();
            for task in &dag.tasks {
                let p = DeclarationProblem::DuplicateTask {
                    dag_id: dag.id.clone(),
                    task_id: task.id.clone(),
                };
                if !tasks.insert(task.id.as_str()) && !problems.contains(&p) {
                    problems.push(p);
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DeclarationError { problems })
        }
    }

    /// What `--airflow-metadata` prints: the manifest without `source`.
    pub fn metadata(&self) -> Result<Metadata, DeclarationError> {
        self.validate()?;
        let dags: BTreeMap<String, DagEntry> = self
            .dags
            .iter()
            .map(|d| {
                (
                    d.id.clone(),
                    DagEntry {
                        tasks: d.task_ids().map(str::to_owned).collect(),
                    },
                )
            })
            .collect();
        Ok(Metadata {
            airflow_bundle_metadata_version: crate::METADATA_VERSION.to_owned(),
            sdk: Sdk {
                language: "rust".to_owned(),
                version: crate::VERSION.to_owned(),
                supervisor_schema_version: self.schema.as_str().to_owned(),
            },
            dags,
        })
    }

    /// The task `task_id` of dag `dag_id`, if declared.
    pub(crate) fn find_task(&self, dag_id: &str, task_id: &str) -> Option<&Task> {
        self.dags
            .iter()
            .find(|d| d.id == dag_id)?
            .tasks
            .iter()
            .find(|t| t.id == task_id)
    }

    /// The task ids of dag `dag_id`, in registration order; `None` when there is no such dag.
    pub(crate) fn task_ids(&self, dag_id: &str) -> Option<Vec<&str>> {
        let dag = self.dags.iter().find(|d| d.id == dag_id)?;
        Some(dag.task_ids().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_: &mut TaskContext) -> TaskResult {
        Ok(())
    }

    #[test]
    fn metadata_sorts_dags_and_keeps_task_order() {
        let b = Bundle::new()
            .dag(
                Dag::new("zeta")
                    .task("transform", noop)
                    .task("extract", noop),
            )
            .dag(Dag::new("alpha").task("x", noop));
        let m = b.metadata().unwrap();
        assert_eq!(m.dags.keys().collect::<Vec<_>>(), ["alpha", "zeta"]);
        assert_eq!(m.dags["zeta"].tasks, ["transform", "extract"]);
        assert_eq!(m.sdk.language, "rust");
        assert_eq!(m.sdk.supervisor_schema_version, "2026-06-16");
    }

    #[test]
    fn duplicates_are_named() {
        let b = Bundle::new()
            .dag(
                Dag::new("d")
                    .task("t", noop)
                    .task("t", noop)
                    .task("t", noop),
            )
            .dag(Dag::new("d"))
            .dag(Dag::new("e").task("t", noop));
        let err = b.metadata().unwrap_err();
        assert_eq!(
            err.problems,
            vec![
                DeclarationProblem::DuplicateTask {
                    dag_id: "d".into(),
                    task_id: "t".into()
                },
                DeclarationProblem::DuplicateDag("d".into()),
            ]
        );
        let text = err.to_string();
        assert!(
            text.contains("task id \"t\" is declared more than once in dag \"d\""),
            "{text}"
        );
        assert!(
            text.contains("dag id \"d\" is declared more than once"),
            "{text}"
        );
    }
}
