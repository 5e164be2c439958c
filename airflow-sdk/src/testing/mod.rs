//! Unit-test task functions inside `cargo test`: no sockets, no network, no Python, no Airflow.
//!
//! Enable the `testing` feature for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! airflow-sdk = { version = "0.1", features = ["testing"] }
//! ```
//!
//! A [`TestRun`] describes the task instance and what Airflow holds (conf, Variables,
//! Connections, upstream XComs, try number, dates, ...); [`TestRun::run`] runs a task function
//! with it and returns a [`TestOutcome`]: the terminal state, the returned value, the XComs
//! pushed, the records logged, every request the task made.
//!
//! ```
//! use airflow_sdk::testing::{Failure, RequestKind, TestRun, TestState};
//! use airflow_sdk::{TaskContext, TaskResult};
//! use serde_json::json;
//!
//! fn transform(ctx: &mut TaskContext) -> TaskResult<u64> {
//!     let rows: Vec<u64> = ctx.xcom_pull("extract", "return_value")?.ok_or("no rows")?;
//!     let factor: u64 = ctx.variable("factor")?.map_or(Ok(1), |f| f.parse())?;
//!     airflow_sdk::log::info!(rows = rows.len(); "transforming");
//!     Ok(rows.iter().sum::<u64>() * factor)
//! }
//!
//! let out = TestRun::new("etl_daily", "transform")
//!     .xcom("extract", "return_value", json!([1, 2, 3]))
//!     .variable("factor", "10")
//!     .run(transform);
//! out.assert_success();
//! assert_eq!(out.return_value, Some(json!(60)));
//! assert_eq!(out.xcom("return_value"), Some(&json!(60)));
//! assert_eq!(out.logs[0].message, "transforming");
//! assert_eq!(out.logs[0].fields["rows"], 3);
//!
//! // The error path: Airflow's API server fails the Variable read, on try 1 of 2.
//! let out = TestRun::new("etl_daily", "transform")
//!     .xcom("extract", "return_value", json!([1]))
//!     .max_tries(1)
//!     .fail_request(RequestKind::GetVariable, Failure::api_server(500, "database is down"))
//!     .run(transform);
//! assert_eq!(out.state, TestState::UpForRetry);
//! assert!(out.error.as_deref().unwrap().contains("GetVariable \"factor\""));
//! ```
//!
//! # Same code as under Airflow
//!
//! The task gets a real [`TaskContext`]; only where its requests go differs. Each request is
//! answered in process by a supervisor that plays Airflow's part from the state the test set up
//! (Variables, Connections, XComs by dag, run, task, map index and key, the task state store,
//! dag runs, task instances, assets and their events), the way Airflow's supervisor and API
//! server answer it (a missing Variable is `VARIABLE_NOT_FOUND`, a missing XCom a null value,
//! ...). Requests the test chose fail instead ([`TestRun::fail_request`]). Clearing the XComs of
//! an earlier try, calling the function, catching a panic, pushing the `return_value` XCom and
//! deciding the state (up for retry when `try_number <= max_tries`, else failed, with the
//! task's own retry delay if it chose one; skipped; removed; failed without retry) are the
//! runtime's own code.
//!
//! # Retry delays, removed tasks, asset state and aliases
//!
//! A task's own retry delay ([`TaskError::retry_after`]) is in [`TestOutcome::retry_delay`],
//! `removed` is [`TestState::Removed`]; the asset state store ([`TestRun::asset_state`],
//! [`TestOutcome::asset_state`]) and events through aliases ([`TestRun::asset_alias_event`],
//! [`TestOutcome::emitted_alias_events`]) are answered as Airflow answers them.
//!
//! ```
//! use std::time::Duration;
//! use airflow_sdk::testing::{TestRun, TestState};
//! use airflow_sdk::{Asset, TaskContext, TaskError, TaskResult};
//! use serde_json::json;
//!
//! fn sync_orders(ctx: &mut TaskContext) -> TaskResult {
//!     let store = ctx.asset_state_by_name("orders");
//!     let since: u64 = store.get("offset")?.unwrap_or(0);
//!     if since > 100 {
//!         return Err(TaskError::retry_after(Duration::from_secs(30), "source is behind"));
//!     }
//!     store.set("offset", &(since + 10))?;
//!     Ok(())
//! }
//!
//! let orders = Asset::new("orders", "s3://bucket/orders");
//! let out = TestRun::new("sync", "sync_orders")
//!     .asset_state(&orders, "offset", json!(5))
//!     .run(sync_orders);
//! out.assert_success();
//! assert_eq!(out.asset_state["orders"]["offset"], json!(15));
//!
//! let out = TestRun::new("sync", "sync_orders")
//!     .asset_state(&orders, "offset", json!(500))
//!     .max_tries(2)
//!     .run(sync_orders);
//! assert_eq!(out.state, TestState::UpForRetry);
//! assert_eq!(out.retry_delay, Some(Duration::from_secs(30)));
//! ```
//!
//! # Sensors
//!
//! A [`Sensor`](crate::Sensor) in reschedule mode ends a run [`TestState::UpForReschedule`],
//! with the time it asked to run again in [`TestOutcome::reschedule_date`]; a later run of the
//! same try is one with [`TestRun::first_try_start`] set, which its timeout counts from.
//!
//! ```
//! use std::time::Duration;
//! use airflow_sdk::testing::{TestRun, TestState};
//! use airflow_sdk::time::OffsetDateTime;
//! use airflow_sdk::{Sensor, SensorMode, TaskContext, TaskResult};
//!
//! fn wait_for_file(ctx: &mut TaskContext) -> TaskResult<String> {
//!     Sensor::new(Duration::from_secs(60))
//!         .mode(SensorMode::Reschedule)
//!         .timeout(Duration::from_secs(3600))
//!         .poke(ctx, |ctx| Ok(ctx.variable("landed_file")?))
//! }
//!
//! // Not there yet: the run ends up for reschedule, to poke again in a minute.
//! let out = TestRun::new("ingest", "wait_for_file").run(wait_for_file);
//! assert_eq!(out.state, TestState::UpForReschedule);
//! let again_in = out.reschedule_date.unwrap() - OffsetDateTime::now_utc();
//! assert!(again_in.whole_seconds() > 55);
//!
//! // Two hours after the try first started: the sensor has timed out.
//! let out = TestRun::new("ingest", "wait_for_file")
//!     .first_try_start(OffsetDateTime::now_utc() - Duration::from_secs(7200))
//!     .max_tries(3)
//!     .run(wait_for_file);
//! assert_eq!(out.state, TestState::Failed);
//! assert!(out.error.unwrap().contains("sensor timed out"));
//! ```
//!
//! # Logs
//!
//! Records logged with the `log` crate while the task runs are captured: level, message,
//! fields, logger (target), masked as Airflow's task log shows them (see [`CapturedLog`]). The
//! `log` logger is one per process, so the harness installs its own the first time it runs, and
//! hands each record to the run on the record's thread. So:
//!
//! - records from threads the task spawns are captured only with
//!   [`capture_logs_from_all_threads`](TestRun::capture_logs_from_all_threads) (such runs take
//!   turns in a test binary, and also take records of unrelated threads while they run);
//! - a test binary that installs another logger (`env_logger`, ...) captures nothing:
//!   [`TestOutcome::logs_captured`] is then `false`;
//! - records at most [`log_level`](TestRun::log_level) are kept (default `Info`, Airflow's
//!   default `logging_level`).
//!
//! # What differs from a run under Airflow
//!
//! The task runs on the test's thread (production gives it an 8 MiB stack of its own). A run
//! marked cancelled ([`cancel_after`](TestRun::cancel_after)) that does not return within 2 s of
//! the cancellation ends failed or up for retry as under Airflow, but the harness waits for the
//! function to return, and what it did after the 2 s is still recorded. A run longer than the task's
//! [`execution_timeout`](TestRun::execution_timeout) likewise fails with Airflow's timeout error
//! once the function returns. A [`Failure::Timeout`]
//! fails at once. `AIRFLOW_VAR_*` and `AIRFLOW_CONN_*` environment variables are read first, as
//! under Airflow. The Airflow behaviour modelled is that of Airflow 3.3 and 3.4 (task SDK 1.3
//! and 1.4).

pub(crate) mod logs;
mod supervisor;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use log::{Level, LevelFilter};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

