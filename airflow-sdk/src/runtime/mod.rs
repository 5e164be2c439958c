//! Running a task under Airflow's supervisor, or answering its Dag processor (the coordinator
//! protocol of apache-airflow-task-sdk 1.3 and 1.4).
//!
//! Sequence: install the logger (buffering) and the signal handlers, connect `--logs` and
//! `--comm`, read the first frame. `StartupDetails`: run the task on its own thread, send exactly
//! one terminal message, wait for its acknowledgement, exit 0. `DagFileParseRequest` (Airflow 3.4
//! parses every bundle file in a Dag bundle): answer with the native dags serialized
//! ([`native`]; the other dags are declared by Python stub dag files), wait for the
//! acknowledgement, exit 0. `TaskHandlerParseRequest` (upstream main; either spelling): answer
//! with the stub tasks the bundle handles ([`Bundle::task_handlers`], no task runs), wait for
//! the acknowledgement, exit 0. Exit 1 means
//! the runtime could not report (no connection, broken protocol, no acknowledgement); exit 3 that
//! the first frame is a message it does not know. A message on stderr says why.

pub(crate) mod comms;
pub(crate) mod exit;
pub(crate) mod handlers;
pub(crate) mod identity;
pub(crate) mod logging;
pub(crate) mod messages;
pub(crate) mod native;
pub(crate) mod signals;
pub(crate) mod task;
pub(crate) mod timeout;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use comms::{Comms, FirstMessage};
use messages::{
    DagFileParseRequest, DagFileParsingResult, Reply, SerializedDag, TaskHandlerParseRequest,
    TaskHandlerParsingResult, Terminal, ToSupervisor,
};
use task::{Limit, Outlets, Run, run_one, terminal_message};

use crate::transport::CommError;
use crate::{Bundle, TaskContext};

const LOGGER: &str = "airflow_sdk::runtime";

/// How long to wait for each socket connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default wait for any reply (`AIRFLOW_SDK_REQUEST_TIMEOUT`, seconds, overrides it). The
/// supervisor's API client retries failed calls for a while, so this is generous.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// After SIGTERM, how long to wait for the terminal message's acknowledgement.
const TERM_ACK_TIMEOUT: Duration = Duration::from_millis(2500);
/// How long the runtime waits for an exit handler that reports the task to end the process.
const EXIT_WAIT: Duration = Duration::from_secs(30);

/// Exit code when no state could be reported.
const EXIT_NOT_REPORTED: u8 = 1;
/// Exit code when the first frame is neither `StartupDetails` nor `DagFileParseRequest`.
pub(crate) const EXIT_UNKNOWN_FIRST_MESSAGE: u8 = 3;

/// The environment variable that sets [`Settings::request_timeout`], in seconds.
const REQUEST_TIMEOUT_VAR: &str = "AIRFLOW_SDK_REQUEST_TIMEOUT";
/// The range [`REQUEST_TIMEOUT_VAR`] accepts, in seconds; values outside it are clamped.
const REQUEST_TIMEOUT_RANGE: (f64, f64) = (0.1, 86_400.0);

/// The runtime's tunables.
#[derive(Debug, Clone, Copy)]
struct Settings {
    /// Bounds every wait for a reply (and for the first frame).
    request_timeout: Duration,
}

impl Settings {
    /// Reads the environment; each value that cannot be used as given comes with a warning.
    fn from_env() -> (Settings, Option<String>) {
        let raw = std::env::var_os(REQUEST_TIMEOUT_VAR);
        let (request_timeout, warning) =
            request_timeout(raw.as_ref().map(|v| v.to_string_lossy()).as_deref());
        (Settings { request_timeout }, warning)
    }
}

/// The request timeout for a value of [`REQUEST_TIMEOUT_VAR`], and a warning when the value was
/// not used as given: not a number, not positive (the default is used), or outside
/// [`REQUEST_TIMEOUT_RANGE`] (clamped; `Duration::from_secs_f64` panics on huge values).
fn request_timeout(raw: Option<&str>) -> (Duration, Option<String>) {
    let Some(raw) = raw else {
        return (DEFAULT_REQUEST_TIMEOUT, None);
    };
    let (lo, hi) = REQUEST_TIMEOUT_RANGE;
    let default = DEFAULT_REQUEST_TIMEOUT.as_secs_f64();
    let accepted = format!("a number of seconds from {lo} to {hi}");
    match raw.trim().parse::<f64>() {
        Ok(secs) if secs.is_nan() || secs <= 0.0 => (
            DEFAULT_REQUEST_TIMEOUT,
            Some(format!(
                "{REQUEST_TIMEOUT_VAR}={raw:?} is not a positive number of seconds; using the \
                 default {default} s (accepted: {accepted})"
            )),
        ),
        Ok(secs) if (lo..=hi).contains(&secs) => (Duration::from_secs_f64(secs), None),
        Ok(secs) => {
            let clamped = secs.clamp(lo, hi);
            (
                Duration::from_secs_f64(clamped),
                Some(format!(
                    "{REQUEST_TIMEOUT_VAR}={raw:?} is out of range; using {clamped} s \
                     (accepted: {accepted})"
                )),
            )
        }
        Err(_) => (
            DEFAULT_REQUEST_TIMEOUT,
            Some(format!(
                "{REQUEST_TIMEOUT_VAR}={raw:?} is not a number; using the default {default} s \
                 (accepted: {accepted})"
            )),
        ),
    }
}

