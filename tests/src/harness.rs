//! Rust wrappers around the Python harness scripts in `tests/harness`.
//!
//! * [`reader`]: what the released reader and bundle lookup make of the files under some roots.
//! * [`run_task`] / [`RunOptions::run`]: one task of a bundle run under the released supervisor
//!   against a mocked Task Execution API; the [`TaskRun`] says what the API server was told.
//!   Only for faults a real API server cannot be made to produce ([`RunOptions::api_fault`], a
//!   silent or vanishing supervisor): everything else is judged by a real deployment
//!   ([`crate::deploy`]).
//!
//! Each call starts one Python process (about 1.5 to 2 s, most of it importing Airflow).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

use crate::venv;

// ---------------------------------------------------------------------------------------------
// Values as PyYAML loaded them

/// A value as Python holds it after `yaml.safe_load`, with its type kept, so that a test can
/// tell the string `"123"` from the int `123` or the date `2026-01-01`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "lowercase")]
pub enum PyValue {
    /// `str`.
    Str(String),
    /// `int`, as decimal text (Python ints are unbounded).
    Int(String),
    /// `float`, as Python's `repr`.
    Float(String),
    /// `bool`.
    Bool(bool),
    /// `None`.
    None,
    /// `datetime.date`, ISO text.
    Date(String),
    /// `datetime.datetime`, ISO text.
    Datetime(String),
    /// `bytes`, hex.
    Bytes(String),
    /// `list`.
    List(Vec<PyValue>),
    /// `dict`, as key/value pairs in Python's iteration (insertion) order.
    Dict(Vec<(PyValue, PyValue)>),
    /// Anything else, as `type: repr`.
    Other(String),
}

impl PyValue {
    /// The Python type name (`"str"`, `"int"`, `"date"`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::Str(_) => "str",
            PyValue::Int(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Bool(_) => "bool",
            PyValue::None => "NoneType",
            PyValue::Date(_) => "date",
            PyValue::Datetime(_) => "datetime",
            PyValue::Bytes(_) => "bytes",
            PyValue::List(_) => "list",
            PyValue::Dict(_) => "dict",
            PyValue::Other(_) => "other",
        }
    }

    /// The string, when this is a Python `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items, when this is a `list`.
    pub fn as_list(&self) -> Option<&[PyValue]> {
        match self {
            PyValue::List(items) => Some(items),
            _ => None,
        }
    }

    /// The pairs, when this is a `dict`.
    pub fn as_dict(&self) -> Option<&[(PyValue, PyValue)]> {
        match self {
            PyValue::Dict(pairs) => Some(pairs),
            _ => None,
        }
    }

    /// The value under the `str` key `key`, when this is a `dict` that has it.
    pub fn get(&self, key: &str) -> Option<&PyValue> {
        self.as_dict()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

// ---------------------------------------------------------------------------------------------
// reader.py

/// What 1.3.2's `_Bundle.find` said for one dag id.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Lookup {
    /// Whether a bundle was found.
    pub found: bool,
    /// The bundle it would launch (resolved, as Airflow resolves it).
    pub path: Option<PathBuf>,
    /// The supervisor schema version it resolved.
    pub schema_version: Option<String>,
    /// The exception text, when not found (`FileNotFoundError: cannot find ...`).
    pub error: Option<String>,
}

/// What 1.3.2's reader made of one regular file under the roots.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FileReport {
    /// The file (resolved).
    pub path: PathBuf,
    /// Whether the coordinator's scan (`_find_executables`) considers it: a regular file with the
    /// execute bit.
    pub scanned: bool,
    /// Whether `_read_bundle_metadata` returned a mapping (trailer, sha256, UTF-8 and YAML all
    /// fine). It does not look at the execute bit.
    pub metadata_accepted: bool,
    /// The manifest as PyYAML loaded it, when accepted.
    pub manifest: Option<PyValue>,
    /// The keys of `dags` (the ids a lookup can match), when `dags` is a mapping.
    pub dag_ids: Vec<PyValue>,
    /// `sdk.supervisor_schema_version` as the installed supervisor resolved it.
    pub schema_version: Option<String>,
    /// Why the schema version was refused, when it was.
    pub schema_error: Option<String>,
    /// Whether `_Bundle.find` would return this file for at least one dag id: scanned, metadata
    /// accepted, at least one `str` dag id, and a resolvable schema version.
    pub accepted: bool,
}