pub(crate) use supervisor::FakeSupervisor;
use supervisor::{Injection, Matcher, State, TiEntry};

use crate::bundle::{TaskWithArgs, to_return_value};
use crate::runtime;
use crate::runtime::messages::{
    ArgBinding, DagRun, Json, StartupDetails, TIRunContext, TaskInstance, Terminal, Timestamp,
    ToSupervisor, format_time,
};
use crate::runtime::task::{Limit, Outlets, Run, run_one, terminal_message};
use crate::runtime::timeout::ExecutionTimeout;
use crate::{
    Asset, AssetAlias, AssetEvent, AssetInfo, Bundle, Connection, Dag, DagRunInfo, Defer,
    InputRequest, IntoUtc, SchemaVersion, TaskContext, TaskError, TaskResult, Trigger, XComRef,
};

/// The logical date of a run unless the test sets one: 2026-01-01T00:00:00Z.
const DEFAULT_LOGICAL_DATE: i64 = 1_767_225_600;
/// The task instance id unless the test sets one.
const DEFAULT_TI_ID: &str = "01960000-0000-7000-8000-000000000001";
/// The wait a [`Failure::Timeout`] reports: the runtime's default request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// One task run to test: the task instance, its dag run, what Airflow holds, and which requests
/// fail. Build it, then call [`run`](Self::run), [`run_with_args`](Self::run_with_args) or
/// [`run_in`](Self::run_in).
///
/// Unless set: try 1, `max_tries` 0 (no retry; with [`run_in`](Self::run_in), the task's
/// declared retries), not mapped, logical date 2026-01-01T00:00:00Z (also the data interval,
/// `run_after` and the run's start), run id `manual__2026-01-01T00:00:00+00:00`, run type
/// `manual`, conf `{}`, nothing in Airflow.
///
/// ```
/// use airflow_sdk::testing::TestRun;
/// use airflow_sdk::{Connection, TaskContext, TaskResult};
/// use serde_json::json;
///
/// fn load(ctx: &mut TaskContext) -> TaskResult<String> {
///     let db = ctx.connection("warehouse")?.ok_or("no warehouse")?;
///     let day = ctx.logical_date().ok_or("no logical date")?.date();
///     Ok(format!("{}:{day}:{}", db.host.unwrap_or_default(), ctx.conf()["table"]))
/// }
///
/// let out = TestRun::new("etl_daily", "load")
///     .conf(json!({"table": "sales"}))
///     .connection(Connection::from_uri("warehouse", "postgres://u:pw@db.internal/dw").unwrap())
///     .logical_date("2026-03-01")
///     .try_number(2)
///     .max_tries(3)
///     .run(load);
/// assert_eq!(out.return_value, Some(json!("db.internal:2026-03-01:\"sales\"")));
/// ```
#[must_use]
pub struct TestRun {
    dag_id: String,
    task_id: String,
    run_id: Option<String>,
    ti_id: String,
    try_number: u32,
    max_tries: Option<u32>,
    map_index: Option<u32>,
    logical_date: Option<OffsetDateTime>,
    data_interval: Option<(OffsetDateTime, OffsetDateTime)>,
    run_after: Option<OffsetDateTime>,
    start_date: Option<OffsetDateTime>,
    run_type: String,
    conf: Value,
    params: BTreeMap<String, Value>,
    /// The outlets the task declares in the bundle ([`run_in`](Self::run_in)).
    outlets: Vec<airflow_bundle::declare::AssetOrAlias>,
    arg_bindings: Option<Vec<ArgBinding>>,
    /// XComs of this dag run, resolved when the run starts: task, map index, key, value.
    run_xcoms: Vec<(String, i64, String, Value)>,
    state: State,
    injections: Vec<Injection>,
    cancel_after: Option<Duration>,
    execution_timeout: Option<Duration>,
    log_level: LevelFilter,
    all_threads: bool,
    sensitive_names: Vec<String>,
    /// A resumed try: the method, the event, the deferral's kwargs.
    next_method: Option<String>,
    resume_event: Value,
    resume_kwargs: serde_json::Map<String, Value>,
}

impl fmt::Debug for TestRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRun")
            .field("dag_id", &self.dag_id)
            .field("task_id", &self.task_id)
            .field("try_number", &self.try_number)
            .field("max_tries", &self.max_tries)
            .finish_non_exhaustive()
    }
}

/// A date given to a builder method, or a panic naming the method.
fn date(what: &str, d: impl IntoUtc) -> OffsetDateTime {
    let text = d
        .into_utc()
        .unwrap_or_else(|e| panic!("TestRun::{what}: {e}"));
    OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("TestRun::{what}: {text}: {e}"))
}

impl TestRun {
    /// A run of task `task_id` of dag `dag_id`, with the defaults above.
    pub fn new(dag_id: &str, task_id: &str) -> Self {
        TestRun {
            dag_id: dag_id.to_owned(),
            task_id: task_id.to_owned(),
            run_id: None,
            ti_id: DEFAULT_TI_ID.to_owned(),
            try_number: 1,
            max_tries: None,
            map_index: None,
            logical_date: OffsetDateTime::from_unix_timestamp(DEFAULT_LOGICAL_DATE).ok(),
            data_interval: None,
            run_after: None,
            start_date: None,
            run_type: "manual".to_owned(),
            conf: Value::Object(Default::default()),
            params: BTreeMap::new(),
            outlets: Vec::new(),
            arg_bindings: None,
            run_xcoms: Vec::new(),
            state: State::default(),
            injections: Vec::new(),
            cancel_after: None,
            execution_timeout: None,
            log_level: LevelFilter::Info,
            all_threads: false,
            sensitive_names: Vec::new(),
            next_method: None,
            resume_event: Value::Null,
            resume_kwargs: serde_json::Map::new(),
        }
    }

    // --- the task instance and its dag run ------------------------------------------------

    // --- resuming ----------------------------------------------------------------------------

    /// Makes this a try Airflow resumes in the resume handler `method`
    /// ([`Dag::on_resume`](crate::Dag::on_resume)) with the trigger's `event` (or a person's
    /// answer), as after a deferral. Only [`run_in`](Self::run_in) runs resume handlers.
    /// Python values the event would carry in Airflow's encoding are given as plain JSON.
    pub fn resume(mut self, method: &str, event: Value) -> Self {
        self.next_method = Some(method.to_owned());
        self.resume_event = event;
        self
    }

    /// The kwargs the task gave when it deferred ([`Defer::kwargs`](crate::Defer::kwargs)),
    /// for a resumed try.
    pub fn resume_kwargs(mut self, kwargs: Value) -> Self {
        self.resume_kwargs = crate::suspend::object(kwargs);
        self
    }

    /// Makes this a try Airflow resumes in `method` after a person answered the task's
    /// [`InputRequest`]: choosing `chosen_options` and filling in `params_input` (a JSON object),
    /// as user `test` (the event the resume handler reads as
    /// [`HumanResponse`](crate::HumanResponse), `timedout` false).
    pub fn answer_input<S: AsRef<str>>(
        self,
        method: &str,
        chosen_options: impl IntoIterator<Item = S>,
        params_input: Value,
    ) -> Self {
        let user = serde_json::json!({"id": "test", "name": "test"});
        self.human_event(method, chosen_options, params_input, user, false)
    }

    /// Makes this a try Airflow resumes in `method` after nobody answered the task's
    /// [`InputRequest`] in time and its scheduler took the defaults: `defaults` and the params'
    /// defaults `params_input` (`timedout` true, nobody responding).
    pub fn input_defaults_taken<S: AsRef<str>>(
        self,
        method: &str,
        defaults: impl IntoIterator<Item = S>,
        params_input: Value,
    ) -> Self {
        self.human_event(method, defaults, params_input, Value::Null, true)
    }

    /// Makes this a try Airflow resumes in `method` after nobody answered the task's
    /// [`InputRequest`] in time and it had no defaults: the event is the scheduler's timeout
    /// error, which fails the try (retried as declared) without running the handler.
    pub fn input_timed_out(self, method: &str) -> Self {
        let event = serde_json::json!({
            "error": "The Human-in-the-loop response timeout has passed without a response.",
            "error_type": "timeout",
        });
        self.resume(method, event)
    }

