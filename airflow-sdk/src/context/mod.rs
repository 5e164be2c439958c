//! What a running task can see and do: the task instance and dag run facts, cancellation, and
//! the requests to the supervisor, one module per concern.

mod args;
mod asset_alias;
mod asset_state;
mod assets;
mod connections;
mod hitl;
mod rendered;
mod runs;
mod secrets;
mod sensor;
mod state;
mod variables;
mod xcom;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

pub(crate) use args::{BoundArg, MapPlan, binding, render_map_index};
pub(crate) use asset_alias::AliasEmission;
pub use asset_alias::AssetAlias;
pub use asset_state::AssetStateStore;
pub use assets::{Asset, AssetEvent, AssetInfo};
pub use hitl::{HumanResponse, InputRequest, InputRequestError};
pub use runs::{DagRunInfo, DagRunQuery, PrevSuccessfulRun, TiQuery, TriggerOptions};
pub use sensor::{Sensor, SensorMode, SensorTimeout};
pub use state::StateStore;
pub use xcom::XComRef;

use crate::TaskError;
use crate::runtime::messages::{Reply, StartupDetails, ToSupervisor, ToTask};
use crate::transport::{CommError, Supervisor};

/// Why a request to Airflow failed. Each names the request and its key (for example
/// `GetVariable "my_key"`), so a failure in a task log says what was asked.
///
/// "Not found" is not an error where a missing value is normal: those methods return
/// `Ok(None)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Airflow refused access (`PERMISSION_DENIED`).
    #[error("{request}: permission denied by Airflow: {detail}")]
    PermissionDenied {
        /// The request and its key, e.g. `DeleteVariable "k"`.
        request: String,
        /// What the supervisor said.
        detail: serde_json::Value,
    },
    /// The API server failed or rejected the call (`API_SERVER_ERROR`, a `*_NOT_FOUND` where
    /// the thing must exist, and other errors).
    #[error("{request}: the Airflow API server failed ({error}): {detail}")]
    ApiServer {
        /// The request and its key, e.g. `GetDagRunState "dag/run"`.
        request: String,
        /// The supervisor's error type, e.g. `API_SERVER_ERROR`.
        error: String,
        /// Its details (status code, message, ...).
        detail: serde_json::Value,
    },
    /// The supervisor did not answer in time.
    #[error("{request}: no answer from the Airflow supervisor within {after:?}")]
    Timeout {
        /// The request and its key.
        request: String,
        /// How long it waited.
        after: Duration,
    },
    /// [`TaskContext::wait_dag_run`](crate::TaskContext::wait_dag_run) gave up: the supervisor
    /// answered every poll, and the run had not ended when the wait's timeout ran out.
    #[error(
        "dag run {dag_id:?} {run_id:?} is still {state} after {waited:.1?} (the timeout given to \
         wait_dag_run); wait longer or look at the run in Airflow"
    )]
    DagRunNotFinished {
        /// The dag of the run.
        dag_id: String,
        /// The run.
        run_id: String,
        /// Its last state (`queued` or `running`).
        state: String,
        /// How long it was waited for.
        waited: Duration,
    },
    /// The task was asked to stop (SIGTERM) while waiting.
    #[error("cancelled: the task was asked to stop")]
    Cancelled,
    /// The supervisor's answer could not be understood, or the channel is closed.
    #[error("{request}: protocol error talking to the Airflow supervisor: {problem}")]
    Protocol {
        /// The request and its key.
        request: String,
        /// What was wrong with the exchange.
        problem: String,
    },
    /// A value could not be converted to or from the type the task asked for.
    #[error("{what}: {problem}")]
    Value {
        /// The value: the request and its key, e.g. `XCom "rows"`.
        what: String,
        /// Why it does not convert.
        problem: String,
    },
}

impl RequestError {
    /// The error for a failed exchange of `request`.
    pub(crate) fn from_comm(request: &str, e: CommError) -> Self {
        match e {
            CommError::Timeout(after) => RequestError::Timeout {
                request: request.to_owned(),
                after,
            },
            CommError::Cancelled => RequestError::Cancelled,
            CommError::Broken(m) => RequestError::Protocol {
                request: request.to_owned(),
                problem: m,
            },
            e @ CommError::UnknownFirstMessage(_) => RequestError::Protocol {
                request: request.to_owned(),
                problem: e.to_string(),
            },
        }
    }
}

