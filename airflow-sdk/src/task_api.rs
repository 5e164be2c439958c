//! The rest of what a task can ask of Airflow: Variables written, XComs of any run, the task
//! state store, branching, triggering dags, run history, what the UI shows, assets and secrets.
//! Each method is one request (or a few) to the supervisor; see [`TaskContext`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::TaskContext;
use crate::context::{RequestError, unexpected};
use crate::runtime::messages::{
    self, AssetEventRecord, AssetProfile, AssetResult, DagRunKey, DagRunRecord, DeleteVariable,
    DrFilter, GetAssetByName, GetAssetByUri, GetAssetEventByAsset, GetPreviousDagRun, GetXCom,
    GetXComCount, MaskSecret, PutVariable, Reply, SetRenderedFields, SetRenderedMapIndex,
    SetTaskStateStore, SkipDownstreamTasks, TaskStateKey, TiFilter, TiOnly, ToSupervisor, ToTask,
    TriggerDagRun,
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

/// The task state store of this task instance: small JSON values kept by Airflow per task
/// instance (dag, run, task, map index), across tries. A resumable task records its progress
/// there and picks up where the previous try stopped.
///
/// ```no_run
/// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
/// let store = ctx.state_store();
/// let done: u64 = store.get("done")?.unwrap_or(0);
/// for page in done..10 {
///     // ... process page ...
///     store.set("done", &(page + 1))?;
/// }
/// store.clear()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct StateStore<'a> {
    ctx: &'a TaskContext,
}

impl StateStore<'_> {
    /// The value under `key`; `Ok(None)` when there is none.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, RequestError> {
        let what = format!("GetTaskStateStore {key:?}");
        let message = ToSupervisor::GetTaskStateStore(TaskStateKey {
            ti_id: self.ctx.ti_id().to_owned(),
            key: key.to_owned(),
        });
        match self.ctx.request(&what, message)? {
            Reply::Body(ToTask::TaskStateStoreResult(r)) if r.value.0.is_null() => Ok(None),
            Reply::Body(ToTask::TaskStateStoreResult(r)) => from_json(&what, r.value.0).map(Some),
            Reply::ErrorBody(e) if e.error.ends_with("NOT_FOUND") => Ok(None),
            other => Err(unexpected(&what, other)),
        }
    }

    /// Stores `value` under `key`, kept until deleted or cleared.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), RequestError> {
        self.put(key, value, None)
    }

    /// Stores `value` under `key`; Airflow may drop it once `retention` has passed.
    pub fn set_with_retention<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        retention: Duration,
    ) -> Result<(), RequestError> {
        let at = OffsetDateTime::now_utc() + retention;
        self.put(key, value, Some(messages::format_time(at)))
    }

    fn put<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        expires_at: Option<String>,
    ) -> Result<(), RequestError> {
        let what = format!("SetTaskStateStore {key:?}");
        let value = to_json(&what, value)?;
        let message = ToSupervisor::SetTaskStateStore(SetTaskStateStore {
            ti_id: self.ctx.ti_id().to_owned(),
            key: key.to_owned(),
            value,
            expires_at,
        });
        expect_ok(self.ctx, &what, message)
    }

    /// Deletes `key` (no error when it is not there).
    pub fn delete(&self, key: &str) -> Result<(), RequestError> {
        let what = format!("DeleteTaskStateStore {key:?}");
        let message = ToSupervisor::DeleteTaskStateStore(TaskStateKey {
            ti_id: self.ctx.ti_id().to_owned(),
            key: key.to_owned(),
        });
        expect_ok(self.ctx, &what, message)
    }

    /// Deletes every key of this task instance.
    pub fn clear(&self) -> Result<(), RequestError> {
        let message = ToSupervisor::ClearTaskStateStore(TiOnly {
            ti_id: self.ctx.ti_id().to_owned(),
        });
        expect_ok(self.ctx, "ClearTaskStateStore", message)
    }
}

/// How to trigger a dag run ([`TaskContext::trigger_dag`]).
///
/// ```no_run
/// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
/// use airflow_sdk::TriggerOptions;
/// let run_id = ctx.trigger_dag(
///     "report",
///     &TriggerOptions::new().conf(serde_json::json!({"day": "2026-01-01"})),
/// )?;
/// let state = ctx.wait_dag_run("report", &run_id, std::time::Duration::from_secs(2), None)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct TriggerOptions {
    run_id: Option<String>,
    conf: Option<serde_json::Value>,
    logical_date: Option<OffsetDateTime>,
    reset: bool,
    note: Option<String>,
}