/// Says why nothing could be reported, on stderr and in the task log, and returns exit 1.
fn fatal(message: impl std::fmt::Display) -> u8 {
    fatal_with(EXIT_NOT_REPORTED, message)
}

/// Like [`fatal`], with another exit code.
fn fatal_with(code: u8, message: impl std::fmt::Display) -> u8 {
    log::error!(target: LOGGER, "{message}");
    log::logger().flush();
    eprintln!("airflow-sdk: error: {message}");
    code
}

/// Runs the task Airflow asks for over the `--comm` and `--logs` sockets.
pub(crate) fn run(bundle: &Bundle, comm: &str, logs: &str) -> ExitCode {
    let (settings, warning) = Settings::from_env();
    ExitCode::from(run_with(bundle, comm, logs, settings, warning))
}

fn run_with(
    bundle: &Bundle,
    comm: &str,
    logs: &str,
    settings: Settings,
    settings_warning: Option<String>,
) -> u8 {
    if !logging::init() {
        eprintln!("airflow-sdk: another logger is installed; task logs may not reach Airflow");
    }
    if let Some(w) = &settings_warning {
        // Both: stderr is seen even when the logs socket never connects.
        eprintln!("airflow-sdk: warning: {w}");
        log::warn!(target: LOGGER, "{w}");
    }
    let signal = match signals::install() {
        Ok(s) => s,
        Err(e) => {
            logging::to_stderr();
            return fatal(format!("cannot install the SIGTERM handler: {e}"));
        }
    };
    let logs_stream = match comms::connect(logs, CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(e) => {
            logging::to_stderr();
            return fatal(format!(
                "cannot connect to the logs socket --logs={logs}: {e}"
            ));
        }
    };
    logging::attach(logs_stream);
    let comm_stream = match comms::connect(comm, CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(e) => {
            return fatal(format!(
                "cannot connect to the comm socket --comm={comm}: {e}"
            ));
        }
    };
    let timeout = settings.request_timeout;
    let mut comms = match Comms::new(comm_stream, bundle.schema, timeout, Arc::clone(&signal)) {
        Ok(c) => c,
        Err(e) => return fatal(format!("cannot configure the comm socket: {e}")),
    };
    let details = match comms.read_first(timeout) {
        Ok(FirstMessage::Startup(d)) => *d,
        Ok(FirstMessage::Parse(request)) => return answer_parse(bundle, &comms, request, timeout),
        Ok(FirstMessage::Handlers(request)) => {
            return answer_handlers(bundle, &comms, &request, timeout);
        }
        Err(e @ CommError::UnknownFirstMessage(_)) => {
            return fatal_with(EXIT_UNKNOWN_FIRST_MESSAGE, format!("cannot start: {e}"));
        }
        Err(e) => return fatal(format!("no usable first message from the supervisor: {e}")),
    };
    // First in the task log: which build of the bundle runs this try (the trailer's digest, as
    // `cargo airflow inspect --json` shows it), so a log can be matched to a file.
    identity::Identity::of_current_exe().log(LOGGER);
    let (dag_id, task_id) = (details.ti.dag_id.clone(), details.ti.task_id.clone());
    let should_retry = details.ti_context.should_retry;
    let comms = Arc::new(comms);
    let mut produced = Outlets::default();
    let entry = bundle.entry_point(
        &dag_id,
        &task_id,
        details.ti_context.next_method.as_deref(),
        details.ti_context.next_kwargs.as_ref().map(|k| &k.0),
    );
    let terminal = match entry {
        None => unknown_task(bundle, &dag_id, &task_id).0,
        Some(f) => {
            log::debug!(target: LOGGER, dag_id = dag_id.as_str(), task_id = task_id.as_str(),
                try_number = details.ti.try_number,
                next_method = details.ti_context.next_method.as_deref().unwrap_or("");
                "running task");
            let params = bundle
                .find_dag(&dag_id)
                .map(|d| d.param_defaults())
                .unwrap_or_default();
            // A task that ends the process before returning is reported from an exit handler.
            exit::arm(&comms, should_retry, timeout);
            let ctx = Box::new(
                TaskContext::new(details, Arc::clone(&comms) as _, Arc::clone(&signal))
                    .with_params(params)
                    .with_outlets(bundle.declared_outlets(&dag_id, &task_id)),
            );
            let limit = Limit {
                timeout: bundle.execution_timeout(&dag_id, &task_id),
                schema: bundle.schema,
            };
            let finished = run_one(Run::Detached { ctx, f }, &signal, should_retry, limit);
            produced = finished.produced;
            finished.terminal
        }
    };
    report(&comms, &signal, terminal, produced, timeout)
}