impl FileReport {
    /// The dags as loaded: each dag id with its task ids (typed). Empty when there is no
    /// manifest or `dags` is not a mapping.
    pub fn dags(&self) -> Vec<(PyValue, Vec<PyValue>)> {
        let Some(dags) = self.manifest.as_ref().and_then(|m| m.get("dags")) else {
            return Vec::new();
        };
        dags.as_dict()
            .unwrap_or_default()
            .iter()
            .map(|(id, dag)| {
                let tasks = dag
                    .get("tasks")
                    .and_then(PyValue::as_list)
                    .unwrap_or_default()
                    .to_vec();
                (id.clone(), tasks)
            })
            .collect()
    }
}

/// The output of `reader.py`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReaderReport {
    /// The installed `apache-airflow-task-sdk` version that answered.
    pub package_version: String,
    /// One lookup per dag id asked for.
    pub lookups: BTreeMap<String, Lookup>,
    /// Every regular file under the roots, sorted by path.
    pub files: Vec<FileReport>,
}

impl ReaderReport {
    /// The lookup for `dag_id`; panics if it was not asked for.
    pub fn lookup(&self, dag_id: &str) -> &Lookup {
        self.lookups
            .get(dag_id)
            .unwrap_or_else(|| panic!("dag id {dag_id:?} was not looked up; ask reader() for it"))
    }

    /// The report for the file at `path`; panics if the reader did not see it.
    pub fn file(&self, path: &Path) -> &FileReport {
        let wanted = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        self.files
            .iter()
            .find(|f| f.path == wanted)
            .unwrap_or_else(|| panic!("{} is not among the files the reader saw", path.display()))
    }
}

/// Runs `reader.py` over `roots`, looking up each of `dag_ids` with 1.3.2's `_Bundle.find`.
pub fn reader<P: AsRef<Path>, S: AsRef<str>>(roots: &[P], dag_ids: &[S]) -> Result<ReaderReport> {
    let mut args: Vec<OsString> = Vec::new();
    for root in roots {
        let root = root.as_ref();
        let abs = std::path::absolute(root).with_context(|| format!("{}", root.display()))?;
        args.push("--root".into());
        args.push(abs.into());
    }
    for id in dag_ids {
        args.push("--dag-id".into());
        args.push(id.as_ref().into());
    }
    let (stdout, _stderr) = run_script("reader.py", &args, &[])?;
    serde_json::from_str(&stdout).with_context(|| format!("parsing reader.py output: {stdout}"))
}

// ---------------------------------------------------------------------------------------------
// run_task.py

/// Which entry point of the released package launches the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Via {
    /// `ExecutableCoordinator(executables_root=[dir]).execute_task(...)`.
    #[default]
    Coordinator,
    /// The worker entry point `supervise_task(...)`, routed to the executable coordinator through
    /// `AIRFLOW__SDK__COORDINATORS` and `AIRFLOW__SDK__QUEUE_TO_COORDINATOR`.
    SuperviseTask,
}

/// How to run one task; build with [`RunOptions::new`] and the chained setters, then
/// [`RunOptions::run`].
///
/// ```no_run
/// # use airflow_e2e::harness::RunOptions;
/// # use serde_json::json;
/// let run = RunOptions::new("/tmp/bundles", "example_etl", "extract")
///     .should_retry(true)
///     .conf(json!({"fail": true}))
///     .variable("my_var", "hello")
///     .run()
///     .unwrap();
/// assert_eq!(run.api_state(), Some("up_for_retry"), "{run}");
/// ```
#[derive(Debug, Clone)]
pub struct RunOptions {
    bundles: PathBuf,
    dag_id: String,
    task_id: String,
    run_id: String,
    try_number: u32,
    map_index: i64,
    max_tries: Option<u32>,
    should_retry: bool,
    conf: Option<Value>,
    variables: Vec<(String, String)>,
    connections: Vec<(String, Value)>,
    xcoms: Vec<(String, Value)>,
    via: Via,
    timeout: Duration,
    startup_timeout: Duration,
    sigterm_after: Option<Duration>,
    sigterm_when_logged: Option<String>,
    env: Vec<(OsString, OsString)>,
    api_faults: Vec<String>,
}

/// The run id used unless [`RunOptions::run_id`] sets another.
pub const DEFAULT_RUN_ID: &str = "manual__e2e";