impl TriggerOptions {
    /// A run with a generated id, no conf and no logical date.
    pub fn new() -> Self {
        TriggerOptions::default()
    }

    /// The run id (default `manual__<now>`).
    pub fn run_id(mut self, run_id: &str) -> Self {
        self.run_id = Some(run_id.to_owned());
        self
    }

    /// The run's `conf` (a JSON object).
    pub fn conf(mut self, conf: serde_json::Value) -> Self {
        self.conf = Some(conf);
        self
    }

    /// The run's logical date.
    pub fn logical_date(mut self, date: OffsetDateTime) -> Self {
        self.logical_date = Some(date);
        self
    }

    /// When a run with that id exists, clear it instead of failing.
    pub fn reset_existing(mut self, reset: bool) -> Self {
        self.reset = reset;
        self
    }

    /// A note shown with the run.
    pub fn note(mut self, note: &str) -> Self {
        self.note = Some(note.to_owned());
        self
    }
}

/// Which task instances a count or state query covers ([`TaskContext::ti_count`],
/// [`TaskContext::task_states`]).
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct TiQuery(TiFilter);

impl TiQuery {
    /// Every task instance of `dag_id`.
    pub fn dag(dag_id: &str) -> Self {
        TiQuery(TiFilter {
            dag_id: dag_id.to_owned(),
            ..TiFilter::default()
        })
    }

    /// Only these tasks.
    pub fn task_ids<S: AsRef<str>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.0.task_ids = Some(strings(ids));
        self
    }

    /// Only these runs.
    pub fn run_ids<S: AsRef<str>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.0.run_ids = Some(strings(ids));
        self
    }

    /// Only in these states (`success`, `failed`, `skipped`, ...; counts only).
    pub fn states<S: AsRef<str>>(mut self, states: impl IntoIterator<Item = S>) -> Self {
        self.0.states = Some(strings(states));
        self
    }

    /// Only this map index.
    pub fn map_index(mut self, map_index: i64) -> Self {
        self.0.map_index = Some(map_index);
        self
    }

    /// Only the tasks of this task group.
    pub fn task_group(mut self, group_id: &str) -> Self {
        self.0.task_group_id = Some(group_id.to_owned());
        self
    }
}

/// Which dag runs a count covers ([`TaskContext::dag_run_count`]).
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct DagRunQuery(DrFilter);

impl DagRunQuery {
    /// Every run of `dag_id`.
    pub fn dag(dag_id: &str) -> Self {
        DagRunQuery(DrFilter {
            dag_id: dag_id.to_owned(),
            ..DrFilter::default()
        })
    }

    /// Only these runs.
    pub fn run_ids<S: AsRef<str>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.0.run_ids = Some(strings(ids));
        self
    }

    /// Only in these states (`queued`, `running`, `success`, `failed`).
    pub fn states<S: AsRef<str>>(mut self, states: impl IntoIterator<Item = S>) -> Self {
        self.0.states = Some(strings(states));
        self
    }
}

/// A dag run, as [`TaskContext::previous_dag_run`] returns it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DagRunInfo {
    /// The dag id.
    pub dag_id: String,
    /// The run id.
    pub run_id: String,
    /// `queued`, `running`, `success` or `failed`.
    pub state: String,
    /// `manual`, `scheduled`, ...
    pub run_type: String,
    /// The logical date.
    pub logical_date: Option<OffsetDateTime>,
    /// Start of the data interval.
    pub data_interval_start: Option<OffsetDateTime>,
    /// End of the data interval.
    pub data_interval_end: Option<OffsetDateTime>,
    /// When it started.
    pub start_date: Option<OffsetDateTime>,
    /// When it ended.
    pub end_date: Option<OffsetDateTime>,
    /// Its conf.
    pub conf: serde_json::Value,
}