    /// The resume event of a human-in-the-loop answer, as Airflow's `HITLDetail` builds it
    /// (`responded_at` in Airflow's datetime encoding, as stored).
    fn human_event<S: AsRef<str>>(
        self,
        method: &str,
        chosen_options: impl IntoIterator<Item = S>,
        params_input: Value,
        user: Value,
        timedout: bool,
    ) -> Self {
        let chosen: Vec<String> = chosen_options
            .into_iter()
            .map(|o| o.as_ref().to_owned())
            .collect();
        let event = serde_json::json!({
            "chosen_options": chosen,
            "params_input": params_input,
            "responded_at": Trigger::datetime_value(OffsetDateTime::now_utc()),
            "responded_by_user": user,
            "timedout": timedout,
        });
        self.resume(method, event)
    }

    /// Makes this a try Airflow starts after the task's trigger failed or timed out, with the
    /// `error` Airflow recorded: the task fails without running any handler.
    pub fn trigger_failed(mut self, error: &str) -> Self {
        self.next_method = Some(crate::suspend::FAIL_METHOD.to_owned());
        self.resume_kwargs = crate::suspend::object(serde_json::json!({"error": error}));
        self.resume_event = Value::Null;
        self
    }

    /// `next_kwargs` as Airflow would hand them over.
    fn next_kwargs(&self) -> Option<Value> {
        let method = self.next_method.as_deref()?;
        let mut kwargs = self.resume_kwargs.clone();
        if method != crate::suspend::FAIL_METHOD {
            kwargs.insert("event".to_owned(), self.resume_event.clone());
        }
        Some(Value::Object(kwargs))
    }

    /// The dag run id (default `manual__<logical date>`).
    pub fn run_id(mut self, run_id: &str) -> Self {
        self.run_id = Some(run_id.to_owned());
        self
    }

    /// The task instance id ([`TaskContext::ti_id`]).
    pub fn ti_id(mut self, ti_id: &str) -> Self {
        self.ti_id = ti_id.to_owned();
        self
    }

    /// The try number (default 1).
    pub fn try_number(mut self, n: u32) -> Self {
        self.try_number = n;
        self
    }

    /// Airflow's `max_tries` (the task's retries): a failed try is retried while
    /// `try_number <= max_tries` (as Airflow decides `should_retry`).
    pub fn max_tries(mut self, n: u32) -> Self {
        self.max_tries = Some(n);
        self
    }

    /// Runs the task as map index `i` of a mapped task.
    pub fn map_index(mut self, i: u32) -> Self {
        self.map_index = Some(i);
        self
    }

    /// The dag run's logical date: `"2026-01-01"`, an RFC 3339 date-time, a [`time::Date`] or
    /// an [`OffsetDateTime`]. Also the default data interval, `run_after` and start.
    ///
    /// # Panics
    ///
    /// When the value is not a date.
    pub fn logical_date(mut self, d: impl IntoUtc) -> Self {
        self.logical_date = Some(date("logical_date", d));
        self
    }

    /// A dag run without a logical date (as Airflow 3 allows for manual runs).
    pub fn no_logical_date(mut self) -> Self {
        self.logical_date = None;
        self
    }

    /// The dag run's data interval.
    ///
    /// # Panics
    ///
    /// When a value is not a date.
    pub fn data_interval(mut self, start: impl IntoUtc, end: impl IntoUtc) -> Self {
        self.data_interval = Some((date("data_interval", start), date("data_interval", end)));
        self
    }

    /// The dag run's `run_after`.
    ///
    /// # Panics
    ///
    /// When the value is not a date.
    pub fn run_after(mut self, d: impl IntoUtc) -> Self {
        self.run_after = Some(date("run_after", d));
        self
    }

    /// When this try started ([`TaskContext::start_date`]; default: when the run starts).
    ///
    /// # Panics
    ///
    /// When the value is not a date.
    pub fn start_date(mut self, d: impl IntoUtc) -> Self {
        self.start_date = Some(date("start_date", d));
        self
    }

    /// Makes this a later run of a try that was rescheduled ([`TestState::UpForReschedule`]):
    /// Airflow recorded the try's first reschedule at `d`, which
    /// [`TaskContext::first_try_start`] answers (and a reschedule-mode
    /// [`Sensor`](crate::Sensor)'s timeout counts from). Unset, the try was never rescheduled
    /// and it answers `None`.
    ///
    /// # Panics
    ///
    /// When the value is not a date.
    pub fn first_try_start(mut self, d: impl IntoUtc) -> Self {
        self.state.reschedule_start = Some(date("first_try_start", d));
        self
    }

    /// The dag run's type: `manual` (default), `scheduled`, `backfill`, `asset_triggered`.
    pub fn run_type(mut self, run_type: &str) -> Self {
        self.run_type = run_type.to_owned();
        self
    }

    /// The dag run's `conf` (default `{}`).
    pub fn conf(mut self, conf: Value) -> Self {
        self.conf = conf;
        self
    }

    /// Declares the dag param `name` with its default, for [`TaskContext::param`] (with
    /// [`run_in`](Self::run_in), the dag's declared params come first).
    pub fn param(mut self, name: &str, default: impl Into<Value>) -> Self {
        self.params.insert(name.to_owned(), default.into());
        self
    }

    /// Binds the typed argument `name` to a literal, as a stub call `name=value` in the dag
    /// file does (see [`run_with_args`](Self::run_with_args)).
    pub fn arg(mut self, name: &str, value: Value) -> Self {
        self.arg_bindings
            .get_or_insert_with(Vec::new)
            .push(ArgBinding::Literal {
                name: name.to_owned(),
                value: Json(value),
                from_default: false,
            });
        self
    }

    /// Binds the typed argument `name` to the output of task `upstream` (its `return_value`
    /// XCom in this dag run, which the test sets with [`xcom`](Self::xcom)), as a stub call
    /// `upstream()` in the dag file does.
    pub fn arg_from(mut self, name: &str, upstream: &str) -> Self {
        self.arg_bindings
            .get_or_insert_with(Vec::new)
            .push(ArgBinding::XCom {
                name: name.to_owned(),
                task_id: upstream.to_owned(),
            });
        self
    }

    // --- what Airflow holds -----------------------------------------------------------------

