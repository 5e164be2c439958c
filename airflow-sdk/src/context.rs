//! What a running task can see and do.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::TaskError;
pub use crate::connection::Connection;
use crate::runtime::messages::{ArgBinding, Reply, StartupDetails, ToSupervisor, ToTask};
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
    pub(crate) emitted: Mutex<Vec<(crate::task_api::Asset, serde_json::Value)>>,
    /// The label of `set_rendered_map_index`, repeated in `SucceedTask`.
    pub(crate) rendered_map_index: Mutex<Option<String>>,
    /// The dag's declared params and their defaults.
    params: std::collections::BTreeMap<String, serde_json::Value>,
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
            rendered_map_index: Mutex::new(None),
            params: Default::default(),
        }
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

    /// Reads the Airflow Variable `key`. `Ok(None)` when it does not exist.
    ///
    /// As in Airflow, the environment variable `AIRFLOW_VAR_<KEY>` (the key upper-cased) is
    /// consulted first; then the Variable is asked of Airflow. The value is registered with the
    /// supervisor's secrets masker under its key, so when Airflow deems the key sensitive
    /// (`password`, `secret`, `api_key`, ... or `[core] sensitive_var_conn_names`), it is shown
    /// as `***` in the task log.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// let table = ctx.variable("report_table")?.unwrap_or_else(|| "report".into());
    /// # Ok(()) }
    /// ```
    pub fn variable(&self, key: &str) -> Result<Option<String>, RequestError> {
        let value = match std::env::var(format!("AIRFLOW_VAR_{}", key.to_uppercase())) {
            Ok(v) => Some(v),
            Err(_) => {
                let what = format!("GetVariable {key:?}");
                match self.request(&what, ToSupervisor::get_variable(key))? {
                    Reply::Body(ToTask::VariableResult(r)) => r.value,
                    Reply::ErrorBody(e) if e.error == "VARIABLE_NOT_FOUND" => None,
                    other => return Err(unexpected(&what, other)),
                }
            }
        };
        if let Some(v) = &value {
            self.mask_named(v, key)?;
        }
        Ok(value)
    }

    /// Reads the Airflow Connection `conn_id`. `Ok(None)` when it does not exist.
    ///
    /// As in Airflow, the environment variable `AIRFLOW_CONN_<CONN_ID>` (upper-cased) is
    /// consulted first, in either of Airflow's forms: a URI
    /// (`postgres://user:pass@host:5432/db?sslmode=require`) or a JSON object
    /// (`{"conn_type": "postgres", "host": ..., "extra": {...}}`). The password is registered
    /// with the supervisor's secrets masker, so it is shown as `***` if the task logs it.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), Box<dyn std::error::Error>> {
    /// let db = ctx.connection("warehouse")?.ok_or("no connection `warehouse`")?;
    /// let url = db.uri(); // as Airflow's Connection.get_uri() writes it
    /// # Ok(()) }
    /// ```
    pub fn connection(&self, conn_id: &str) -> Result<Option<Connection>, RequestError> {
        let env = format!("AIRFLOW_CONN_{}", conn_id.to_uppercase());
        let conn = match std::env::var(&env) {
            Ok(text) => {
                Some(
                    Connection::from_env(conn_id, &text).map_err(|e| RequestError::Value {
                        what: format!("the environment variable {env}"),
                        problem: format!("is not a connection: {e}"),
                    })?,
                )
            }
            Err(_) => self.connection_from_airflow(conn_id)?,
        };
        if let Some(password) = conn.as_ref().and_then(|c| c.password.as_deref())
            && !password.is_empty()
        {
            self.mask_secret(password)?;
        }
        Ok(conn)
    }

    fn connection_from_airflow(&self, conn_id: &str) -> Result<Option<Connection>, RequestError> {
        let what = format!("GetConnection {conn_id:?}");
        match self.request(&what, ToSupervisor::get_connection(conn_id))? {
            Reply::Body(ToTask::ConnectionResult(r)) => {
                let port = match r.port {
                    None => None,
                    Some(p) => Some(u16::try_from(p).map_err(|_| RequestError::Protocol {
                        request: format!("GetConnection {conn_id:?}"),
                        problem: format!("the connection has port {p}, not a port number"),
                    })?),
                };
                Ok(Some(Connection::new_parsed(
                    r.conn_id,
                    r.conn_type,
                    r.host,
                    r.schema,
                    r.login,
                    r.password,
                    port,
                    r.extra,
                )))
            }
            Reply::ErrorBody(e) if e.error == "CONNECTION_NOT_FOUND" => Ok(None),
            other => Err(unexpected(&what, other)),
        }
    }
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

impl TaskContext {
    /// The values of a typed task's parameters `names` (in that order), from the stub's
    /// argument bindings: literals as they are, upstream outputs pulled as XComs.
    pub(crate) fn bind_arguments(
        &self,
        task_id: &str,
        names: &[String],
    ) -> Result<Vec<BoundArg>, TaskError> {
        bind(
            task_id,
            names,
            self.details.ti_context.arg_bindings.as_deref(),
            |upstream| self.xcom_pull_json(upstream, "return_value"),
        )
    }
}

/// Binds parameters `names` of task `task_id` from the stub's `bindings`; `pull` fetches an
/// upstream task's output.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::messages::Json;

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
    fn long_values_are_shortened_in_messages() {
        let long = serde_json::Value::String("é".repeat(300));
        let p = preview(&long);
        assert!(p.len() < 260, "{p}");
        assert!(p.ends_with("bytes)"), "{p}");
    }
}