impl From<DagRunRecord> for DagRunInfo {
    fn from(r: DagRunRecord) -> Self {
        DagRunInfo {
            dag_id: r.dag_id,
            run_id: r.run_id,
            state: r.state,
            run_type: r.run_type,
            logical_date: r.logical_date.map(|t| t.0),
            data_interval_start: r.data_interval_start.map(|t| t.0),
            data_interval_end: r.data_interval_end.map(|t| t.0),
            start_date: r.start_date.map(|t| t.0),
            end_date: r.end_date.map(|t| t.0),
            conf: r.conf.0,
        }
    }
}

/// The previous successful run of this task's dag ([`TaskContext::prev_successful_dag_run`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrevSuccessfulRun {
    /// Start of its data interval.
    pub data_interval_start: Option<OffsetDateTime>,
    /// End of its data interval.
    pub data_interval_end: Option<OffsetDateTime>,
    /// When it started.
    pub start_date: Option<OffsetDateTime>,
    /// When it ended.
    pub end_date: Option<OffsetDateTime>,
}

/// An asset, named by its name and URI (as a Python dag declares `Asset(name, uri=...)`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Asset {
    /// The asset's name.
    pub name: String,
    /// The asset's URI.
    pub uri: String,
}

impl Asset {
    /// The asset `name` at `uri`.
    pub fn new(name: &str, uri: &str) -> Self {
        Asset {
            name: name.to_owned(),
            uri: uri.to_owned(),
        }
    }
}

/// An asset as Airflow knows it ([`TaskContext::asset_by_name`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AssetInfo {
    /// The name.
    pub name: String,
    /// The URI.
    pub uri: String,
    /// The group (`asset` by default).
    pub group: String,
    /// The asset's `extra`.
    pub extra: serde_json::Value,
}

impl From<AssetResult> for AssetInfo {
    fn from(r: AssetResult) -> Self {
        AssetInfo {
            name: r.name,
            uri: r.uri,
            group: r.group,
            extra: r.extra.0,
        }
    }
}

/// One event of an asset ([`TaskContext::asset_events`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AssetEvent {
    /// The event id.
    pub id: i64,
    /// When it happened.
    pub timestamp: OffsetDateTime,
    /// The event's `extra`.
    pub extra: serde_json::Value,
    /// The asset.
    pub asset: AssetInfo,
    /// The dag of the task that emitted it, if a task did.
    pub source_dag_id: Option<String>,
    /// Its run.
    pub source_run_id: Option<String>,
    /// Its task.
    pub source_task_id: Option<String>,
    /// Its map index.
    pub source_map_index: Option<i64>,
}

impl From<AssetEventRecord> for AssetEvent {
    fn from(r: AssetEventRecord) -> Self {
        AssetEvent {
            id: r.id,
            timestamp: r.timestamp.0,
            extra: r.extra.0,
            asset: r.asset.into(),
            source_dag_id: r.source_dag_id,
            source_run_id: r.source_run_id,
            source_task_id: r.source_task_id,
            source_map_index: r.source_map_index,
        }
    }
}

fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    items.into_iter().map(|s| s.as_ref().to_owned()).collect()
}

fn to_json<T: Serialize + ?Sized>(what: &str, v: &T) -> Result<serde_json::Value, RequestError> {
    serde_json::to_value(v).map_err(|e| RequestError::Value {
        what: what.to_owned(),
        problem: format!("the value cannot be serialized: {e}"),
    })
}

fn from_json<T: DeserializeOwned>(what: &str, v: serde_json::Value) -> Result<T, RequestError> {
    serde_json::from_value(v).map_err(|e| RequestError::Value {
        what: what.to_owned(),
        problem: format!("the value has another type: {e}"),
    })
}

/// Sends `message`, expecting an empty reply or `OKResponse`.
fn expect_ok(ctx: &TaskContext, what: &str, message: ToSupervisor) -> Result<(), RequestError> {
    match ctx.request(what, message)? {
        Reply::Ack | Reply::Body(ToTask::OKResponse(_)) => Ok(()),
        other => Err(unexpected(what, other)),
    }
}

/// # Variables, XComs of any run, state store
impl TaskContext {
    /// Creates or replaces the Airflow Variable `key`.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// ctx.set_variable("last_export", "2026-01-01")?;
    /// # Ok(()) }
    /// ```
    pub fn set_variable(&self, key: &str, value: &str) -> Result<(), RequestError> {
        self.put_variable(key, value, None)
    }