/// A cheap, clonable handle that tells whether the task was asked to stop (SIGTERM from
/// Airflow). Hand it to threads the task spawns.
#[derive(Clone, Debug)]
pub struct CancelToken(Arc<AtomicUsize>);

impl CancelToken {
    /// `true` once Airflow asked the task to stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst) != 0
    }
}

/// The context handed to a task function: the task instance and dag run it runs as, and access
/// to XComs, Variables and Connections through Airflow's supervisor.
pub struct TaskContext {
    details: StartupDetails,
    supervisor: Arc<dyn Supervisor>,
    signal: Arc<AtomicUsize>,
    /// Assets the task produced, with their event's extra (sent with `SucceedTask`).
    pub(crate) emitted: Mutex<Vec<(Asset, serde_json::Value)>>,
    /// Asset events emitted through aliases (sent with `SucceedTask`).
    pub(crate) alias_emitted: Mutex<Vec<AliasEmission>>,
    /// The label of `set_rendered_map_index`, repeated in `SucceedTask`.
    pub(crate) rendered_map_index: Mutex<Option<String>>,
    /// The dag's declared params and their defaults.
    params: std::collections::BTreeMap<String, serde_json::Value>,
    /// What dynamic task mapping asks of this task (set when it starts).
    pub(crate) mapping: MapPlan,
    /// The outlets the task declares (sent with `SucceedTask` as `task_outlets`).
    pub(crate) declared_outlets: Vec<airflow_bundle::declare::AssetOrAlias>,
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("ti_id", &self.details.ti.id)
            .field("dag_id", &self.details.ti.dag_id)
            .field("task_id", &self.details.ti.task_id)
            .field("run_id", &self.details.ti.run_id)
            .field("try_number", &self.details.ti.try_number)
            .finish_non_exhaustive()
    }
}