    /// Defines the Variable `key`.
    pub fn variable(mut self, key: &str, value: &str) -> Self {
        self.state
            .variables
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Defines a Connection (under its `conn_id`).
    pub fn connection(mut self, connection: Connection) -> Self {
        self.state
            .connections
            .insert(connection.conn_id.clone(), connection);
        self
    }

    /// Sets the XCom `key` of task `task_id` in this dag run (unmapped), e.g. an upstream
    /// task's `return_value`.
    pub fn xcom(mut self, task_id: &str, key: &str, value: Value) -> Self {
        self.run_xcoms
            .push((task_id.to_owned(), -1, key.to_owned(), value));
        self
    }

    /// Sets an XCom anywhere: any dag, run, task, key and map index (none: unmapped). An XCom
    /// of this task instance itself is one an earlier try left: the run clears it first, as
    /// Airflow asks.
    pub fn xcom_at(mut self, xcom: &XComRef, value: Value) -> Self {
        let (dag, run, task, key, map_index) = xcom.parts();
        self.state.xcoms.insert(
            (
                dag.to_owned(),
                run.to_owned(),
                task.to_owned(),
                map_index.unwrap_or(-1),
                key.to_owned(),
            ),
            value,
        );
        self
    }

    /// Puts `value` under `key` in this task instance's state store (left by an earlier try).
    pub fn state_store(mut self, key: &str, value: Value) -> Self {
        self.state
            .state_store
            .insert((String::new(), key.to_owned()), value);
        self
    }

    /// Defines a dag run (for [`TaskContext::dag_run_state`], counts, previous runs, and
    /// triggering a run id that exists).
    pub fn dag_run(mut self, run: DagRunInfo) -> Self {
        self.state.dag_runs.push(run);
        self
    }

    /// The states [`TaskContext::dag_run_state`] answers for a dag run, one per request, the
    /// last one from then on: `["running", "success"]` lets a task wait for a run it triggered.
    pub fn dag_run_states<S: AsRef<str>>(
        mut self,
        dag_id: &str,
        run_id: &str,
        states: impl IntoIterator<Item = S>,
    ) -> Self {
        let states: VecDeque<String> = states.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.state
            .run_states
            .insert((dag_id.to_owned(), run_id.to_owned()), states);
        self
    }

    /// Defines a task instance in `state` (`success`, `failed`, ...), for
    /// [`TaskContext::ti_count`] and [`TaskContext::task_states`]. The running task instance is
    /// there too, `running`.
    pub fn task_instance(self, dag_id: &str, run_id: &str, task_id: &str, state: &str) -> Self {
        self.ti_entry(dag_id, run_id, task_id, -1, state)
    }

    /// Like [`task_instance`](Self::task_instance), for map index `map_index` of a mapped task.
    pub fn mapped_task_instance(
        self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        map_index: u32,
        state: &str,
    ) -> Self {
        self.ti_entry(dag_id, run_id, task_id, i64::from(map_index), state)
    }

    fn ti_entry(mut self, dag: &str, run: &str, task: &str, map_index: i64, state: &str) -> Self {
        self.state.task_instances.push(TiEntry {
            dag_id: dag.to_owned(),
            run_id: run.to_owned(),
            task_id: task.to_owned(),
            map_index,
            state: Some(state.to_owned()),
        });
        self
    }

    /// Declares an asset Airflow knows (group `asset`, extra `{}`).
    pub fn asset(mut self, asset: &Asset) -> Self {
        if !self.state.assets.contains(asset) {
            self.state.assets.push(asset.clone());
        }
        self
    }

    /// Records an event of `asset` with `extra` (the asset becomes known); events are numbered
    /// and timed in the order given.
    pub fn asset_event(mut self, asset: &Asset, extra: Value) -> Self {
        self = self.asset(asset);
        let id = self.state.asset_events.len() as i64 + 1;
        let base = self.logical_date.unwrap_or_else(|| {
            OffsetDateTime::from_unix_timestamp(DEFAULT_LOGICAL_DATE)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        });
        self.state.asset_events.push(AssetEvent {
            id,
            timestamp: base + time::Duration::seconds(id),
            extra,
            asset: AssetInfo {
                name: asset.name.clone(),
                uri: asset.uri.clone(),
                group: "asset".to_owned(),
                extra: Value::Object(Default::default()),
            },
            source_dag_id: None,
            source_run_id: None,
            source_task_id: None,
            source_map_index: None,
        });
        self
    }

    /// Stores `value` under `key` in the asset state store of `asset` (the asset becomes known),
    /// as [`TaskContext::asset_state_by_name`] and [`TaskContext::asset_state_by_uri`] read it.
    pub fn asset_state(mut self, asset: &Asset, key: &str, value: Value) -> Self {
        self = self.asset(asset);
        self.state
            .asset_state
            .entry(asset.name.clone())
            .or_default()
            .insert(key.to_owned(), value);
        self
    }

    /// Records an event of `asset` emitted through `alias` with `extra`, as
    /// [`TaskContext::asset_events_by_alias`] and [`TaskContext::assets_by_alias`] read it (also an
    /// event of the asset, as [`asset_event`](Self::asset_event) records).
    pub fn asset_alias_event(mut self, alias: &AssetAlias, asset: &Asset, extra: Value) -> Self {
        self = self.asset_event(asset, extra);
        let id = self.state.asset_events.len() as i64;
        self.state
            .alias_events
            .entry(alias.name.clone())
            .or_default()
            .push(id);
        self
    }

    /// Adds names whose values Airflow hides in logs, as `[core] sensitive_var_conn_names`
    /// does (besides Airflow's defaults: `password`, `secret`, `api_key`, `token`, ...).
    pub fn sensitive_names<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.sensitive_names
            .extend(names.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    // --- failures, cancellation, logs -------------------------------------------------------

    /// Fails every request of `kind` with `failure`.
    ///
    /// ```
    /// use airflow_sdk::testing::{Failure, RequestKind, TestRun, TestState};
    /// use airflow_sdk::{RequestError, TaskContext, TaskResult};
    ///
    /// fn read(ctx: &mut TaskContext) -> TaskResult {
    ///     match ctx.variable("region") {
    ///         Err(RequestError::Timeout { .. }) => Err(airflow_sdk::TaskError::skip("Airflow is slow")),
    ///         other => other.map(drop).map_err(Into::into),
    ///     }
    /// }
    /// let out = TestRun::new("d", "read")
    ///     .fail_request(RequestKind::GetVariable, Failure::Timeout)
    ///     .run(read);
    /// assert_eq!(out.state, TestState::Skipped);
    /// assert!(out.requests[0].failure.is_some());
    /// ```
    pub fn fail_request(mut self, kind: RequestKind, failure: Failure) -> Self {
        self.injections.push(Injection {
            matcher: Matcher::Kind(kind),
            failure,
        });
        self
    }

    /// Fails each request for which `matches` returns `true` (it sees every request, in order,
    /// so it may count them).
    ///
    /// ```
    /// use airflow_sdk::testing::{Failure, RequestKind, TestRun};
    /// use airflow_sdk::{TaskContext, TaskResult};
    ///
    /// fn two(ctx: &mut TaskContext) -> TaskResult<Vec<bool>> {
    ///     Ok(vec![ctx.variable("a").is_ok(), ctx.variable("b").is_ok()])
    /// }
    /// let out = TestRun::new("d", "two")
    ///     .fail_request_if(
    ///         |r| r.kind == RequestKind::GetVariable && r.body["key"] == "b",
    ///         Failure::permission_denied(),
    ///     )
    ///     .run(two);
    /// assert_eq!(out.return_value, Some(serde_json::json!([true, false])));
    /// ```
    pub fn fail_request_if(
        mut self,
        matches: impl FnMut(&Request) -> bool + Send + 'static,
        failure: Failure,
    ) -> Self {
        self.injections.push(Injection {
            matcher: Matcher::Predicate(Box::new(matches)),
            failure,
        });
        self
    }

    /// Runs the task already asked to stop, as after Airflow's SIGTERM:
    /// [`TaskContext::is_cancelled`] is `true` and [`TaskContext::sleep`] fails at once.
    pub fn cancelled(self) -> Self {
        self.cancel_after(Duration::ZERO)
    }

    /// Asks the task to stop `after` it starts (from another thread). A task that has not
    /// returned 2 s later ends failed or up for retry, "terminated by SIGTERM", as under Airflow.
    pub fn cancel_after(mut self, after: Duration) -> Self {
        self.cancel_after = Some(after);
        self
    }

    /// Fails the try with Airflow's timeout error ("AirflowTaskTimeout: ... execution_timeout of
    /// N s", retried as declared) when the function runs longer than `limit`, as the runtime
    /// does with a task's declared [`execution_timeout`](crate::Task::execution_timeout).
    /// [`run_in`](Self::run_in) uses the declared one unless this is set. At the limit the task
    /// is asked to stop, as by [`cancel_after`](Self::cancel_after); the harness then waits for
    /// the function to return (under Airflow the runtime reports 2 s after the limit at the
    /// latest, and the process ends).
    ///
    /// ```
    /// use std::time::Duration;
    /// use airflow_sdk::testing::{TestRun, TestState};
    /// use airflow_sdk::{TaskContext, TaskResult};
    ///
    /// fn slow(ctx: &mut TaskContext) -> TaskResult {
    ///     ctx.sleep(Duration::from_secs(60))?;
    ///     Ok(())
    /// }
    /// let out = TestRun::new("d", "slow")
    ///     .execution_timeout(Duration::from_millis(100))
    ///     .run(slow);
    /// assert_eq!(out.state, TestState::Failed);
    /// assert!(out.error.unwrap().contains("execution_timeout of 0.1 s"));
    /// ```
    pub fn execution_timeout(mut self, limit: Duration) -> Self {
        self.execution_timeout = Some(limit);
        self
    }

    /// Keeps records at most this verbose (default `Info`, Airflow's default logging level).
    pub fn log_level(mut self, level: LevelFilter) -> Self {
        self.log_level = level;
        self
    }

    /// Also captures records logged by other threads (threads the task spawns) while the task
    /// runs. Such runs take turns in a test binary, and take the records of every thread that
    /// is not running a harness run of its own, related or not.
    pub fn capture_logs_from_all_threads(mut self) -> Self {
        self.all_threads = true;
        self
    }

    // --- running ----------------------------------------------------------------------------

    /// Runs the task function `f` (any `Fn(&mut TaskContext) -> TaskResult<T>` with `T:
    /// Serialize`) on this thread, and returns what happened.
    pub fn run<T, F>(self, f: F) -> TestOutcome
    where
        T: Serialize,
        F: Fn(&mut TaskContext) -> TaskResult<T>,
    {
        let erased = |ctx: &mut TaskContext| to_return_value(f(ctx)?);
        let params = self.params.clone();
        let max_tries = self.max_tries.unwrap_or(0);
        self.execute(
            SchemaVersion::default(),
            params,
            max_tries,
            Body::Task(&erased),
        )
    }

    /// Runs a task function with typed arguments ([`Dag::task_with_args`]), binding each
    /// parameter of `params` as the test said with [`arg`](Self::arg) and
    /// [`arg_from`](Self::arg_from) (supervisor schema 2026-10-30).
    ///
    /// ```
    /// use airflow_sdk::testing::TestRun;
    /// use airflow_sdk::{TaskContext, TaskResult};
    /// use serde_json::json;
    ///
    /// fn load(_: &mut TaskContext, rows: Vec<u64>, table: String) -> TaskResult<String> {
    ///     Ok(format!("{} rows into {table}", rows.len()))
    /// }
    /// let out = TestRun::new("etl", "load")
    ///     .xcom("transform", "return_value", json!([4, 5]))
    ///     .arg_from("rows", "transform")
    ///     .arg("table", json!("t1"))
    ///     .run_with_args(["rows", "table"], load);
    /// assert_eq!(out.return_value, Some(json!("2 rows into t1")));
    /// ```
    ///
    /// # Panics
    ///
    /// When `params` does not name one distinct parameter per argument of `f`.
    pub fn run_with_args<A, F, P>(self, params: impl IntoIterator<Item = P>, f: F) -> TestOutcome
    where
        F: TaskWithArgs<A>,
        P: Into<String>,
    {
        let bundle = Bundle::new()
            .supervisor_schema(SchemaVersion::V2026_10_30)
            .dag(Dag::new(self.dag_id.clone()).task_with_args(
                self.task_id.clone(),
                params.into_iter().map(Into::<String>::into),
                f,
            ));
        self.run_in(&bundle)
    }

    /// Runs the task `task_id` of dag `dag_id` of `bundle`, as the bundle binary would: with the
    /// dag's params, the bundle's schema version (typed arguments need 2026-10-30), and unless
    /// [`max_tries`](Self::max_tries) is set, the task's declared retries as `max_tries`. A task
    /// id the bundle does not have fails without retry, as under Airflow.
    ///
    /// ```
    /// use airflow_sdk::testing::{TestRun, TestState};
    /// use airflow_sdk::{Bundle, Dag, Task, TaskContext, TaskResult};
    ///
    /// fn flaky(_: &mut TaskContext) -> TaskResult { Err("not yet".into()) }
    /// let bundle = Bundle::new().dag(Dag::new("d").task(Task::new("flaky").retries(2), flaky));
    /// assert_eq!(TestRun::new("d", "flaky").try_number(2).run_in(&bundle).state, TestState::UpForRetry);
    /// assert_eq!(TestRun::new("d", "flaky").try_number(3).run_in(&bundle).state, TestState::Failed);
    /// ```
    ///
    /// # Panics
    ///
    /// When the bundle's declarations are invalid (the bundle binary refuses to run then).
    pub fn run_in(mut self, bundle: &Bundle) -> TestOutcome {
        if let Err(e) = bundle.validate() {
            panic!("TestRun::run_in: the bundle cannot run: {e}");
        }
        let dag = bundle.find_dag(&self.dag_id);
        let mut params = dag.map(|d| d.param_defaults()).unwrap_or_default();
        params.extend(self.params.clone());
        let max_tries = self
            .max_tries
            .unwrap_or_else(|| dag.and_then(|d| d.task_retries(&self.task_id)).unwrap_or(0));
        if self.execution_timeout.is_none() {
            self.execution_timeout = bundle
                .execution_timeout(&self.dag_id, &self.task_id)
                .map(ExecutionTimeout::duration);
        }
        self.outlets = bundle.declared_outlets(&self.dag_id, &self.task_id);
        let next_kwargs = self.next_kwargs();
        match bundle.entry_point(
            &self.dag_id,
            &self.task_id,
            self.next_method.as_deref(),
            next_kwargs.as_ref(),
        ) {
            Some(run) => self.execute(bundle.schema, params, max_tries, Body::Task(&*run)),
            None => self.execute(bundle.schema, params, max_tries, Body::Unknown(bundle)),
        }
    }

    /// The `StartupDetails` Airflow would send, and the state Airflow holds.
    fn startup(&mut self, max_tries: u32, now: OffsetDateTime) -> StartupDetails {
        let logical = self.logical_date;
        let run_id = self.run_id.clone().unwrap_or_else(|| {
            let t = format_time(logical.unwrap_or(now));
            format!("manual__{}", t.replace('Z', "+00:00"))
        });
        let map_index = self.map_index.map_or(-1, i64::from);
        for (task, mi, key, value) in self.run_xcoms.drain(..) {
            self.state
                .xcoms
                .insert((self.dag_id.clone(), run_id.clone(), task, mi, key), value);
        }
        // State store entries set before the ti id was final belong to this task instance.
        let store = std::mem::take(&mut self.state.state_store);
        self.state.state_store = store
            .into_iter()
            .map(|((ti, k), v)| {
                let ti = if ti.is_empty() {
                    self.ti_id.clone()
                } else {
                    ti
                };
                ((ti, k), v)
            })
            .collect();
        let own = |(d, r, t, i, _): &(String, String, String, i64, String)| {
            *d == self.dag_id && *r == run_id && *t == self.task_id && *i == map_index
        };
        // What Airflow asks to clear: the XComs an earlier try of this task instance left.
        let to_clear: Vec<String> = self
            .state
            .xcoms
            .keys()
            .filter(|k| own(k))
            .map(|k| k.4.clone())
            .collect();
        if !self.state.task_instances.iter().any(|ti| {
            ti.dag_id == self.dag_id
                && ti.run_id == run_id
                && ti.task_id == self.task_id
                && ti.map_index == map_index
        }) {
            self.state.task_instances.push(TiEntry {
                dag_id: self.dag_id.clone(),
                run_id: run_id.clone(),
                task_id: self.task_id.clone(),
                map_index,
                state: Some("running".into()),
            });
        }
        let (interval_start, interval_end) = match self.data_interval {
            Some((s, e)) => (Some(s), Some(e)),
            None => (logical, logical),
        };
        // This dag run is one Airflow knows, running.
        if !self
            .state
            .dag_runs
            .iter()
            .any(|r| r.dag_id == self.dag_id && r.run_id == run_id)
        {
            let mut run = DagRunInfo::new(&self.dag_id, &run_id, "running");
            run.run_type = self.run_type.clone();
            run.logical_date = logical;
            run.data_interval_start = interval_start;
            run.data_interval_end = interval_end;
            run.start_date = logical.or(Some(now));
            run.conf = self.conf.clone();
            self.state.dag_runs.push(run);
        }
        let ts = |t: Option<OffsetDateTime>| t.map(Timestamp);
        // As Airflow decides it: retry while tries remain.
        let should_retry = max_tries != 0 && self.try_number <= max_tries;
        StartupDetails {
            ti: TaskInstance {
                id: self.ti_id.clone(),
                dag_id: self.dag_id.clone(),
                task_id: self.task_id.clone(),
                run_id,
                try_number: i64::from(self.try_number),
                map_index: Some(map_index),
            },
            dag_rel_path: String::new(),
            start_date: Some(Timestamp(self.start_date.unwrap_or(now))),
            ti_context: TIRunContext {
                dag_run: DagRun {
                    logical_date: ts(logical),
                    data_interval_start: ts(interval_start),
                    data_interval_end: ts(interval_end),
                    run_after: ts(self.run_after.or(logical)),
                    start_date: ts(logical.or(Some(now))),
                    run_type: self.run_type.clone(),
                    conf: Json(self.conf.clone()),
                },
                max_tries: i64::from(max_tries),
                should_retry,
                xcom_keys_to_clear: (!to_clear.is_empty()).then_some(to_clear),
                next_method: self.next_method.clone(),
                next_kwargs: self.next_kwargs().map(Json),
                arg_bindings: self.arg_bindings.clone(),
            },
        }
    }

    fn execute(
        mut self,
        schema: SchemaVersion,
        params: BTreeMap<String, Value>,
        max_tries: u32,
        body: Body<'_>,
    ) -> TestOutcome {
        let now = OffsetDateTime::now_utc();
        let details = schema.incoming(self.startup(max_tries, now));
        let should_retry = details.ti_context.should_retry;
        let masker = Arc::new(logs::Masker::new(&self.sensitive_names));
        let fake = Arc::new(FakeSupervisor::new(
            schema,
            DEFAULT_TIMEOUT,
            self.dag_id.clone(),
            self.logical_date,
            std::mem::take(&mut self.state),
            std::mem::take(&mut self.injections),
            Arc::clone(&masker),
        ));
        let signal = Arc::new(AtomicUsize::new(0));
        let sigterm = signal_hook::consts::SIGTERM as usize;
        let cancel_at = self.cancel_after.map(|after| {
            if after.is_zero() {
                signal.store(sigterm, Ordering::SeqCst);
            } else {
                let signal = Arc::clone(&signal);
                std::thread::spawn(move || {
                    std::thread::sleep(after);
                    signal.store(sigterm, Ordering::SeqCst);
                });
            }
            Instant::now() + after
        });
        // Panics reach the run's log as they reach the task log in Airflow (run_one installs
        // the hook; the capture starts first so that nothing logged is lost).
        let capture = logs::start(self.log_level, masker, self.all_threads);
        let logs_captured = capture.active;
        let mut ctx = TaskContext::new(
            details,
            Arc::clone(&fake) as Arc<dyn crate::transport::Supervisor>,
            Arc::clone(&signal),
        )
        .with_params(params)
        .with_outlets(std::mem::take(&mut self.outlets));

        let returned = RefCell::new(None);
        let (terminal, error, produced) = match body {
            Body::Unknown(bundle) => {
                let (terminal, message) =
                    runtime::unknown_task(bundle, &self.dag_id, &self.task_id);
                (terminal, Some(message), Outlets::default())
            }
            Body::Task(f) => {
                let keep = |ctx: &mut TaskContext| {
                    let value = f(ctx)?;
                    *returned.borrow_mut() = Some(value.clone());
                    Ok(value)
                };
                let run = Run::Inline {
                    ctx: &mut ctx,
                    f: &keep,
                    signalled_at: cancel_at,
                };
                let limit = Limit {
                    timeout: self
                        .execution_timeout
                        .map(|d| ExecutionTimeout(d.as_secs_f64())),
                    schema,
                };
                let finished = run_one(run, &signal, should_retry, limit);
                if finished.abandoned {
                    returned.borrow_mut().take();
                }
                (finished.terminal, finished.error, finished.produced)
            }
        };
        let emitted_assets = ctx
            .emitted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let emitted_alias_events = ctx
            .alias_emitted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|e| (e.alias.clone(), e.asset.clone(), e.extra.clone()))
            .collect();
        let retry_delay = match &terminal {
            Terminal::RetryAfter(_, delay) => Some(*delay),
            _ => None,
        };
        let deferral = match &terminal {
            Terminal::Deferred(d) => Some(Defer::from_message(d)),
            _ => None,
        };
        let reschedule_date = match &terminal {
            Terminal::Rescheduled(at) => {
                OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()
            }
            _ => None,
        };
        drop(ctx);
        let terminal_message = schema.outgoing(terminal_message(&terminal, produced));
        let logs = capture.finish();
        let state = fake.take_state();
        let input_request = match (&terminal, state.input_requests.last()) {
            (Terminal::AwaitingInput(wait), Some(detail)) => {
                Some(InputRequest::from_messages(detail, wait))
            }
            _ => None,
        };
        TestOutcome {
            state: TestState::of(&terminal),
            return_value: returned.into_inner().filter(|v| !v.is_null()),
            error,
            xcoms_pushed: state.pushed,
            logs,
            logs_captured,
            requests: state.requests,
            terminal: Request {
                kind: RequestKind::of(&terminal_message),
                body: serde_json::to_value(&terminal_message).unwrap_or(Value::Null),
                failure: None,
            },
            variables: state.variables,
            state_store: state
                .state_store
                .into_iter()
                .filter(|((ti, _), _)| *ti == self.ti_id)
                .map(|((_, k), v)| (k, v))
                .collect(),
            skipped_tasks: state.skipped,
            triggered_runs: state.triggered,
            rendered_fields: state.rendered_fields,
            rendered_map_index: state.rendered_map_index,
            emitted_assets,
            emitted_alias_events,
            retry_delay,
            asset_state: state.asset_state,
            deferral,
            reschedule_date,
            input_request,
        }
    }
}

/// What a run runs.
enum Body<'a> {
    /// A task function, its value erased to JSON.
    Task(&'a dyn Fn(&mut TaskContext) -> Result<Value, TaskError>),
    /// A task id the bundle does not have.
    Unknown(&'a Bundle),
}

/// How the task instance ended: the state the runtime reported to Airflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TestState {
    /// `success`: the function returned a value (pushed as `return_value`).
    Success,
    /// `up_for_retry`: it failed (error, panic, or not stopping after cancellation) and
    /// `try_number <= max_tries`.
    UpForRetry,
    /// `failed`: it failed on its last try, or with [`TaskError::fail_no_retry`], or a typed
    /// argument did not fit.
    Failed,
    /// `skipped`: it returned [`TaskError::skip`].
    Skipped,
    /// `removed`: it returned [`TaskError::remove`].
    Removed,
    /// `deferred`: it returned [`TaskError::defer`]; see [`TestOutcome::deferral`], and
    /// [`TestRun::resume`] to test the resume handler.
    Deferred,
    /// `awaiting_input`: it asked a person ([`TaskContext::await_input`]); see
    /// [`TestOutcome::input_request`], and [`TestRun::answer_input`] to test the resume handler.
    AwaitingInput,
    /// `up_for_reschedule`: it asked to run again later ([`TaskError::reschedule_at`], a
    /// [`Sensor`](crate::Sensor) in reschedule mode); see [`TestOutcome::reschedule_date`].
    UpForReschedule,
}

impl TestState {
    fn of(terminal: &Terminal) -> Self {
        match terminal {
            Terminal::Success => TestState::Success,
            Terminal::Retry(_) | Terminal::RetryAfter(..) => TestState::UpForRetry,
            Terminal::Failed => TestState::Failed,
            Terminal::Skipped => TestState::Skipped,
            Terminal::Removed => TestState::Removed,
            Terminal::Deferred(_) => TestState::Deferred,
            Terminal::AwaitingInput(_) => TestState::AwaitingInput,
            Terminal::Rescheduled(_) => TestState::UpForReschedule,
        }
    }