    /// [`set_variable`](Self::set_variable) with a description shown in the UI.
    pub fn set_variable_with_description(
        &self,
        key: &str,
        value: &str,
        description: &str,
    ) -> Result<(), RequestError> {
        self.put_variable(key, value, Some(description))
    }

    fn put_variable(
        &self,
        key: &str,
        value: &str,
        description: Option<&str>,
    ) -> Result<(), RequestError> {
        let what = format!("PutVariable {key:?}");
        let message = ToSupervisor::PutVariable(PutVariable {
            key: key.to_owned(),
            value: Some(value.to_owned()),
            description: description.map(str::to_owned),
        });
        expect_ok(self, &what, message)
    }

    /// Stores any `serde` value as the Variable `key`, as JSON (what Python's
    /// `Variable.set(key, value, serialize_json=True)` writes).
    pub fn set_variable_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), RequestError> {
        let what = format!("PutVariable {key:?}");
        let text = serde_json::to_string(value).map_err(|e| RequestError::Value {
            what,
            problem: format!("cannot serialize: {e}"),
        })?;
        self.put_variable(key, &text, None)
    }

    /// Reads the Variable `key` as JSON, into any `serde` type (Python's
    /// `Variable.get(key, deserialize_json=True)`). `Ok(None)` when it does not exist.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// #[derive(serde::Deserialize)]
    /// struct Limits { max_rows: u64 }
    /// let limits: Option<Limits> = ctx.variable_json("limits")?;
    /// # Ok(()) }
    /// ```
    pub fn variable_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, RequestError> {
        match self.variable(key)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| RequestError::Value {
                    what: format!("Variable {key:?}"),
                    problem: format!("is not JSON of the expected type: {e}"),
                }),
        }
    }

    /// Deletes the Variable `key`. Deleting a key that does not exist succeeds and does nothing:
    /// Airflow's API server (3.3 and 3.4) answers a delete of a missing key as a success.
    pub fn delete_variable(&self, key: &str) -> Result<(), RequestError> {
        let what = format!("DeleteVariable {key:?}");
        let message = ToSupervisor::DeleteVariable(DeleteVariable {
            key: key.to_owned(),
        });
        expect_ok(self, &what, message)
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

    /// This task instance's state store (see [`StateStore`]).
    pub fn state_store(&self) -> StateStore<'_> {
        StateStore { ctx: self }
    }
}

/// # Branching, triggering, run history
impl TaskContext {
    /// Marks these downstream tasks of this run skipped (Python's `skip` of a branching
    /// operator). Their own downstream tasks then skip by Airflow's trigger rules.
    pub fn skip_tasks<S: AsRef<str>>(
        &self,
        task_ids: impl IntoIterator<Item = S>,
    ) -> Result<(), RequestError> {
        let tasks = strings(task_ids);
        let what = format!("SkipDownstreamTasks {tasks:?}");
        expect_ok(
            self,
            &what,
            ToSupervisor::SkipDownstreamTasks(SkipDownstreamTasks { tasks }),
        )
    }

    /// Branches: of the direct downstream tasks `downstream`, follows those in `follow` and
    /// skips the rest (Python's `@task.branch`). The bundle does not see the dag's edges (the
    /// stub dag declares them), so the task names its downstream tasks.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// let big = true;
    /// let follow = if big { "full_load" } else { "incremental" };
    /// ctx.branch(&[follow], &["full_load", "incremental"])?;
    /// # Ok(()) }
    /// ```
    pub fn branch(&self, follow: &[&str], downstream: &[&str]) -> Result<(), RequestError> {
        let skip: Vec<&str> = downstream
            .iter()
            .copied()
            .filter(|t| !follow.contains(t))
            .collect();
        if skip.is_empty() {
            return Ok(());
        }
        self.skip_tasks(skip)
    }