impl RunOptions {
    /// Runs `task_id` of `dag_id`, with `bundles` as the only `executables_root`.
    pub fn new(bundles: impl Into<PathBuf>, dag_id: &str, task_id: &str) -> Self {
        RunOptions {
            bundles: bundles.into(),
            dag_id: dag_id.to_owned(),
            task_id: task_id.to_owned(),
            run_id: DEFAULT_RUN_ID.to_owned(),
            try_number: 1,
            map_index: -1,
            max_tries: None,
            should_retry: false,
            conf: None,
            variables: Vec::new(),
            connections: Vec::new(),
            xcoms: Vec::new(),
            via: Via::Coordinator,
            timeout: Duration::from_secs(60),
            startup_timeout: Duration::from_secs(10),
            sigterm_after: None,
            sigterm_when_logged: None,
            api_faults: Vec::new(),
            env: Vec::new(),
        }
    }

    /// The dag run id (default [`DEFAULT_RUN_ID`]).
    pub fn run_id(mut self, run_id: &str) -> Self {
        self.run_id = run_id.to_owned();
        self
    }

    /// The try number (default 1).
    pub fn try_number(mut self, n: u32) -> Self {
        self.try_number = n;
        self
    }

    /// The map index (default -1, unmapped).
    pub fn map_index(mut self, index: i64) -> Self {
        self.map_index = index;
        self
    }

    /// `ti_context.max_tries` (default 1, or 2 with `should_retry`).
    pub fn max_tries(mut self, n: u32) -> Self {
        self.max_tries = Some(n);
        self
    }

    /// `ti_context.should_retry` (default false).
    pub fn should_retry(mut self, yes: bool) -> Self {
        self.should_retry = yes;
        self
    }

    /// The dag run's `conf` (a JSON object).
    pub fn conf(mut self, conf: Value) -> Self {
        self.conf = Some(conf);
        self
    }

    /// A Variable the mocked API serves.
    pub fn variable(mut self, key: &str, value: &str) -> Self {
        self.variables.push((key.to_owned(), value.to_owned()));
        self
    }

    /// A Connection the mocked API serves: a JSON object with any of `conn_type`, `host`,
    /// `schema`, `login`, `password`, `port`, `extra` (an object is sent as its JSON string, as
    /// the real API does).
    pub fn connection(mut self, conn_id: &str, fields: Value) -> Self {
        self.connections.push((conn_id.to_owned(), fields));
        self
    }

    /// An XCom already stored (unmapped) before the run, so the task can pull it.
    pub fn xcom(
        mut self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        key: &str,
        value: Value,
    ) -> Self {
        self.xcoms
            .push((format!("{dag_id}/{run_id}/{task_id}/{key}"), value));
        self
    }

    /// Which entry point launches the task (default [`Via::Coordinator`]).
    pub fn via(mut self, via: Via) -> Self {
        self.via = via;
        self
    }

    /// Kill the bundle if the run takes longer (default 60 s); the report then has `timed_out`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The coordinator's `task_startup_timeout` (default 10 s, Airflow's default).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Send SIGTERM to the bundle process this long after the harness starts the run (with
    /// [`RunOptions::sigterm_when_logged`] too: wait this long, then for the record).
    pub fn sigterm_after(mut self, after: Duration) -> Self {
        self.sigterm_after = Some(after);
        self
    }

    /// Send SIGTERM to the bundle process as soon as a task-log line containing `text` has been
    /// written (for example the task's "started waiting" record): no guessing how long start-up
    /// takes.
    pub fn sigterm_when_logged(mut self, text: &str) -> Self {
        self.sigterm_when_logged = Some(text.to_owned());
        self
    }

    /// An environment variable for the harness, and so for the supervisor and the bundle (for
    /// example `AIRFLOW__LOGGING__LOGGING_LEVEL`, which the supervisor passes on).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs the task; see [`run_task`].
    pub fn run(&self) -> Result<TaskRun> {
        run_task(self)
    }

    /// Answers the API calls with `method` whose path contains `path_part` with HTTP `status`
    /// (a fault a real API server cannot be made to produce on demand).
    pub fn api_fault(mut self, method: &str, path_part: &str, status: u16) -> Self {
        self.api_faults
            .push(format!("{method}:{path_part}={status}"));
        self
    }