/// The error for a reply that does not answer `request`.
pub(crate) fn unexpected(request: &str, reply: Reply) -> RequestError {
    match reply {
        Reply::ErrorBody(e) if e.error == "PERMISSION_DENIED" => RequestError::PermissionDenied {
            request: request.to_owned(),
            detail: e.detail.0,
        },
        Reply::ErrorBody(e) | Reply::Failure(e) => RequestError::ApiServer {
            request: request.to_owned(),
            error: e.error,
            detail: e.detail.0,
        },
        Reply::Ack => RequestError::Protocol {
            request: request.to_owned(),
            problem: "got an empty reply".into(),
        },
        Reply::Body(body) => RequestError::Protocol {
            request: request.to_owned(),
            problem: format!("got a {} reply", body.kind()),
        },
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

impl TaskContext {
    /// A context whose requests go to `supervisor` (the comm socket, or the testing harness's).
    pub(crate) fn new(
        details: StartupDetails,
        supervisor: Arc<dyn Supervisor>,
        signal: Arc<AtomicUsize>,
    ) -> Self {
        TaskContext {
            details,
            supervisor,
            signal,
            emitted: Mutex::new(Vec::new()),
            alias_emitted: Mutex::new(Vec::new()),
            rendered_map_index: Mutex::new(None),
            params: Default::default(),
            mapping: MapPlan::default(),
            declared_outlets: Vec::new(),
        }
    }

    /// Sets the outlets the task declares ([`Task::outlet`](crate::Task::outlet)), normalized
    /// as Airflow stores them: each gets an event when the task succeeds.
    pub(crate) fn with_outlets(
        mut self,
        outlets: Vec<airflow_bundle::declare::AssetOrAlias>,
    ) -> Self {
        self.declared_outlets = outlets;
        self
    }

    /// Sets the dag's declared params (their defaults), for [`param`](Self::param).
    pub(crate) fn with_params(
        mut self,
        params: std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Self {
        self.params = params;
        self
    }

    /// The dag param `name` ([`Dag::param`](crate::Dag::param)) as type `T`: the run's conf value
    /// when the conf has the key (as Airflow lets conf override params), else the declared
    /// default. `Ok(None)` when the dag declares no such param and the conf lacks it; an error
    /// names the param when the value does not fit `T`.
    ///
    /// ```no_run
    /// # use airflow_sdk::{TaskContext, TaskResult};
    /// fn extract(ctx: &mut TaskContext) -> TaskResult {
    ///     let region: String = ctx.param("region")?.unwrap_or_default();
    ///     Ok(())
    /// }
    /// ```
    pub fn param<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, RequestError> {
        let value = match self.conf().get(name) {
            Some(v) => v,
            None => match self.params.get(name) {
                Some(v) => v,
                None => return Ok(None),
            },
        };
        serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| RequestError::Value {
                what: format!("param {name:?} of dag {:?}", self.details.ti.dag_id),
                problem: format!(
                    "does not fit the type {}: {e} (value: {value})",
                    std::any::type_name::<T>()
                ),
            })
    }

    /// The task instance id (a UUID).
    pub fn ti_id(&self) -> &str {
        &self.details.ti.id
    }

    /// The id of the dag this task belongs to.
    pub fn dag_id(&self) -> &str {
        &self.details.ti.dag_id
    }

    /// The id of this task.
    pub fn task_id(&self) -> &str {
        &self.details.ti.task_id
    }

    /// The dag run id.
    pub fn run_id(&self) -> &str {
        &self.details.ti.run_id
    }

    /// The try number, starting at 1.
    pub fn try_number(&self) -> u32 {
        u32::try_from(self.details.ti.try_number).unwrap_or(0)
    }

    /// Airflow's `max_tries` for this task instance: the task is retried after a failure while
    /// [`try_number`](Self::try_number) is at most this. For a task instance that was never
    /// cleared it equals the task's `retries`, so the last try is number `max_tries() + 1`
    /// (clearing a task instance raises it by the tries already spent).
    pub fn max_tries(&self) -> u32 {
        u32::try_from(self.details.ti_context.max_tries).unwrap_or(0)
    }

    /// The map index of a mapped task instance; `None` when the task is not mapped.
    pub fn map_index(&self) -> Option<u32> {
        self.details
            .ti
            .map_index()
            .and_then(|i| u32::try_from(i).ok())
    }

    /// When this try started.
    pub fn start_date(&self) -> Option<OffsetDateTime> {
        self.details.start_date.map(|t| t.0)
    }

    /// The dag run's logical date (`None` for runs without one).
    pub fn logical_date(&self) -> Option<OffsetDateTime> {
        self.details.ti_context.dag_run.logical_date.map(|t| t.0)
    }

    /// Start of the dag run's data interval.
    pub fn data_interval_start(&self) -> Option<OffsetDateTime> {
        self.details
            .ti_context
            .dag_run
            .data_interval_start
            .map(|t| t.0)
    }

    /// End of the dag run's data interval.
    pub fn data_interval_end(&self) -> Option<OffsetDateTime> {
        self.details
            .ti_context
            .dag_run
            .data_interval_end
            .map(|t| t.0)
    }

    /// The earliest time the dag run could be scheduled.
    pub fn run_after(&self) -> Option<OffsetDateTime> {
        self.details.ti_context.dag_run.run_after.map(|t| t.0)
    }

    /// The dag run's type: `manual`, `scheduled`, `backfill`, `asset_triggered`, ...
    pub fn run_type(&self) -> &str {
        &self.details.ti_context.dag_run.run_type
    }

    /// The dag run's `conf` (`Null` when none was given).
    pub fn conf(&self) -> &serde_json::Value {
        &self.details.ti_context.dag_run.conf.0
    }

    /// `true` once Airflow asked the task to stop (SIGTERM). Long tasks should poll it and
    /// return an error; the runtime reports the task as failed (or up for retry) either way
    /// shortly after the signal.
    pub fn is_cancelled(&self) -> bool {
        self.signal.load(Ordering::SeqCst) != 0
    }

    /// A handle to [`is_cancelled`](Self::is_cancelled) for other threads.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken(Arc::clone(&self.signal))
    }

    /// Sleeps for `duration`, waking early with an error if the task is asked to stop.
    pub fn sleep(&self, duration: Duration) -> Result<(), TaskError> {
        let end = Instant::now() + duration;
        loop {
            if self.is_cancelled() {
                return Err(TaskError::fail("the task was asked to stop (SIGTERM)"));
            }
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }

    /// Sends `message` and waits for its reply; `what` names it in errors (`GetVariable "k"`).
    /// Callable from several threads at once: requests are matched to replies by id.
    pub(crate) fn request(&self, what: &str, message: ToSupervisor) -> Result<Reply, RequestError> {
        let timeout = self.supervisor.timeout();
        self.supervisor
            .request(message, timeout, true)
            .map_err(|e| RequestError::from_comm(what, e))
    }
}
