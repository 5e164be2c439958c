//! What a running task can see and do.

/// The context handed to a task function: the task instance and dag run it runs as, and access
/// to XComs, Variables and Connections through Airflow's supervisor.
pub struct TaskContext {
    pub(crate) dag_id: String,
    pub(crate) task_id: String,
}

impl TaskContext {
    /// The id of the dag this task belongs to.
    pub fn dag_id(&self) -> &str {
        &self.dag_id
    }

    /// The id of this task.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }
}