    /// Airflow's name for the state: `success`, `up_for_retry`, `failed`, `skipped`,
    /// `removed`, `deferred`, `awaiting_input`, `up_for_reschedule`.
    pub fn as_str(self) -> &'static str {
        match self {
            TestState::Success => "success",
            TestState::UpForRetry => "up_for_retry",
            TestState::Failed => "failed",
            TestState::Skipped => "skipped",
            TestState::Removed => "removed",
            TestState::Deferred => "deferred",
            TestState::AwaitingInput => "awaiting_input",
            TestState::UpForReschedule => "up_for_reschedule",
        }
    }
}

impl fmt::Display for TestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record the task logged, as Airflow's task log shows it: every string masked with the
/// secrets registered before it was logged (Connection passwords and extras, Variables with
/// sensitive keys, [`TaskContext::mask_secret`]; secrets shorter than 5 characters are not
/// masked, as in Airflow), and the string value of a field with a sensitive name (`password`,
/// `token`, ...) shown as `***`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CapturedLog {
    /// The level (`Trace` reaches Airflow as `debug`; see [`airflow_level`](Self::airflow_level)).
    pub level: Level,
    /// The logger: the record's target, by default the module path.
    pub target: String,
    /// The message (Airflow's `event`).
    pub message: String,
    /// The structured fields, by name; names the supervisor reserves are renamed
    /// `field.<name>`, as the runtime sends them.
    pub fields: serde_json::Map<String, Value>,
}