    fn to_args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |k: &str, v: OsString| {
            a.push(k.into());
            a.push(v);
        };
        let bundles = std::path::absolute(&self.bundles).unwrap_or_else(|_| self.bundles.clone());
        push("--bundles", bundles.into());
        push("--dag-id", self.dag_id.clone().into());
        push("--task-id", self.task_id.clone().into());
        push("--run-id", self.run_id.clone().into());
        push("--try-number", self.try_number.to_string().into());
        push("--map-index", self.map_index.to_string().into());
        if let Some(n) = self.max_tries {
            push("--max-tries", n.to_string().into());
        }
        if let Some(conf) = &self.conf {
            push("--conf", conf.to_string().into());
        }
        for (k, v) in &self.variables {
            push("--variable", format!("{k}={v}").into());
        }
        for (k, v) in &self.connections {
            push("--connection", format!("{k}={v}").into());
        }
        for (k, v) in &self.xcoms {
            push("--xcom", format!("{k}={v}").into());
        }
        push(
            "--via",
            match self.via {
                Via::Coordinator => "coordinator",
                Via::SuperviseTask => "supervise_task",
            }
            .into(),
        );
        push("--timeout", self.timeout.as_secs_f64().to_string().into());
        push(
            "--startup-timeout",
            self.startup_timeout.as_secs_f64().to_string().into(),
        );
        if let Some(after) = self.sigterm_after {
            push("--sigterm-after", after.as_secs_f64().to_string().into());
        }
        if let Some(text) = &self.sigterm_when_logged {
            push("--sigterm-when-logged", text.into());
        }
        if self.should_retry {
            a.push("--should-retry".into());
        }
        for fault in &self.api_faults {
            a.push("--api-fault".into());
            a.push(fault.into());
        }
        a
    }
}

/// One call the supervisor made to the mocked Task Execution API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ApiCall {
    /// HTTP method.
    pub method: String,
    /// URL path, e.g. `/task-instances/<id>/state` or `/variables/my_var`.
    pub path: String,
    /// Query parameters.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// JSON body, if any.
    pub body: Option<Value>,
}

/// An XCom in the mocked API's store after the run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StoredXCom {
    /// Dag id.
    pub dag_id: String,
    /// Run id.
    pub run_id: String,
    /// Task id.
    pub task_id: String,
    /// Key.
    pub key: String,
    /// Map index (-1 when unmapped).
    pub map_index: i64,
    /// The value (what the supervisor POSTed).
    pub value: Value,
}

/// One record of the task's log as the supervisor wrote it (JSON lines, as in production):
/// records from the logs socket keep their fields; stdout and stderr lines come with the
/// loggers `task.stdout` (level info) and `task.stderr` (level error). The supervisor's own
/// records about the task (for example `Process exited abnormally`) are in the same log, as in
/// Airflow's task log view.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LogRecord {
    /// The message.
    #[serde(default)]
    pub event: Value,
    /// Lower-case level name.
    #[serde(default)]
    pub level: Option<String>,
    /// Logger name.
    #[serde(default)]
    pub logger: Option<String>,
    /// RFC 3339 timestamp.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
}

impl LogRecord {
    /// The message as text.
    pub fn message(&self) -> String {
        match &self.event {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// Another field of the record.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }
}

impl std::fmt::Display for LogRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] {}: {}",
            self.level.as_deref().unwrap_or("-"),
            self.logger.as_deref().unwrap_or("-"),
            self.message()
        )?;
        for (k, v) in &self.fields {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

/// What happened when one task ran under the released supervisor (`run_task.py`'s report).
///
/// Judge a run by [`TaskRun::api_state`], the state the API server was told; the supervisor's
/// own idea ([`TaskRun::supervisor_state`]) can differ (see the coordinator-protocol notes).
/// `Display` prints a summary with the logs, for assertion messages.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskRun {
    /// The task instance id the run used.
    pub ti_id: String,
    /// `coordinator` or `supervise_task`.
    pub via: String,
    /// The last state PATCHed to `/task-instances/{id}/state`.
    #[serde(rename = "api_state")]
    pub last_api_state: Option<String>,
    /// Every state PATCH body, in order.
    pub state_patches: Vec<Value>,
    /// `ExecutionResult.final_state` (coordinator mode only).
    pub supervisor_state: Option<String>,
    /// The bundle's exit code as the supervisor saw it (negative: killed by that signal).
    pub exit_code: Option<i32>,
    /// The exception the run raised, if any (e.g. `FileNotFoundError: ...`).
    pub error: Option<String>,
    /// Every API call, in order.
    pub api_calls: Vec<ApiCall>,
    /// The XCom store after the run (including XComs seeded with [`RunOptions::xcom`]).
    pub xcoms: Vec<StoredXCom>,
    /// The task log.
    pub logs: Vec<LogRecord>,
    /// Pids that SIGTERM was sent to ([`RunOptions::sigterm_after`],
    /// [`RunOptions::sigterm_when_logged`]).
    pub sigterm_sent_to: Vec<u32>,
    /// Whether the harness had to kill the bundle after [`RunOptions::timeout`].
    pub timed_out: bool,
    /// Wall time of the run inside the harness, in seconds (Python start-up not included).
    pub duration_s: f64,
    /// The harness's stderr (the supervisor's own log), for diagnostics.
    #[serde(skip)]
    pub harness_stderr: String,
}