/// The terminal state for a task id the bundle does not have, logged with the ids it has, and
/// the message logged.
pub(crate) fn unknown_task(bundle: &Bundle, dag_id: &str, task_id: &str) -> (Terminal, String) {
    // Failed, not `removed`: Airflow runs the downstream of a removed task and lets the dag run
    // succeed, so a misspelled stub task id would silently do nothing.
    let known = bundle.task_ids(dag_id).unwrap_or_default().join(", ");
    let known = if known.is_empty() {
        format!("it has no dag {dag_id:?}")
    } else {
        format!("the tasks of dag {dag_id:?} are: {known}")
    };
    let message = format!(
        "this bundle has no task {task_id:?} in dag {dag_id:?}; {known}. Fix the task id in the \
         stub dag or add the task to the bundle"
    );
    log::error!(target: LOGGER, dag_id = dag_id, task_id = task_id;
        "task failed (no retry): {message}");
    (Terminal::Failed, message)
}

/// The parse result for `request`: the bundle's native dags ([`crate::Dag::native`]) serialized,
/// in dag id order. Dags that are not native are declared by Python stub dag files and are left
/// out.
pub(crate) fn parse_result(bundle: &Bundle, request: &DagFileParseRequest) -> DagFileParsingResult {
    let relative = native::relative_fileloc(&request.file, &request.bundle_path);
    let mut serialized_dags = Vec::new();
    // `serve` validated the declarations before the runtime started.
    for (dag_id, decl) in bundle.declarations_unchecked() {
        if decl.native {
            serialized_dags.push(SerializedDag {
                data: native::NativeDag {
                    dag_id,
                    decl,
                    fileloc: request.file.clone(),
                    relative_fileloc: relative.clone(),
                },
            });
        }
    }
    DagFileParsingResult {
        fileloc: request.file.clone(),
        serialized_dags,
        import_errors: None,
    }
}

/// Answers the Dag processor's `DagFileParseRequest` (Airflow 3.4 runs every bundle file of a Dag
/// bundle to parse it) with the native dags, then waits for the acknowledgement.
fn answer_parse(
    bundle: &Bundle,
    comms: &Comms,
    request: DagFileParseRequest,
    timeout: Duration,
) -> u8 {
    let parsed = parse_result(bundle, &request);
    log::debug!(target: LOGGER, file = request.file.as_str(), bundle = request.bundle_name.as_str(),
        dags = parsed.serialized_dags.len(); "answering the Dag processor");
    let result = ToSupervisor::DagFileParsingResult(parsed);
    match comms.request(result, timeout, false) {
        Ok(Reply::Ack) => {
            log::logger().flush();
            0
        }
        Ok(Reply::Failure(e) | Reply::ErrorBody(e)) => fatal(format!(
            "the Dag processor refused the parse result: {}: {}",
            e.error, e.detail.0
        )),
        Ok(Reply::Body(b)) => fatal(format!("unexpected {} reply to the parse result", b.kind())),
        Err(e) => fatal(format!("cannot send the parse result: {e}")),
    }
}

/// The answer to a `TaskHandlerParseRequest`: the bundle's task handlers
/// ([`Bundle::task_handlers`]). Only `fileloc` echoes the request; the handlers never depend on
/// it.
pub(crate) fn handlers_result(
    bundle: &Bundle,
    request: &TaskHandlerParseRequest,
) -> TaskHandlerParsingResult {
    TaskHandlerParsingResult {
        fileloc: request.file.clone(),
        task_handlers: bundle.task_handlers(),
    }
}

/// Answers the Dag processor's `TaskHandlerParseRequest` (upstream main asks every bundle file
/// which stub tasks it handles), then waits for the acknowledgement. No task code runs.
fn answer_handlers(
    bundle: &Bundle,
    comms: &Comms,
    request: &TaskHandlerParseRequest,
    timeout: Duration,
) -> u8 {
    let result = handlers_result(bundle, request);
    log::debug!(target: LOGGER, file = request.file.as_str(),
        dags = result.task_handlers.len(); "answering the Dag processor's task handler request");
    let result = ToSupervisor::TaskHandlerParsingResult(result);
    match comms.request(result, timeout, false) {
        Ok(Reply::Ack) => {
            log::logger().flush();
            0
        }
        Ok(Reply::Failure(e) | Reply::ErrorBody(e)) => fatal(format!(
            "the Dag processor refused the task handler declarations: {}: {}",
            e.error, e.detail.0
        )),
        Ok(Reply::Body(b)) => fatal(format!(
            "unexpected {} reply to the task handler declarations",
            b.kind()
        )),
        Err(e) => fatal(format!("cannot send the task handler declarations: {e}")),
    }
}