    /// Triggers a run of `dag_id`; returns its run id.
    pub fn trigger_dag(
        &self,
        dag_id: &str,
        options: &TriggerOptions,
    ) -> Result<String, RequestError> {
        let run_id = options.run_id.clone().unwrap_or_else(|| {
            format!(
                "manual__{}",
                messages::format_time(OffsetDateTime::now_utc())
            )
        });
        let what = format!("TriggerDagRun {dag_id:?} {run_id:?}");
        if let Some(c) = &options.conf
            && !c.is_object()
        {
            return Err(RequestError::Value {
                what,
                problem: format!("conf must be a JSON object, not {c}"),
            });
        }
        let message = ToSupervisor::TriggerDagRun(TriggerDagRun {
            dag_id: dag_id.to_owned(),
            run_id: run_id.clone(),
            logical_date: options.logical_date.map(messages::format_time),
            conf: options.conf.clone(),
            reset_dag_run: options.reset,
            note: options.note.clone(),
        });
        expect_ok(self, &what, message)?;
        Ok(run_id)
    }

    /// The state of a dag run: `queued`, `running`, `success` or `failed`.
    pub fn dag_run_state(&self, dag_id: &str, run_id: &str) -> Result<String, RequestError> {
        let what = format!("GetDagRunState {dag_id:?} {run_id:?}");
        let message = ToSupervisor::GetDagRunState(DagRunKey {
            dag_id: dag_id.to_owned(),
            run_id: run_id.to_owned(),
        });
        match self.request(&what, message)? {
            Reply::Body(ToTask::DagRunStateResult(r)) => Ok(r.state),
            other => Err(unexpected(&what, other)),
        }
    }

    /// Waits until a dag run ends (`success` or `failed`, returned), asking every `poll`.
    /// Stops with [`RequestError::Cancelled`] as soon as the task is asked to stop, and with
    /// [`RequestError::DagRunNotFinished`] when the run has not ended within `timeout` (if
    /// given; the last poll falls within it). A poll the supervisor does not answer is
    /// [`RequestError::Timeout`], as for any request.
    pub fn wait_dag_run(
        &self,
        dag_id: &str,
        run_id: &str,
        poll: Duration,
        timeout: Option<Duration>,
    ) -> Result<String, RequestError> {
        let start = Instant::now();
        loop {
            let state = self.dag_run_state(dag_id, run_id)?;
            if state == "success" || state == "failed" {
                return Ok(state);
            }
            let next = Instant::now() + poll;
            if let Some(t) = timeout
                && next > start + t
            {
                return Err(RequestError::DagRunNotFinished {
                    dag_id: dag_id.to_owned(),
                    run_id: run_id.to_owned(),
                    state,
                    waited: start.elapsed(),
                });
            }
            while Instant::now() < next {
                if self.is_cancelled() {
                    return Err(RequestError::Cancelled);
                }
                std::thread::sleep((next - Instant::now()).min(Duration::from_millis(20)));
            }
        }
    }

    /// How many task instances match `query`.
    pub fn ti_count(&self, query: &TiQuery) -> Result<u64, RequestError> {
        let what = format!("GetTICount {:?}", query.0.dag_id);
        match self.request(&what, ToSupervisor::GetTICount(query.0.clone()))? {
            Reply::Body(ToTask::TICount(c)) => Ok(u64::try_from(c.count).unwrap_or(0)),
            other => Err(unexpected(&what, other)),
        }
    }

    /// How many dag runs match `query`.
    pub fn dag_run_count(&self, query: &DagRunQuery) -> Result<u64, RequestError> {
        let what = format!("GetDRCount {:?}", query.0.dag_id);
        match self.request(&what, ToSupervisor::GetDRCount(query.0.clone()))? {
            Reply::Body(ToTask::DRCount(c)) => Ok(u64::try_from(c.count).unwrap_or(0)),
            other => Err(unexpected(&what, other)),
        }
    }

    /// The states of the task instances matching `query`, by run id, then task id (a mapped
    /// task's instances as `task_id_<map index>`, as Airflow reports them). `query`'s states
    /// filter is not used.
    pub fn task_states(
        &self,
        query: &TiQuery,
    ) -> Result<BTreeMap<String, BTreeMap<String, Option<String>>>, RequestError> {
        let what = format!("GetTaskStates {:?}", query.0.dag_id);
        let mut filter = query.0.clone();
        filter.states = None;
        match self.request(&what, ToSupervisor::GetTaskStates(filter))? {
            Reply::Body(ToTask::TaskStatesResult(r)) => from_json(&what, r.task_states.0),
            other => Err(unexpected(&what, other)),
        }
    }