impl TaskRun {
    /// The state the API server was last told, if any.
    pub fn api_state(&self) -> Option<&str> {
        self.last_api_state.as_deref()
    }

    /// The task log.
    pub fn logs(&self) -> &[LogRecord] {
        &self.logs
    }

    /// Log records from `logger`.
    pub fn logs_from<'a>(&'a self, logger: &'a str) -> impl Iterator<Item = &'a LogRecord> + 'a {
        self.logs
            .iter()
            .filter(move |r| r.logger.as_deref() == Some(logger))
    }

    /// The first log record whose message contains `needle`.
    pub fn log_containing(&self, needle: &str) -> Option<&LogRecord> {
        self.logs.iter().find(|r| r.message().contains(needle))
    }

    /// The value of XCom `key` pushed by `task_id` (unmapped or any map index) in the run's dag.
    pub fn xcom(&self, task_id: &str, key: &str) -> Option<&Value> {
        self.xcoms
            .iter()
            .find(|x| x.task_id == task_id && x.key == key)
            .map(|x| &x.value)
    }

    /// The API calls as `"METHOD /path"` strings, with the task-instance id replaced by `{ti}`.
    pub fn api_call_lines(&self) -> Vec<String> {
        self.api_calls
            .iter()
            .map(|c| format!("{} {}", c.method, c.path.replace(&self.ti_id, "{ti}")))
            .collect()
    }

    /// The calls whose method is `method` and whose path starts with `path_prefix`.
    pub fn api_calls_to<'a>(
        &'a self,
        method: &'a str,
        path_prefix: &'a str,
    ) -> impl Iterator<Item = &'a ApiCall> + 'a {
        self.api_calls
            .iter()
            .filter(move |c| c.method == method && c.path.starts_with(path_prefix))
    }
}

impl std::fmt::Display for TaskRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "api_state={:?} supervisor_state={:?} exit_code={:?} error={:?} timed_out={} ({:.2} s via {})",
            self.last_api_state,
            self.supervisor_state,
            self.exit_code,
            self.error,
            self.timed_out,
            self.duration_s,
            self.via
        )?;
        writeln!(f, "state PATCHes: {:?}", self.state_patches)?;
        writeln!(f, "API calls: {:?}", self.api_call_lines())?;
        writeln!(f, "task log:")?;
        for r in &self.logs {
            writeln!(
                f,
                "  [{}] {}: {} {:?}",
                r.level.as_deref().unwrap_or("?"),
                r.logger.as_deref().unwrap_or("?"),
                r.message(),
                r.fields
            )?;
        }
        writeln!(f, "harness stderr (tail):")?;
        let lines: Vec<&str> = self.harness_stderr.lines().collect();
        for l in &lines[lines.len().saturating_sub(40)..] {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

/// Runs one task under the released supervisor (`run_task.py`) and returns its report.
///
/// An `Err` means the harness itself failed (no venv, bad arguments, unparsable output); what the
/// task or the supervisor did, including crashes, is in the [`TaskRun`].
pub fn run_task(options: &RunOptions) -> Result<TaskRun> {
    let (stdout, stderr) = run_script("run_task.py", &options.to_args(), &options.env)?;
    let mut run: TaskRun = serde_json::from_str(&stdout)
        .with_context(|| format!("parsing run_task.py output: {stdout}\nstderr:\n{stderr}"))?;
    run.harness_stderr = stderr;
    Ok(run)
}

/// Runs a harness script with the venv's Python; returns (stdout, stderr) on exit status 0.
fn run_script(
    script: &str,
    args: &[OsString],
    env: &[(OsString, OsString)],
) -> Result<(String, String)> {
    let python = venv::python()?;
    let path = crate::harness_dir().join(script);
    let mut cmd = Command::new(&python);
    cmd.arg(&path)
        .args(args)
        .stdin(Stdio::null())
        // The harness picks its own AIRFLOW_HOME; never inherit one from the developer's shell.
        .env_remove("AIRFLOW_HOME")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {} {}", python.display(), path.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!(
            "{script} failed with {}\nargs: {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
    }
    Ok((stdout, stderr))
}
