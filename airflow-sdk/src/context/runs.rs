//! Dag runs: branching and skipping, triggering a dag and waiting for it, and run history
//! (task instance and dag run counts, states, the previous runs).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::{RequestError, TaskContext, expect_ok, from_json, strings, unexpected};
use crate::runtime::messages::{
    self, DagRunKey, DagRunRecord, DrFilter, GetPreviousDagRun, Reply, SkipDownstreamTasks,
    TiFilter, TiOnly, ToSupervisor, ToTask, TriggerDagRun,
};

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
    /// [`RequestError::Timeout`], as for any request. The task holds its worker slot while it
    /// waits; [`Defer::dag_run_end`](crate::Defer::dag_run_end) is the deferrable mode, which
    /// frees it.
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