/// Sends the terminal message and waits for its acknowledgement.
fn report(
    comms: &Arc<Comms>,
    signal: &Arc<AtomicUsize>,
    terminal: Terminal,
    produced: Outlets,
    timeout: Duration,
) -> u8 {
    if !exit::claim() {
        // Another thread is ending the process and its exit handler reports the task; the
        // process ends when the handler is done.
        std::thread::sleep(EXIT_WAIT);
        return fatal("the process did not end after the task called exit");
    }
    let terminated = signal.load(Ordering::SeqCst) != 0;
    let timeout = if terminated {
        timeout.min(TERM_ACK_TIMEOUT)
    } else {
        timeout
    };
    let state = terminal.state();
    let message = terminal_message(&terminal, produced);
    log::debug!(target: LOGGER, state = state; "reporting the task's state");
    match comms.request(message, timeout, false) {
        Ok(Reply::Ack) => {
            log::logger().flush();
            0
        }
        Ok(Reply::Failure(e) | Reply::ErrorBody(e)) => fatal(format!(
            "the supervisor could not record state {state}: {}: {}",
            e.error, e.detail.0
        )),
        Ok(Reply::Body(b)) => fatal(format!(
            "unexpected {} reply to the {state} state message",
            b.kind()
        )),
        Err(CommError::Timeout(d)) => fatal(format!(
            "the supervisor did not acknowledge state {state} within {:.1} s",
            d.as_secs_f64()
        )),
        Err(e) => fatal(format!("cannot report state {state}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    //! The runtime against a scripted fake supervisor: every path ends, with the right message
    //! and exit code, and none hangs.

    use super::*;
    use std::time::Instant;

    use crate::{Dag, SchemaVersion, TaskError, TaskResult};
    use rmpv::Value;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    /// Async tasks against the same fake supervisor.
    #[cfg(feature = "tokio")]
    mod async_tasks;
    /// `TaskHandlerParseRequest` answered from the declarations alone.
    mod handlers;
    /// The supervisor's side of the comm socket, shared by the runtime's and the socket
    /// client's tests.
    pub(crate) mod peer;
    /// Declared execution timeouts, enforced.
    mod timeouts;

    use peer::*;

    fn bundle() -> Bundle {
        fn ok(_: &mut TaskContext) -> TaskResult {
            Ok(())
        }
        fn value(_: &mut TaskContext) -> TaskResult<Vec<u8>> {
            Ok(vec![1, 2])
        }
        fn err(_: &mut TaskContext) -> TaskResult {
            Err(TaskError::fail("nope"))
        }
        fn boom(_: &mut TaskContext) -> TaskResult {
            panic!("kaboom")
        }
        fn var(ctx: &mut TaskContext) -> TaskResult {
            ctx.variable("x")?;
            Ok(())
        }
        Bundle::new().dag(
            Dag::new("d")
                .task("ok", ok)
                .task("value", value)
                .task("err", err)
                .task("boom", boom)
                .task("var", var),
        )
    }

    /// Runs the runtime against `script` (which plays the supervisor on the comm socket).
    fn drive<R: Send + 'static>(
        timeout_ms: u64,
        script: impl FnOnce(TcpStream) -> R + Send + 'static,
    ) -> (u8, R, Duration) {
        drive_bundle(bundle(), timeout_ms, script)
    }

    /// [`drive`] with a given bundle.
    fn drive_bundle<R: Send + 'static>(
        bundle: Bundle,
        timeout_ms: u64,
        script: impl FnOnce(TcpStream) -> R + Send + 'static,
    ) -> (u8, R, Duration) {
        let comm = TcpListener::bind("127.0.0.1:0").unwrap();
        let logs = TcpListener::bind("127.0.0.1:0").unwrap();
        let (ca, la) = (comm.local_addr().unwrap(), logs.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut s, _) = logs.accept().unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        });
        let fake = std::thread::spawn(move || script(comm.accept().unwrap().0));
        let start = Instant::now();
        let settings = Settings {
            request_timeout: Duration::from_millis(timeout_ms),
        };
        let code = run_with(&bundle, &ca.to_string(), &la.to_string(), settings, None);
        let elapsed = start.elapsed();
        (code, fake.join().unwrap(), elapsed)
    }

    /// Set in a child test process: `task,comm address,logs address`.
    #[cfg(unix)]
    const CHILD_VAR: &str = "AIRFLOW_SDK_TEST_RUNTIME_CHILD";

    /// A value whose `Display` panics.
    #[cfg(unix)]
    struct PanicsWhenShown;

    #[cfg(unix)]
    impl std::fmt::Display for PanicsWhenShown {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("Display of a logged value exploded")
        }
    }

    /// A value whose `Display` logs.
    #[cfg(unix)]
    struct LogsWhenShown;

    #[cfg(unix)]
    impl std::fmt::Display for LogsWhenShown {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            log::info!("logged from inside Display");
            write!(f, "shown")
        }
    }

    /// A value whose `Display` logs itself: endless recursion without a bound.
    #[cfg(unix)]
    struct LogsItself;

    #[cfg(unix)]
    // The recursion is the point: the logger must bound it.
    #[allow(clippy::recursive_format_impl)]
    impl std::fmt::Display for LogsItself {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            log::info!("again: {self}");
            write!(f, "itself")
        }
    }

    /// The bundle a child process runs, with the real logger and panic hook of a bundle.
    #[cfg(unix)]
    fn child_bundle() -> Bundle {
        fn exits(_: &mut TaskContext) -> TaskResult {
            log::info!("about to exit");
            std::process::exit(0)
        }
        fn display_panics(_: &mut TaskContext) -> TaskResult {
            log::info!("value: {}", PanicsWhenShown);
            Ok(())
        }
        fn display_logs(_: &mut TaskContext) -> TaskResult {
            log::info!(field = LogsWhenShown.to_string().as_str(); "outer: {}", LogsWhenShown);
            log::info!("recursion: {}", LogsItself);
            log::info!("still logging");
            Ok(())
        }
        Bundle::new().dag(
            Dag::new("d")
                .task("exits", exits)
                .task("display_panics", display_panics)
                .task("display_logs", display_logs)
                .task(timeouts::stuck_task(), timeouts::stuck),
        )
    }

    /// In a child process (see [`in_a_child`]): runs the runtime for the task named in
    /// [`CHILD_VAR`], then exits with its code. Does nothing in a normal test run.
    #[cfg(unix)]
    #[test]
    fn child_runtime() {
        let Ok(spec) = std::env::var(CHILD_VAR) else {
            return;
        };
        let mut parts = spec.split(',');
        let (_task, comm, logs) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        let settings = Settings {
            request_timeout: Duration::from_secs(5),
        };
        let code = run_with(&child_bundle(), comm, logs, settings, None);
        std::process::exit(i32::from(code) + 10);
    }

    /// What a child process's run showed the fake supervisor.
    #[cfg(unix)]
    struct ChildRun {
        exit: Option<i32>,
        requests: Vec<Value>,
        logs: Vec<serde_json::Value>,
        elapsed: Duration,
    }

    /// Runs `task` in a child process (this test binary, test `child_runtime`), as a bundle runs
    /// it: its own process, the real logger and panic hook, the real exit. Kills it after 20 s.
    #[cfg(unix)]
    fn in_a_child(task: &str, should_retry: bool) -> ChildRun {
        use std::io::BufRead;
        let comm = TcpListener::bind("127.0.0.1:0").unwrap();
        let logs = TcpListener::bind("127.0.0.1:0").unwrap();
        let spec = format!(
            "{task},{},{}",
            comm.local_addr().unwrap(),
            logs.local_addr().unwrap()
        );
        let start = Instant::now();
        /// Kills the child when the test fails before it ended.
        struct Child(std::process::Child);
        impl Drop for Child {
            fn drop(&mut self) {
                if let Ok(None) = self.0.try_wait() {
                    let _ = self.0.kill();
                    let _ = self.0.wait();
                }
            }
        }
        let mut child = Child(
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["runtime::tests::child_runtime", "--exact", "--nocapture"])
                .env(CHILD_VAR, spec)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let log_reader = std::thread::spawn(move || {
            let (s, _) = logs.accept().unwrap();
            std::io::BufReader::new(s)
                .lines()
                .map_while(Result::ok)
                .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap())
                .collect::<Vec<_>>()
        });
        let (mut s, _) = comm.accept().unwrap();
        send(&mut s, &startup(task, should_retry));
        let mut requests = Vec::new();
        loop {
            let (id, body) = recv(&mut s);
            ack(&mut s, id);
            let kind = field(&body, "type").unwrap();
            requests.push(body);
            if matches!(kind.as_str(), "SucceedTask" | "TaskState" | "RetryTask") {
                break;
            }
        }
        let exit = loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status.code();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the child running {task} hung after reporting"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = start.elapsed();
        ChildRun {
            exit,
            requests,
            logs: log_reader.join().unwrap(),
            elapsed,
        }
    }

    #[cfg(unix)]
    fn has_log(run: &ChildRun, level: &str, text: &str) -> bool {
        run.logs
            .iter()
            .any(|l| l["level"] == level && l["event"].as_str().is_some_and(|e| e.contains(text)))
    }

    #[cfg(unix)]
    #[test]
    fn a_task_that_exits_the_process_is_reported_failed_or_up_for_retry() {
        for (retry, want_type) in [(false, "TaskState"), (true, "RetryTask")] {
            let run = in_a_child("exits", retry);
            let last = run.requests.last().unwrap();
            assert_eq!(field(last, "type").as_deref(), Some(want_type), "{last}");
            if retry {
                let reason = field(last, "retry_reason").unwrap();
                assert!(reason.contains("std::process::exit"), "{reason}");
            } else {
                assert_eq!(field(last, "state").as_deref(), Some("failed"));
            }
            // The task's own exit code, after the handler reported.
            assert_eq!(run.exit, Some(0));
            assert!(has_log(&run, "info", "about to exit"), "{:?}", run.logs);
            // The test binary is no packed bundle: the task log says so, and the task runs.
            assert!(
                has_log(&run, "info", "not a packed bundle: "),
                "{:?}",
                run.logs
            );
            assert!(
                has_log(
                    &run,
                    "error",
                    "task failed: the task called std::process::exit"
                ),
                "{:?}",
                run.logs
            );
            assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_logged_value_whose_display_panics_fails_the_task_and_reaches_the_log() {
        let run = in_a_child("display_panics", false);
        let last = run.requests.last().unwrap();
        assert_eq!(field(last, "state").as_deref(), Some("failed"), "{last}");
        assert_eq!(run.exit, Some(10), "the runtime exits 0 after reporting");
        let hook = run
            .logs
            .iter()
            .find(|l| l["event"] == "panicked: Display of a logged value exploded")
            .unwrap_or_else(|| panic!("no panic record: {:?}", run.logs));
        assert_eq!(hook["level"], "error");
        assert!(
            hook["location"].as_str().unwrap().contains("mod.rs"),
            "{hook}"
        );
        assert!(
            has_log(
                &run,
                "error",
                "task failed: it panicked: Display of a logged value exploded"
            ),
            "{:?}",
            run.logs
        );
        assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
    }

    #[cfg(unix)]
    #[test]
    fn a_logged_value_whose_display_logs_is_logged_and_the_task_succeeds() {
        let run = in_a_child("display_logs", false);
        let last = run.requests.last().unwrap();
        assert_eq!(
            field(last, "type").as_deref(),
            Some("SucceedTask"),
            "{last}"
        );
        let events: Vec<&str> = run
            .logs
            .iter()
            .filter_map(|l| l["event"].as_str())
            .collect();
        let outer = events.iter().position(|e| *e == "outer: shown").unwrap();
        let inner = events
            .iter()
            .position(|e| *e == "logged from inside Display")
            .unwrap();
        assert!(inner < outer, "{events:?}");
        // Self-recursion ends at the nesting bound instead of overflowing the stack.
        assert!(
            events.iter().any(|e| e.starts_with("recursion: itself")),
            "{events:?}"
        );
        assert!(events.contains(&"still logging"), "{events:?}");
    }

    #[test]
    fn success_sends_exactly_succeed_task_and_exits_0() {
        let (code, body, _) = drive(5000, |mut s| {
            send(&mut s, &startup("ok", false));
            let (id, body) = recv(&mut s);
            ack(&mut s, id);
            body
        });
        assert_eq!(code, 0);
        assert_eq!(field(&body, "type").as_deref(), Some("SucceedTask"));
        assert_eq!(body.as_map().unwrap().len(), 4, "{body}");
        assert!(field(&body, "end_date").unwrap().ends_with('Z'));
    }

    #[test]
    fn return_value_is_pushed_before_success() {
        let (code, bodies, _) = drive(5000, |mut s| {
            send(&mut s, &startup("value", false));
            let mut bodies = Vec::new();
            for _ in 0..2 {
                let (id, body) = recv(&mut s);
                ack(&mut s, id);
                bodies.push(body);
            }
            bodies
        });
        assert_eq!(code, 0);
        assert_eq!(field(&bodies[0], "type").as_deref(), Some("SetXCom"));
        assert_eq!(field(&bodies[0], "key").as_deref(), Some("return_value"));
        assert_eq!(
            messages::to_json(get(&bodies[0], "value").unwrap()),
            serde_json::json!([1, 2])
        );
        assert_eq!(field(&bodies[1], "type").as_deref(), Some("SucceedTask"));
    }

    #[test]
    fn xcoms_of_an_earlier_try_are_cleared_first() {
        let (code, bodies, _) = drive(5000, |mut s| {
            send(
                &mut s,
                &startup_clearing("ok", false, &["return_value", "extra"]),
            );
            let mut bodies = Vec::new();
            for _ in 0..3 {
                let (id, body) = recv(&mut s);
                ack(&mut s, id);
                bodies.push(body);
            }
            bodies
        });
        assert_eq!(code, 0);
        let seen: Vec<_> = bodies
            .iter()
            .map(|b| (field(b, "type").unwrap(), field(b, "key")))
            .collect();
        assert_eq!(
            seen,
            [
                ("DeleteXCom".into(), Some("return_value".into())),
                ("DeleteXCom".into(), Some("extra".into())),
                ("SucceedTask".into(), None),
            ]
        );
    }

    #[test]
    fn failures_map_to_retry_or_failed() {
        for (task, retry, want_type, want_state) in [
            ("err", true, "RetryTask", None),
            ("err", false, "TaskState", Some("failed")),
            ("boom", false, "TaskState", Some("failed")),
            ("boom", true, "RetryTask", None),
            // An unknown task id fails without retry, so that its downstream does not run.
            ("missing", true, "TaskState", Some("failed")),
        ] {
            let (code, body, _) = drive(5000, move |mut s| {
                send(&mut s, &startup(task, retry));
                let (id, body) = recv(&mut s);
                ack(&mut s, id);
                body
            });
            assert_eq!(code, 0, "{task}");
            assert_eq!(field(&body, "type").as_deref(), Some(want_type), "{task}");
            assert_eq!(field(&body, "state").as_deref(), want_state, "{task}");
        }
    }

    #[test]
    fn unanswered_request_times_out_and_the_task_still_reports() {
        let (code, (first, last), elapsed) = drive(300, |mut s| {
            send(&mut s, &startup("var", false));
            let (_, first) = recv(&mut s); // GetVariable: no reply
            let (id, last) = recv(&mut s);
            ack(&mut s, id);
            (first, last)
        });
        assert_eq!(code, 0);
        assert_eq!(field(&first, "type").as_deref(), Some("GetVariable"));
        assert_eq!(field(&last, "state").as_deref(), Some("failed"));
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }

    #[test]
    fn broken_supervisors_end_with_exit_1_never_a_hang() {
        // Silent: never sends StartupDetails.
        let (code, _, elapsed) = drive(300, |s| {
            std::thread::sleep(Duration::from_millis(1500));
            drop(s);
        });
        assert_eq!(code, 1);
        assert!(elapsed < Duration::from_millis(1400), "{elapsed:?}");
        // Closes the socket at once.
        let (code, _, _) = drive(5000, drop);
        assert_eq!(code, 1);
        // A map-shaped frame.
        let (code, _, elapsed) = drive(5000, |mut s| {
            s.write_all(&[0, 0, 0, 4, 0x81, 0xa1, b'a', 0x01]).unwrap();
            std::thread::sleep(Duration::from_millis(200));
        });
        assert_eq!(code, 1);
        assert!(elapsed < Duration::from_secs(3));
        // An empty array.
        let (code, _, _) = drive(5000, |mut s| {
            send(&mut s, &Value::Array(vec![]));
            std::thread::sleep(Duration::from_millis(200));
        });
        assert_eq!(code, 1);
        // A first message of an unknown type: its own exit code.
        let (code, _, _) = drive(5000, |mut s| {
            send(
                &mut s,
                &Value::Array(vec![
                    Value::from(0),
                    m(vec![("type", Value::from("X"))]),
                    Value::Nil,
                ]),
            );
            std::thread::sleep(Duration::from_millis(200));
        });
        assert_eq!(code, EXIT_UNKNOWN_FIRST_MESSAGE);
        // A known first message that does not decode.
        let (code, _, _) = drive(5000, |mut s| {
            send(
                &mut s,
                &Value::Array(vec![
                    Value::from(0),
                    m(vec![("type", Value::from("StartupDetails"))]),
                    Value::Nil,
                ]),
            );
            std::thread::sleep(Duration::from_millis(200));
        });
        assert_eq!(code, 1);
        // No acknowledgement of the terminal message.
        let (code, _, elapsed) = drive(300, |mut s| {
            send(&mut s, &startup("ok", false));
            let _ = recv(&mut s);
            std::thread::sleep(Duration::from_millis(1500));
        });
        assert_eq!(code, 1);
        assert!(elapsed < Duration::from_millis(1400), "{elapsed:?}");
    }

    fn parse_request(file: &str) -> Value {
        let body = m(vec![
            ("file", Value::from(file)),
            ("bundle_path", Value::from("/bundles")),
            ("bundle_name", Value::from("rust-bundles")),
            ("callback_requests", Value::Array(vec![])),
            ("type", Value::from("DagFileParseRequest")),
        ]);
        Value::Array(vec![Value::from(0), body, Value::Nil])
    }

    #[test]
    fn the_dag_processor_gets_a_parse_result_under_both_versions() {
        for version in SchemaVersion::ALL {
            let b = bundle().supervisor_schema(*version);
            let (code, body, elapsed) = drive_bundle(b, 5000, |mut s| {
                send(&mut s, &parse_request("/bundles/etl"));
                let (id, body) = recv(&mut s);
                ack(&mut s, id);
                body
            });
            assert_eq!(code, 0, "{version}");
            assert_eq!(
                field(&body, "type").as_deref(),
                Some("DagFileParsingResult")
            );
            assert_eq!(field(&body, "fileloc").as_deref(), Some("/bundles/etl"));
            assert_eq!(get(&body, "serialized_dags"), Some(&Value::Array(vec![])));
            // No import error, and nothing a 2026-06-16 Dag processor would refuse.
            assert_eq!(body.as_map().unwrap().len(), 3, "{body}");
            assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        }
        // An unacknowledged result is reported, not waited on forever.
        let (code, _, elapsed) = drive(300, |mut s| {
            send(&mut s, &parse_request("/bundles/etl"));
            let _ = recv(&mut s);
            std::thread::sleep(Duration::from_millis(1500));
        });
        assert_eq!(code, 1);
        assert!(elapsed < Duration::from_millis(1400), "{elapsed:?}");
    }

    #[test]
    fn request_timeout_values_are_clamped_or_refused_with_a_warning() {
        let default = DEFAULT_REQUEST_TIMEOUT;
        assert_eq!(request_timeout(None), (default, None));
        assert_eq!(
            request_timeout(Some(" 2.5 ")).0,
            Duration::from_millis(2500)
        );
        assert!(request_timeout(Some("2.5")).1.is_none());
        // 1e20 used to panic in Duration::from_secs_f64; inf too.
        for (raw, want) in [
            ("1e20", Duration::from_secs(86_400)),
            ("inf", Duration::from_secs(86_400)),
            ("0.001", Duration::from_millis(100)),
            ("abc", default),
            ("", default),
            ("0", default),
            ("-1", default),
            ("NaN", default),
            ("-inf", default),
        ] {
            let (got, warning) = request_timeout(Some(raw));
            assert_eq!(got, want, "{raw:?}");
            let warning = warning.unwrap_or_else(|| panic!("no warning for {raw:?}"));
            assert!(warning.contains(REQUEST_TIMEOUT_VAR), "{warning}");
            assert!(warning.contains("from 0.1 to 86400"), "{warning}");
            assert!(warning.contains(&format!("{raw:?}")), "{warning}");
        }
    }

    #[derive(serde::Deserialize, serde::Serialize)]
    struct Totals {
        rows: u64,
    }

    fn typed_bundle() -> Bundle {
        fn load(_: &mut TaskContext, totals: Totals, table: String) -> TaskResult<String> {
            Ok(format!("{table}:{}", totals.rows))
        }
        Bundle::new()
            .supervisor_schema(SchemaVersion::V2026_10_30)
            .dag(Dag::new("d").task_with_args("load", ["totals", "table"], load))
    }

    /// `StartupDetails` for task `load` with these argument bindings.
    fn startup_with_bindings(bindings: Vec<Value>) -> Value {
        let Value::Array(mut items) = startup("load", false) else {
            unreachable!()
        };
        if let Value::Map(body) = &mut items[1] {
            for (k, v) in body.iter_mut() {
                if let (Some("ti_context"), Value::Map(ctx)) = (k.as_str(), v) {
                    ctx.push((Value::from("arg_bindings"), Value::Array(bindings.clone())));
                }
            }
        }
        Value::Array(items)
    }

    fn xcom_binding(name: &str, task_id: &str) -> Value {
        m(vec![
            ("name", Value::from(name)),
            ("kind", Value::from("xcom")),
            ("task_id", Value::from(task_id)),
        ])
    }

    fn literal_binding(name: &str, value: Value) -> Value {
        m(vec![
            ("name", Value::from(name)),
            ("kind", Value::from("literal")),
            ("value", value),
        ])
    }

    /// Runs `load` with `bindings`, answering a GetXCom with `upstream`; returns every request.
    fn run_load(bindings: Vec<Value>, upstream: Value) -> (u8, Vec<Value>) {
        let (code, bodies, _) = drive_bundle(typed_bundle(), 5000, move |mut s| {
            send(&mut s, &startup_with_bindings(bindings));
            let mut bodies = Vec::new();
            loop {
                let (id, body) = recv(&mut s);
                let kind = field(&body, "type").unwrap();
                if kind == "GetXCom" {
                    let reply = m(vec![
                        ("key", Value::from("return_value")),
                        ("value", upstream.clone()),
                        ("type", Value::from("XComResult")),
                    ]);
                    send(
                        &mut s,
                        &Value::Array(vec![Value::from(id), reply, Value::Nil]),
                    );
                } else {
                    ack(&mut s, id);
                }
                bodies.push(body);
                if matches!(kind.as_str(), "SucceedTask" | "TaskState" | "RetryTask") {
                    return bodies;
                }
            }
        });
        (code, bodies)
    }

    #[test]
    fn typed_arguments_are_bound_by_name_from_literals_and_upstream_outputs() {
        // Bound in the stub's order (table first), taken in the function's order.
        let (code, bodies) = run_load(
            vec![
                literal_binding("table", Value::from("t1")),
                xcom_binding("totals", "transform"),
            ],
            m(vec![("rows", Value::from(42))]),
        );
        assert_eq!(code, 0);
        let kinds: Vec<_> = bodies.iter().map(|b| field(b, "type").unwrap()).collect();
        assert_eq!(kinds, ["GetXCom", "SetXCom", "SucceedTask"]);
        assert_eq!(field(&bodies[0], "task_id").as_deref(), Some("transform"));
        assert_eq!(field(&bodies[0], "key").as_deref(), Some("return_value"));
        assert_eq!(
            messages::to_json(get(&bodies[1], "value").unwrap()),
            serde_json::json!("t1:42")
        );
    }

    /// The requests of a run of `load` that must fail.
    fn failure_of(bindings: Vec<Value>, upstream: Value) -> Vec<Value> {
        let (code, bodies) = run_load(bindings, upstream);
        assert_eq!(code, 0);
        bodies
    }

    #[test]
    fn a_missing_binding_or_a_wrong_type_fails_without_retry() {
        for (bindings, upstream) in [
            // No binding for `table`.
            (
                vec![xcom_binding("totals", "transform")],
                m(vec![("rows", Value::from(1))]),
            ),
            // `rows` is a string upstream.
            (
                vec![
                    xcom_binding("totals", "transform"),
                    literal_binding("table", Value::from("t1")),
                ],
                m(vec![("rows", Value::from("many"))]),
            ),
            // The upstream pushed nothing.
            (
                vec![
                    xcom_binding("totals", "transform"),
                    literal_binding("table", Value::from("t1")),
                ],
                Value::Nil,
            ),
            // A literal of the wrong type.
            (
                vec![
                    xcom_binding("totals", "transform"),
                    literal_binding("table", Value::from(7)),
                ],
                m(vec![("rows", Value::from(1))]),
            ),
        ] {
            let bodies = failure_of(bindings, upstream);
            let last = bodies.last().unwrap();
            // `should_retry` is false in `startup`: what matters is failed, never success.
            assert_eq!(
                field(last, "type").as_deref(),
                Some("TaskState"),
                "{bodies:?}"
            );
            assert_eq!(field(last, "state").as_deref(), Some("failed"));
        }
    }
}