    /// The run of `dag_id` before `logical_date` (optionally only in `state`); `Ok(None)` when
    /// there is none.
    pub fn previous_dag_run(
        &self,
        dag_id: &str,
        logical_date: OffsetDateTime,
        state: Option<&str>,
    ) -> Result<Option<DagRunInfo>, RequestError> {
        let what = format!("GetPreviousDagRun {dag_id:?}");
        let message = ToSupervisor::GetPreviousDagRun(GetPreviousDagRun {
            dag_id: dag_id.to_owned(),
            logical_date: messages::format_time(logical_date),
            state: state.map(str::to_owned),
        });
        match self.request(&what, message)? {
            Reply::Body(ToTask::PreviousDagRunResult(r)) => Ok(r.dag_run.map(DagRunInfo::from)),
            other => Err(unexpected(&what, other)),
        }
    }

    /// The previous successful run of this task's dag; `Ok(None)` when there is none.
    pub fn prev_successful_dag_run(&self) -> Result<Option<PrevSuccessfulRun>, RequestError> {
        let what = "GetPrevSuccessfulDagRun";
        let message = ToSupervisor::GetPrevSuccessfulDagRun(TiOnly {
            ti_id: self.ti_id().to_owned(),
        });
        match self.request(what, message)? {
            Reply::Body(ToTask::PrevSuccessfulDagRunResult(r)) => {
                let run = PrevSuccessfulRun {
                    data_interval_start: r.data_interval_start.map(|t| t.0),
                    data_interval_end: r.data_interval_end.map(|t| t.0),
                    start_date: r.start_date.map(|t| t.0),
                    end_date: r.end_date.map(|t| t.0),
                };
                let none = run.start_date.is_none()
                    && run.end_date.is_none()
                    && run.data_interval_start.is_none()
                    && run.data_interval_end.is_none();
                Ok((!none).then_some(run))
            }
            other => Err(unexpected(what, other)),
        }
    }
}

/// # The UI, assets, secrets
impl TaskContext {
    /// Sets the task's rendered fields, shown in the UI's "Rendered Template" tab (Python
    /// renders its templated parameters there). `fields` must serialize to a JSON object.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// ctx.set_rendered_fields(&serde_json::json!({"table": "sales_2026", "limit": 100}))?;
    /// # Ok(()) }
    /// ```
    pub fn set_rendered_fields<T: Serialize + ?Sized>(
        &self,
        fields: &T,
    ) -> Result<(), RequestError> {
        let what = "SetRenderedFields";
        let serde_json::Value::Object(rendered_fields) = to_json(what, fields)? else {
            return Err(RequestError::Value {
                what: what.to_owned(),
                problem: "the rendered fields must be a JSON object".into(),
            });
        };
        expect_ok(
            self,
            what,
            ToSupervisor::SetRenderedFields(SetRenderedFields { rendered_fields }),
        )
    }

    /// Sets the label the UI shows for this mapped task instance instead of its map index.
    pub fn set_rendered_map_index(&self, label: &str) -> Result<(), RequestError> {
        let what = format!("SetRenderedMapIndex {label:?}");
        let message = ToSupervisor::SetRenderedMapIndex(SetRenderedMapIndex {
            rendered_map_index: label.to_owned(),
        });
        expect_ok(self, &what, message)?;
        *self
            .rendered_map_index
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(label.to_owned());
        Ok(())
    }