impl CapturedLog {
    /// The level name in Airflow's task log: `error`, `warning`, `info` or `debug`.
    pub fn airflow_level(&self) -> &'static str {
        crate::runtime::logging::level_name(self.level)
    }
}

impl fmt::Display for CapturedLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.airflow_level(),
            self.target,
            self.message
        )?;
        for (k, v) in &self.fields {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

/// The kind of a request a task makes to Airflow (the message's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// `GetVariable`: reads a Variable.
    GetVariable,
    /// `PutVariable`: writes a Variable.
    PutVariable,
    /// `DeleteVariable`: deletes a Variable.
    DeleteVariable,
    /// `GetConnection`: reads a Connection.
    GetConnection,
    /// `GetXCom`: pulls an XCom.
    GetXCom,
    /// `SetXCom`: pushes an XCom (the returned value too).
    SetXCom,
    /// `DeleteXCom`: deletes an XCom of this task instance (left by an earlier try).
    DeleteXCom,
    /// `GetXComCount`: counts an XCom's values.
    GetXComCount,
    /// `GetXComSequenceSlice`: reads what every task instance of a mapped task pushed.
    GetXComSequenceSlice,
    /// `GetTaskStateStore`: reads the task state store.
    GetTaskStateStore,
    /// `SetTaskStateStore`: writes the task state store.
    SetTaskStateStore,
    /// `DeleteTaskStateStore`: deletes a key of the task state store.
    DeleteTaskStateStore,
    /// `ClearTaskStateStore`: clears the task state store.
    ClearTaskStateStore,
    /// `SkipDownstreamTasks`: marks downstream tasks skipped.
    SkipDownstreamTasks,
    /// `TriggerDagRun`: triggers a dag run.
    TriggerDagRun,
    /// `GetDagRunState`: reads a dag run's state.
    GetDagRunState,
    /// `GetTICount`: counts task instances.
    GetTICount,
    /// `GetDRCount`: counts dag runs.
    GetDRCount,
    /// `GetTaskStates`: reads task instances' states.
    GetTaskStates,
    /// `GetPreviousDagRun`: reads the dag run before a date.
    GetPreviousDagRun,
    /// `GetPrevSuccessfulDagRun`: reads the previous successful run of this dag.
    GetPrevSuccessfulDagRun,
    /// `SetRenderedFields`: sets the rendered fields.
    SetRenderedFields,
    /// `SetRenderedMapIndex`: sets the rendered map index.
    SetRenderedMapIndex,
    /// `GetAssetByName`: reads an asset by name.
    GetAssetByName,
    /// `GetAssetByUri`: reads an asset by URI.
    GetAssetByUri,
    /// `GetAssetEventByAsset`: reads an asset's events.
    GetAssetEventByAsset,
    /// `MaskSecret`: registers a secret to mask in the task log.
    MaskSecret,
    /// `SetExecutionTimeout`: tells Airflow 3.4's supervisor the task's execution timeout
    /// (schema 2026-10-30), before the function runs.
    SetExecutionTimeout,
    /// `GetAssetStateStoreByName`: reads a key of an asset's state store.
    GetAssetStateStoreByName,
    /// `GetAssetStateStoreByUri`: the same, the asset named by URI.
    GetAssetStateStoreByUri,
    /// `SetAssetStateStoreByName`: writes a key of an asset's state store.
    SetAssetStateStoreByName,
    /// `SetAssetStateStoreByUri`: the same, the asset named by URI.
    SetAssetStateStoreByUri,
    /// `DeleteAssetStateStoreByName`: deletes a key of an asset's state store.
    DeleteAssetStateStoreByName,
    /// `DeleteAssetStateStoreByUri`: the same, the asset named by URI.
    DeleteAssetStateStoreByUri,
    /// `ClearAssetStateStoreByName`: deletes every key of an asset's state store.
    ClearAssetStateStoreByName,
    /// `ClearAssetStateStoreByUri`: the same, the asset named by URI.
    ClearAssetStateStoreByUri,
    /// `GetAssetsByAlias`: the assets an alias resolved to.
    GetAssetsByAlias,
    /// `GetAssetEventByAssetAlias`: the events emitted through an alias.
    GetAssetEventByAssetAlias,
    /// The terminal message of a success ([`TestOutcome::terminal`]).
    SucceedTask,
    /// The terminal message of a failed try that is retried.
    RetryTask,
    /// The terminal message of a failed or skipped task.
    TaskState,
    /// The terminal message of a deferred task.
    DeferTask,
    /// The terminal message of a task waiting for a person's input.
    AwaitInputTask,
    /// The terminal message of a rescheduled task.
    RescheduleTask,
    /// `GetTaskRescheduleStartDate`: when the first try started (a sensor's timeout).
    GetTaskRescheduleStartDate,
    /// `CreateHITLDetailPayload`: writes a human-in-the-loop request.
    CreateHITLDetailPayload,
    /// The answer to Airflow 3.4's Dag processor (never sent by a task).
    DagFileParsingResult,
    /// The answer to upstream main's task handler request (never sent by a task).
    TaskHandlerParsingResult,
}

