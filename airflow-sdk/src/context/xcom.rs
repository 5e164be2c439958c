//! XComs: pushed and pulled in this run, of any dag, run, task and map index, counted; and the
//! XComs an earlier try left, cleared before the task runs.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{RequestError, TaskContext, from_json, unexpected};
use crate::TaskError;
use crate::runtime::messages::{
    GetXCom, GetXComCount, GetXComSequenceSlice, Reply, ToSupervisor, ToTask,
};

/// Where an XCom lives: dag, run, task, key and (for a mapped task) map index.
///
/// ```no_run
/// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
/// use airflow_sdk::XComRef;
/// // The `rows` XCom that `load` pushed in another dag's run, map index 2.
/// let r = XComRef::new("other_dag", "manual__2026-01-01", "load").key("rows").map_index(2);
/// let rows: Option<u64> = ctx.xcom_pull_from(&r)?;
/// let how_many = ctx.xcom_count(&XComRef::new("other_dag", "manual__2026-01-01", "load"))?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct XComRef {
    dag_id: String,
    run_id: String,
    task_id: String,
    key: String,
    map_index: Option<i64>,
}

impl XComRef {
    /// The `return_value` XCom of `task_id` in run `run_id` of `dag_id`, unmapped: a pull reads
    /// map index -1, as Airflow's Execution API does when no map index is given, so it finds
    /// nothing for a mapped task. Name one index with [`XComRef::map_index`];
    /// [`TaskContext::xcom_count`](crate::TaskContext::xcom_count) counts every index.
    pub fn new(dag_id: &str, run_id: &str, task_id: &str) -> Self {
        XComRef {
            dag_id: dag_id.to_owned(),
            run_id: run_id.to_owned(),
            task_id: task_id.to_owned(),
            key: "return_value".to_owned(),
            map_index: None,
        }
    }

    /// Another key than `return_value`.
    pub fn key(mut self, key: &str) -> Self {
        self.key = key.to_owned();
        self
    }

    /// One map index of a mapped task. `-1` (or any negative index: Airflow's client sends
    /// only indexes from 0) names the unmapped value, as without this call.
    pub fn map_index(mut self, map_index: i64) -> Self {
        self.map_index = Some(map_index);
        self
    }

    /// Dag, run, task, key and map index.
    #[cfg(feature = "testing")]
    pub(crate) fn parts(&self) -> (&str, &str, &str, &str, Option<i64>) {
        (
            &self.dag_id,
            &self.run_id,
            &self.task_id,
            &self.key,
            self.map_index,
        )
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "{}/{}/{} {:?}",
            self.dag_id, self.run_id, self.task_id, self.key
        );
        if let Some(i) = self.map_index {
            s.push_str(&format!(" map_index {i}"));
        }
        s
    }
}