    /// Records that this task produced `asset`, with `extra` for the asset event (`Null` for
    /// none). Sent with the task's success: Airflow then records an asset event and runs the
    /// dags scheduled on the asset. Nothing is recorded when the task does not succeed. The
    /// asset must be known to Airflow (declared by some dag).
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) {
    /// use airflow_sdk::Asset;
    /// ctx.emit_asset(&Asset::new("daily_sales", "s3://bucket/sales"), serde_json::json!({"rows": 42}));
    /// # }
    /// ```
    pub fn emit_asset(&self, asset: &Asset, extra: serde_json::Value) {
        self.emitted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((asset.clone(), extra));
    }

    /// The `task_outlets` and `outlet_events` of the success message.
    pub(crate) fn outlets(&self) -> (Vec<AssetProfile>, Vec<serde_json::Value>, Option<String>) {
        let emitted = self.emitted.lock().unwrap_or_else(|p| p.into_inner());
        let mut profiles: Vec<AssetProfile> = Vec::new();
        let mut events = Vec::new();
        for (asset, extra) in emitted.iter() {
            if !profiles
                .iter()
                .any(|p| p.name == asset.name && p.uri == asset.uri)
            {
                profiles.push(AssetProfile {
                    name: asset.name.clone(),
                    uri: asset.uri.clone(),
                    kind: "Asset",
                });
            }
            if !extra.is_null() {
                events.push(serde_json::json!({
                    "dest_asset_key": {"name": asset.name, "uri": asset.uri},
                    "extra": extra,
                }));
            }
        }
        let label = self
            .rendered_map_index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        (profiles, events, label)
    }

    /// The asset named `name`; `Ok(None)` when Airflow has none.
    pub fn asset_by_name(&self, name: &str) -> Result<Option<AssetInfo>, RequestError> {
        let what = format!("GetAssetByName {name:?}");
        let message = ToSupervisor::GetAssetByName(GetAssetByName {
            name: name.to_owned(),
        });
        self.asset(&what, message)
    }

    /// The asset at `uri`; `Ok(None)` when Airflow has none.
    pub fn asset_by_uri(&self, uri: &str) -> Result<Option<AssetInfo>, RequestError> {
        let what = format!("GetAssetByUri {uri:?}");
        let message = ToSupervisor::GetAssetByUri(GetAssetByUri {
            uri: uri.to_owned(),
        });
        self.asset(&what, message)
    }

    fn asset(&self, what: &str, message: ToSupervisor) -> Result<Option<AssetInfo>, RequestError> {
        match self.request(what, message)? {
            Reply::Body(ToTask::AssetResult(r)) => Ok(Some(r.into())),
            Reply::ErrorBody(e) if e.error.ends_with("NOT_FOUND") => Ok(None),
            other => Err(unexpected(what, other)),
        }
    }

    /// The events of `asset`, oldest first, at most `limit` (all when `None`).
    pub fn asset_events(
        &self,
        asset: &Asset,
        limit: Option<u32>,
    ) -> Result<Vec<AssetEvent>, RequestError> {
        let what = format!("GetAssetEventByAsset {:?}", asset.name);
        let message = ToSupervisor::GetAssetEventByAsset(GetAssetEventByAsset {
            name: Some(asset.name.clone()),
            uri: Some(asset.uri.clone()),
            after: None,
            before: None,
            limit: limit.map(i64::from),
            ascending: true,
        });
        match self.request(&what, message)? {
            Reply::Body(ToTask::AssetEventsResult(r)) => {
                Ok(r.asset_events.into_iter().map(AssetEvent::from).collect())
            }
            Reply::ErrorBody(e) if e.error.ends_with("NOT_FOUND") => Ok(Vec::new()),
            other => Err(unexpected(&what, other)),
        }
    }

    /// Keeps `secret` out of the task log: Airflow's supervisor shows `***` wherever it appears
    /// in a record logged after this call. [`connection`](Self::connection) does it for
    /// passwords, [`variable`](Self::variable) for values of sensitive keys.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// let token = "tok-123"; // e.g. fetched from a vault
    /// ctx.mask_secret(token)?;
    /// airflow_sdk::log::info!("using {token}"); // logged as "using ***"
    /// # Ok(()) }
    /// ```
    pub fn mask_secret(&self, secret: &str) -> Result<(), RequestError> {
        self.send_mask(secret, None)
    }

    /// Masks `value` if Airflow deems `name` (a Variable key) sensitive.
    pub(crate) fn mask_named(&self, value: &str, name: &str) -> Result<(), RequestError> {
        self.send_mask(value, Some(name))
    }

    fn send_mask(&self, value: &str, name: Option<&str>) -> Result<(), RequestError> {
        if value.is_empty() {
            return Ok(());
        }
        let what = match name {
            Some(n) => format!("MaskSecret {n:?}"),
            None => "MaskSecret".to_owned(),
        };
        let message = ToSupervisor::MaskSecret(MaskSecret {
            value: serde_json::Value::String(value.to_owned()),
            name: name.map(str::to_owned),
        });
        expect_ok(self, &what, message)
    }
}