impl RequestKind {
    pub(crate) fn of(message: &ToSupervisor) -> Self {
        use ToSupervisor as M;
        match message {
            M::GetVariable(_) => RequestKind::GetVariable,
            M::PutVariable(_) => RequestKind::PutVariable,
            M::DeleteVariable(_) => RequestKind::DeleteVariable,
            M::GetConnection(_) => RequestKind::GetConnection,
            M::GetXCom(_) => RequestKind::GetXCom,
            M::SetXCom(_) => RequestKind::SetXCom,
            M::DeleteXCom(_) => RequestKind::DeleteXCom,
            M::GetXComCount(_) => RequestKind::GetXComCount,
            M::GetXComSequenceSlice(_) => RequestKind::GetXComSequenceSlice,
            M::GetTaskStateStore(_) => RequestKind::GetTaskStateStore,
            M::SetTaskStateStore(_) => RequestKind::SetTaskStateStore,
            M::DeleteTaskStateStore(_) => RequestKind::DeleteTaskStateStore,
            M::ClearTaskStateStore(_) => RequestKind::ClearTaskStateStore,
            M::SkipDownstreamTasks(_) => RequestKind::SkipDownstreamTasks,
            M::TriggerDagRun(_) => RequestKind::TriggerDagRun,
            M::GetDagRunState(_) => RequestKind::GetDagRunState,
            M::GetTICount(_) => RequestKind::GetTICount,
            M::GetDRCount(_) => RequestKind::GetDRCount,
            M::GetTaskStates(_) => RequestKind::GetTaskStates,
            M::GetPreviousDagRun(_) => RequestKind::GetPreviousDagRun,
            M::GetPrevSuccessfulDagRun(_) => RequestKind::GetPrevSuccessfulDagRun,
            M::SetRenderedFields(_) => RequestKind::SetRenderedFields,
            M::SetRenderedMapIndex(_) => RequestKind::SetRenderedMapIndex,
            M::GetAssetByName(_) => RequestKind::GetAssetByName,
            M::GetAssetByUri(_) => RequestKind::GetAssetByUri,
            M::GetAssetEventByAsset(_) => RequestKind::GetAssetEventByAsset,
            M::MaskSecret(_) => RequestKind::MaskSecret,
            M::SetExecutionTimeout(_) => RequestKind::SetExecutionTimeout,
            M::GetAssetStateStoreByName(_) => RequestKind::GetAssetStateStoreByName,
            M::GetAssetStateStoreByUri(_) => RequestKind::GetAssetStateStoreByUri,
            M::SetAssetStateStoreByName(_) => RequestKind::SetAssetStateStoreByName,
            M::SetAssetStateStoreByUri(_) => RequestKind::SetAssetStateStoreByUri,
            M::DeleteAssetStateStoreByName(_) => RequestKind::DeleteAssetStateStoreByName,
            M::DeleteAssetStateStoreByUri(_) => RequestKind::DeleteAssetStateStoreByUri,
            M::ClearAssetStateStoreByName(_) => RequestKind::ClearAssetStateStoreByName,
            M::ClearAssetStateStoreByUri(_) => RequestKind::ClearAssetStateStoreByUri,
            M::GetAssetsByAlias(_) => RequestKind::GetAssetsByAlias,
            M::GetAssetEventByAssetAlias(_) => RequestKind::GetAssetEventByAssetAlias,
            M::SucceedTask(_) => RequestKind::SucceedTask,
            M::RetryTask(_) => RequestKind::RetryTask,
            M::TaskState(_) => RequestKind::TaskState,
            M::DeferTask(_) => RequestKind::DeferTask,
            M::AwaitInputTask(_) => RequestKind::AwaitInputTask,
            M::RescheduleTask(_) => RequestKind::RescheduleTask,
            M::GetTaskRescheduleStartDate(_) => RequestKind::GetTaskRescheduleStartDate,
            M::CreateHITLDetailPayload(_) => RequestKind::CreateHITLDetailPayload,
            M::DagFileParsingResult(_) => RequestKind::DagFileParsingResult,
            M::TaskHandlerParsingResult(_) => RequestKind::TaskHandlerParsingResult,
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// How an injected failure fails a request ([`TestRun::fail_request`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Failure {
    /// The API call failed: what the supervisor sends when Airflow's API server answers an
    /// error status or cannot be reached (`API_SERVER_ERROR` with `status_code` and `message`).
    /// The task sees [`RequestError::ApiServer`](crate::RequestError::ApiServer).
    ApiServer {
        /// The HTTP status (`None`: the server could not be reached).
        status_code: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// An `ErrorResponse` body: `error` is `PERMISSION_DENIED` (the task sees
    /// [`RequestError::PermissionDenied`](crate::RequestError::PermissionDenied)), a
    /// `*_NOT_FOUND` (where a missing value is normal, the task sees `Ok(None)`), or another
    /// error type.
    ErrorResponse {
        /// The error type, e.g. `PERMISSION_DENIED`.
        error: String,
        /// Its details.
        detail: Value,
    },
    /// No answer within the request timeout (60 s by default; the harness does not wait). The
    /// task sees [`RequestError::Timeout`](crate::RequestError::Timeout).
    Timeout,
}

impl Failure {
    /// The API server answered `status_code` (500, 503, 404, ...) with `message`.
    pub fn api_server(status_code: u16, message: &str) -> Self {
        Failure::ApiServer {
            status_code: Some(status_code),
            message: message.to_owned(),
        }
    }

    /// The API server could not be reached (a connection error).
    pub fn unreachable(message: &str) -> Self {
        Failure::ApiServer {
            status_code: None,
            message: message.to_owned(),
        }
    }

    /// Airflow refused access (`PERMISSION_DENIED`, as for a 401 or 403).
    pub fn permission_denied() -> Self {
        Failure::ErrorResponse {
            error: "PERMISSION_DENIED".to_owned(),
            detail: serde_json::json!({"status_code": 403}),
        }
    }
}

/// One request the task made, as the supervisor received it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Request {
    /// The request's kind.
    pub kind: RequestKind,
    /// The message as JSON, as it goes on the wire (with its `type`), in the shape of the
    /// schema version the run speaks.
    pub body: Value,
    /// The failure the test injected, if this request was failed.
    pub failure: Option<Failure>,
}

/// An XCom the task pushed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PushedXCom {
    /// The key (`return_value` for the returned value).
    pub key: String,
    /// The value.
    pub value: Value,
    /// The task instance's map index (`None`: not mapped).
    pub map_index: Option<u32>,
}

/// A dag run the task triggered ([`TaskContext::trigger_dag`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TriggeredRun {
    /// The dag.
    pub dag_id: String,
    /// The run id.
    pub run_id: String,
    /// The run's conf, if given.
    pub conf: Option<Value>,
    /// The run's logical date, if given.
    pub logical_date: Option<OffsetDateTime>,
    /// Whether an existing run was to be cleared.
    pub reset_dag_run: bool,
    /// The note, if given.
    pub note: Option<String>,
}