/// # XComs
impl TaskContext {
    /// Pushes an XCom from this task instance. `value` is any `serde` value that maps to JSON.
    pub fn xcom_push<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), RequestError> {
        let json = serde_json::to_value(value).map_err(|e| RequestError::Value {
            what: format!("XCom {key:?}"),
            problem: format!("cannot be serialized: {e}"),
        })?;
        self.push_json(key, &json)
    }

    pub(crate) fn push_json(
        &self,
        key: &str,
        json: &serde_json::Value,
    ) -> Result<(), RequestError> {
        let message = ToSupervisor::set_xcom(&self.details.ti, key, json.clone());
        let what = format!("SetXCom {key:?}");
        match self.request(&what, message)? {
            Reply::Ack => Ok(()),
            other => Err(unexpected(&what, other)),
        }
    }

    /// Pushes what the task returned as its `return_value` XCom (nothing for null). When a
    /// mapped task expands over it, it must be a list, pushed with its length (Airflow's
    /// scheduler creates that many task instances from it), as Python's task runner does.
    pub(crate) fn push_return_value(&self, value: &serde_json::Value) -> Result<(), TaskError> {
        let mappers = &self.mapping.mapped_over_by;
        let mapped_length = match value {
            _ if mappers.is_empty() || self.map_index().is_some() => None,
            serde_json::Value::Array(items) => Some(i64::try_from(items.len()).unwrap_or(i64::MAX)),
            serde_json::Value::Null => {
                return Err(TaskError::fail(format!(
                    "the task returned nothing, but {mappers:?} map over its output: return a                      list (an empty one creates no task instances)"
                )));
            }
            other => {
                return Err(TaskError::fail_no_retry(format!(
                    "{mappers:?} map over this task's output, which must be a list, but it                      returned {}",
                    json_kind(other)
                )));
            }
        };
        if value.is_null() {
            return Ok(());
        }
        let mut message = ToSupervisor::set_xcom(&self.details.ti, "return_value", value.clone());
        if let ToSupervisor::SetXCom(m) = &mut message {
            m.mapped_length = mapped_length;
        }
        let what = "SetXCom \"return_value\"";
        match self.request(what, message) {
            Ok(Reply::Ack) => Ok(()),
            Ok(other) => Err(unexpected(what, other)),
            Err(e) => Err(e),
        }
        .map_err(|e| TaskError::fail(format!("cannot push the return value as XCom: {e}")))
    }

    /// The `return_value` of every task instance of mapped task `task_id` in this dag run, in
    /// map index order (those that returned nothing are left out, as in Python's lazy
    /// sequence).
    pub(crate) fn pull_mapped_outputs(
        &self,
        task_id: &str,
    ) -> Result<serde_json::Value, RequestError> {
        let what = format!("GetXComSequenceSlice {task_id:?} \"return_value\"");
        let ti = &self.details.ti;
        let message = ToSupervisor::GetXComSequenceSlice(GetXComSequenceSlice {
            key: "return_value".to_owned(),
            dag_id: ti.dag_id.clone(),
            run_id: ti.run_id.clone(),
            task_id: task_id.to_owned(),
            start: None,
            stop: None,
            step: None,
        });
        match self.request(&what, message)? {
            Reply::Body(ToTask::XComSequenceSliceResult(r)) => Ok(serde_json::Value::Array(
                r.root.into_iter().map(|v| v.0).collect(),
            )),
            Reply::ErrorBody(e) if e.error.ends_with("_NOT_FOUND") => {
                Ok(serde_json::Value::Array(Vec::new()))
            }
            other => Err(unexpected(&what, other)),
        }
    }

    /// Deletes this task instance's XCom `key` (before the task runs, for keys a previous try
    /// left behind).
    pub(crate) fn delete_xcom(&self, key: &str) -> Result<(), RequestError> {
        let what = format!("DeleteXCom {key:?}");
        match self.request(&what, ToSupervisor::delete_xcom(&self.details.ti, key))? {
            Reply::Ack => Ok(()),
            other => Err(unexpected(&what, other)),
        }
    }

    /// The XCom keys Airflow asked to clear before the task runs.
    pub(crate) fn xcom_keys_to_clear(&self) -> Vec<String> {
        self.details
            .ti_context
            .xcom_keys_to_clear
            .clone()
            .unwrap_or_default()
    }

    /// Pulls the XCom `key` pushed by `task_id` in this dag run (`return_value` is a task's
    /// returned value). `Ok(None)` when there is none.
    pub fn xcom_pull<T: DeserializeOwned>(
        &self,
        task_id: &str,
        key: &str,
    ) -> Result<Option<T>, RequestError> {
        match self.xcom_pull_json(task_id, key)? {
            serde_json::Value::Null => Ok(None),
            v => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| RequestError::Value {
                    what: format!("XCom {key:?} of task {task_id:?}"),
                    problem: format!("does not have the expected type: {e}"),
                }),
        }
    }

    /// The XCom `key` of `task_id` as JSON; `Null` when there is none.
    pub(crate) fn xcom_pull_json(
        &self,
        task_id: &str,
        key: &str,
    ) -> Result<serde_json::Value, RequestError> {
        let what = format!("GetXCom {task_id:?} {key:?}");
        match self.request(
            &what,
            ToSupervisor::get_xcom(&self.details.ti, task_id, key),
        )? {
            Reply::Body(ToTask::XComResult(r)) => Ok(r.value.0),
            Reply::ErrorBody(e) if e.error.ends_with("_NOT_FOUND") => Ok(serde_json::Value::Null),
            other => Err(unexpected(&what, other)),
        }
    }

    /// Pulls an XCom of any dag, run, task and map index. `Ok(None)` when there is none.
    pub fn xcom_pull_from<T: DeserializeOwned>(
        &self,
        xcom: &XComRef,
    ) -> Result<Option<T>, RequestError> {
        let what = format!("GetXCom {}", xcom.describe());
        let message = ToSupervisor::GetXCom(GetXCom {
            key: xcom.key.clone(),
            dag_id: xcom.dag_id.clone(),
            run_id: xcom.run_id.clone(),
            task_id: xcom.task_id.clone(),
            map_index: xcom.map_index,
            include_prior_dates: false,
        });
        match self.request(&what, message)? {
            Reply::Body(ToTask::XComResult(r)) if r.value.0.is_null() => Ok(None),
            Reply::Body(ToTask::XComResult(r)) => from_json(&what, r.value.0).map(Some),
            Reply::ErrorBody(e) if e.error.ends_with("_NOT_FOUND") => Ok(None),
            other => Err(unexpected(&what, other)),
        }
    }

    /// How many values the XCom has (one per map index of a mapped task; 0 when none). The
    /// map index of `xcom` is not used.
    pub fn xcom_count(&self, xcom: &XComRef) -> Result<u64, RequestError> {
        let what = format!("GetXComCount {}", xcom.describe());
        let message = ToSupervisor::GetXComCount(GetXComCount {
            key: xcom.key.clone(),
            dag_id: xcom.dag_id.clone(),
            run_id: xcom.run_id.clone(),
            task_id: xcom.task_id.clone(),
        });
        match self.request(&what, message)? {
            Reply::Body(ToTask::XComCountResponse(r)) => Ok(u64::try_from(r.len).unwrap_or(0)),
            Reply::ErrorBody(e) if e.error.ends_with("_NOT_FOUND") => Ok(0),
            other => Err(unexpected(&what, other)),
        }
    }
}

/// What kind of JSON value `v` is, for messages.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}