/// What happened in a [`TestRun`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestOutcome {
    /// The state the runtime reported.
    pub state: TestState,
    /// What the function returned, as JSON (`None` for `()`, or when it did not return a
    /// value).
    pub return_value: Option<Value>,
    /// Why it did not succeed: the error (with its causes), `panicked: <message>`, or why the
    /// runtime failed it.
    pub error: Option<String>,
    /// The XComs it pushed, in order (the `return_value` last, after a success).
    pub xcoms_pushed: Vec<PushedXCom>,
    /// The records it logged (see [`CapturedLog`]), the runtime's own among them (for example
    /// `task failed: ...` from logger `airflow_sdk::runtime`).
    pub logs: Vec<CapturedLog>,
    /// Whether logs could be captured at all (`false` when the test binary installed another
    /// `log` logger).
    pub logs_captured: bool,
    /// Every request the task made, in order, failed ones included.
    pub requests: Vec<Request>,
    /// The terminal message the runtime sent (`SucceedTask` with the assets produced,
    /// `RetryTask`, or `TaskState`).
    pub terminal: Request,
    /// The Variables after the run.
    pub variables: BTreeMap<String, String>,
    /// This task instance's state store after the run.
    pub state_store: BTreeMap<String, Value>,
    /// The tasks it marked skipped ([`TaskContext::skip_tasks`], [`TaskContext::branch`]).
    pub skipped_tasks: Vec<String>,
    /// The dag runs it triggered.
    pub triggered_runs: Vec<TriggeredRun>,
    /// The rendered fields it set.
    pub rendered_fields: Option<Value>,
    /// The rendered map index it set.
    pub rendered_map_index: Option<String>,
    /// The assets it emitted with their extra ([`TaskContext::emit_asset`]; Airflow records
    /// them only when the task succeeds).
    pub emitted_assets: Vec<(Asset, Value)>,
    /// The events it emitted through aliases ([`TaskContext::emit_asset_via_alias`]): alias,
    /// asset, extra.
    pub emitted_alias_events: Vec<(AssetAlias, Asset, Value)>,
    /// The retry delay it asked for ([`TaskError::retry_after`]) when it ended up for retry;
    /// `None` for the task's declared `retry_delay`.
    pub retry_delay: Option<Duration>,
    /// The asset state store after the run, by asset name, then key.
    pub asset_state: BTreeMap<String, BTreeMap<String, Value>>,
    /// What the task deferred to, when it ended `deferred` ([`TaskError::defer`]).
    pub deferral: Option<Defer>,
    /// When the task asked to run again, when it ended `up_for_reschedule`.
    pub reschedule_date: Option<OffsetDateTime>,
    /// What the task asked a person, when it ended `awaiting_input`
    /// ([`TaskContext::await_input`]): the request as Airflow received it, with the timeout,
    /// resume handler and kwargs it waits with.
    pub input_request: Option<InputRequest>,
}

impl TestOutcome {
    /// The last value the task pushed under `key`.
    pub fn xcom(&self, key: &str) -> Option<&Value> {
        self.xcoms_pushed
            .iter()
            .rev()
            .find(|x| x.key == key)
            .map(|x| &x.value)
    }

    /// The requests of `kind`, in order.
    pub fn requests_of(&self, kind: RequestKind) -> impl Iterator<Item = &Request> + '_ {
        self.requests.iter().filter(move |r| r.kind == kind)
    }

    /// The first record whose message contains `text`.
    pub fn log_containing(&self, text: &str) -> Option<&CapturedLog> {
        self.logs.iter().find(|l| l.message.contains(text))
    }

    /// Panics, with the error and the logs, unless the state is `state`.
    #[track_caller]
    pub fn assert_state(&self, state: TestState) -> &Self {
        assert!(
            self.state == state,
            "the task ended {}, not {state}\n{self}",
            self.state
        );
        self
    }

    /// Panics, with the error and the logs, unless the task succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_state(TestState::Success)
    }
}

impl fmt::Display for TestOutcome {
    /// The state, the error, and the logs, for failure messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "state: {}", self.state)?;
        if let Some(e) = &self.error {
            writeln!(f, "error: {e}")?;
        }
        writeln!(f, "logs:")?;
        for l in &self.logs {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

/// Test constructors for [`DagRunInfo`] ([`TestRun::dag_run`]).
impl DagRunInfo {
    /// A dag run of `dag_id` in `state` (`queued`, `running`, `success`, `failed`): run type
    /// `manual`, conf `{}`, no dates (set the public fields for more).
    ///
    /// ```
    /// use airflow_sdk::DagRunInfo;
    /// use airflow_sdk::time::OffsetDateTime;
    /// let mut run = DagRunInfo::new("report", "scheduled__2026-01-01", "success");
    /// run.logical_date = OffsetDateTime::from_unix_timestamp(1_767_225_600).ok();
    /// ```
    pub fn new(dag_id: &str, run_id: &str, state: &str) -> Self {
        DagRunInfo {
            dag_id: dag_id.to_owned(),
            run_id: run_id.to_owned(),
            state: state.to_owned(),
            run_type: "manual".to_owned(),
            logical_date: None,
            data_interval_start: None,
            data_interval_end: None,
            start_date: None,
            end_date: None,
            conf: Value::Object(Default::default()),
        }
    }
}
