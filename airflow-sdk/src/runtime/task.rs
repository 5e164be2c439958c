//! Running one task, the same way for the runtime and for `airflow_sdk::testing`: the panic
//! hook, the task function (clearing old XComs first, pushing the returned value), the SIGTERM
//! grace, and the outcome mapped to the terminal state.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use airflow_protocol::SchemaVersion;

use super::messages::{
    AssetProfile, AwaitInputTask, DeferTask, Terminal, ToSupervisor, format_time, iso_duration,
};
use super::timeout::{Alarm, ExecutionTimeout, Watchdog};
use super::{logging, signals};
use crate::error::TaskOutcome;
use crate::suspend::Suspend;
use crate::{TaskContext, TaskError};

const LOGGER: &str = "airflow_sdk::runtime";

/// After SIGTERM, how long the task may take to return before the runtime reports anyway. The
/// supervisor escalates to SIGKILL 5 s after SIGTERM.
pub(crate) const TERM_GRACE: Duration = Duration::from_millis(2000);
/// Stack size of the task thread (the size of a usual main thread).
const TASK_STACK: usize = 8 * 1024 * 1024;

/// A task function with its return value erased to JSON (it becomes the `return_value` XCom).
pub(crate) type ErasedFn<'a> = &'a dyn Fn(&mut TaskContext) -> Result<serde_json::Value, TaskError>;

/// A task function that can run on a thread of its own.
pub(crate) type SendFn =
    Arc<dyn Fn(&mut TaskContext) -> Result<serde_json::Value, TaskError> + Send + Sync>;

/// What a successful task adds to `SucceedTask`: `task_outlets`, `outlet_events` and
/// `rendered_map_index`.
pub(crate) type Outlets = (Vec<AssetProfile>, Vec<serde_json::Value>, Option<String>);

/// How the task function ended.
pub(crate) enum Outcome {
    /// Returned; with the assets it produced (`task_outlets`, `outlet_events`).
    Returned(Outlets),
    Errored(TaskError),
    /// Deferred, waiting for input or rescheduled ([`TaskError::suspension`]); with the rendered
    /// map index it set, which the supervisor records from the message.
    Suspended(TaskError, Option<String>),
    Panicked(String),
    /// SIGTERM arrived and the task did not return within the grace period.
    Abandoned(&'static str),
}

/// How [`run_one`] runs the task function.
pub(crate) enum Run<'a> {
    /// On a thread of its own, as under Airflow: once a termination signal arrives the task
    /// has [`TERM_GRACE`] to return, then it is abandoned (left running) and reported.
    Detached {
        /// The context, moved to the task thread (boxed: it is large beside `Inline`).
        ctx: Box<TaskContext>,
        /// The function.
        f: SendFn,
    },
    /// On this thread, to its end (the testing harness: a test's function need not be `Send`,
    /// and the test sees the whole run). A task that returns later than [`TERM_GRACE`] after
    /// `signalled_at` is judged abandoned, as the runtime would have reported it.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    Inline {
        /// The context, which the caller reads afterwards.
        ctx: &'a mut TaskContext,
        /// The function.
        f: ErasedFn<'a>,
        /// When the termination signal was (or will be) raised, if at all.
        signalled_at: Option<Instant>,
    },
}

/// The declared `execution_timeout` of a run, and the schema version that says whether the
/// supervisor is told it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    /// The timeout, if the task declares one (or a test sets one).
    pub(crate) timeout: Option<ExecutionTimeout>,
    /// The bundle's supervisor schema version.
    pub(crate) schema: SchemaVersion,
}

/// How a task run ended, as reported to Airflow.
// The runtime reads the terminal state and outlets; the harness shows the rest to the test.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) struct Finished {
    /// The terminal state.
    pub(crate) terminal: Terminal,
    /// Why it did not succeed: the error, `panicked: ...`, or `terminated by ...`.
    pub(crate) error: Option<String>,
    /// What a success carries in `SucceedTask`.
    pub(crate) produced: Outlets,
    /// Whether the task was abandoned (it did not return within the grace after a signal) or
    /// overran its execution timeout: what it returned does not count.
    pub(crate) abandoned: bool,
}

/// Runs one task and maps how it ended to its terminal state (logged), the one path of the
/// runtime and of the testing harness. `signal` is the flag the SIGTERM/SIGINT handlers set;
/// `limit` the execution timeout enforced ([`super::timeout`]).
pub(crate) fn run_one(
    run: Run<'_>,
    signal: &Arc<AtomicUsize>,
    should_retry: bool,
    limit: Limit,
) -> Finished {
    logging::install_panic_hook();
    let mut timed_out = false;
    let outcome = match run {
        Run::Detached { ctx, f } => {
            logging::panics_to_task_log();
            if let Some(timeout) = limit.timeout {
                timeout.tell_supervisor(&ctx, limit.schema);
            }
            detached(ctx, f, signal, limit.timeout)
        }
        Run::Inline {
            ctx,
            f,
            signalled_at,
        } => {
            if let Some(timeout) = limit.timeout {
                timeout.tell_supervisor(ctx, limit.schema);
            }
            let alarm = Alarm::arm(limit.timeout, signal);
            let outcome;
            (outcome, timed_out) = match alarm.expired_at_start() {
                Some(expired) => (expired, true),
                None => alarm.verdict(execute(ctx, f)),
            };
            match signalled_at {
                Some(at) if !timed_out && Instant::now() > at + TERM_GRACE => {
                    let sig = signal.load(Ordering::SeqCst);
                    Outcome::Abandoned(signals::name(sig))
                }
                _ => outcome,
            }
        }
    };
    let error = match &outcome {
        Outcome::Returned(_) | Outcome::Suspended(..) => None,
        Outcome::Errored(e) => Some(e.to_string()),
        Outcome::Panicked(m) => Some(format!("panicked: {m}")),
        Outcome::Abandoned(sig) => Some(format!(
            "terminated by {sig}: the task did not stop within {:.1} s",
            TERM_GRACE.as_secs_f64()
        )),
    };
    let abandoned = timed_out || matches!(outcome, Outcome::Abandoned(_));
    let mut produced = Outlets::default();
    let terminal = decide(outcome, should_retry, &mut produced);
    Finished {
        terminal,
        error,
        produced,
        abandoned,
    }
}

/// Runs the task function `f` on the current thread, as a task runs: first, like Python's task
/// runner, deletes the XComs a previous try left behind; then calls `f`, catching a panic; then
/// pushes a returned value that is not null as the `return_value` XCom.
fn execute(ctx: &mut TaskContext, f: ErasedFn<'_>) -> Outcome {
    for key in ctx.xcom_keys_to_clear() {
        log::debug!(target: LOGGER, key = key.as_str(); "clearing XCom");
        if let Err(e) = ctx.delete_xcom(&key) {
            return Outcome::Errored(TaskError::fail(format!("cannot clear XCom {key:?}: {e}")));
        }
    }
    match panic::catch_unwind(AssertUnwindSafe(|| f(ctx))) {
        Ok(Ok(value)) => match ctx.push_return_value(&value) {
            Ok(()) => Outcome::Returned(ctx.outlets()),
            Err(e) => Outcome::Errored(e),
        },
        Ok(Err(e)) if e.suspension().is_some() => Outcome::Suspended(e, ctx.outlets().2),
        Ok(Err(e)) => Outcome::Errored(e),
        Err(payload) => Outcome::Panicked(logging::panic_message(&*payload)),
    }
}

/// Runs the task on its own thread and waits for it, until [`TERM_GRACE`] after a signal or
/// after its execution timeout (the waiting thread is the watchdog).
fn detached(
    mut ctx: Box<TaskContext>,
    f: SendFn,
    signal: &Arc<AtomicUsize>,
    limit: Option<ExecutionTimeout>,
) -> Outcome {
    let mut watchdog = Watchdog::start(limit, Arc::clone(signal));
    if let Some(expired) = watchdog.expired_at_start() {
        return expired;
    }
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("task".into())
        .stack_size(TASK_STACK)
        .spawn(move || {
            let _ = tx.send(execute(&mut ctx, &*f));
        });
    if let Err(e) = spawned {
        return Outcome::Errored(TaskError::fail(format!(
            "cannot start the task thread: {e}"
        )));
    }
    let mut grace_end: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(outcome) => return watchdog.verdict(outcome),
            Err(RecvTimeoutError::Disconnected) => {
                return watchdog.verdict(Outcome::Panicked(
                    "the task thread ended without a result".into(),
                ));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Some(timed_out) = watchdog.poll() {
            return timed_out;
        }
        let sig = signal.load(Ordering::SeqCst);
        // After a timeout the watchdog keeps its own grace period.
        if sig != 0 && (grace_end.is_some() || !watchdog.fired()) {
            let end = *grace_end.get_or_insert_with(|| {
                log::warn!(target: LOGGER, signal = signals::name(sig);
                    "received {}; asking the task to stop", signals::name(sig));
                Instant::now() + TERM_GRACE
            });
            if Instant::now() >= end {
                return Outcome::Abandoned(signals::name(sig));
            }
        }
    }
}

/// Maps how the task ended to the terminal message, logging it.
fn decide(outcome: Outcome, should_retry: bool, produced: &mut Outlets) -> Terminal {
    let failed = |reason: String| {
        if should_retry {
            log::info!(target: LOGGER, "the task will be retried");
            Terminal::Retry(reason)
        } else {
            Terminal::Failed
        }
    };
    match outcome {
        Outcome::Returned(outlets) => {
            *produced = outlets;
            Terminal::Success
        }
        Outcome::Errored(e) => match e.outcome() {
            TaskOutcome::Skipped => {
                log::info!(target: LOGGER, reason = e.to_string().as_str(); "task skipped: {e}");
                Terminal::Skipped
            }
            TaskOutcome::FailedNoRetry => {
                log::error!(target: LOGGER, error = e.to_string().as_str(); "task failed (no retry): {e}");
                Terminal::Failed
            }
            TaskOutcome::Failed => {
                log::error!(target: LOGGER, error = e.to_string().as_str(); "task failed: {e}");
                failed(e.to_string())
            }
            TaskOutcome::RetryAfter(delay) => {
                log::error!(target: LOGGER, error = e.to_string().as_str(); "task failed: {e}");
                if should_retry {
                    log::info!(target: LOGGER, retry_delay_seconds = delay.as_secs_f64();
                        "the task will be retried in {:.1} s, as it asked", delay.as_secs_f64());
                    Terminal::RetryAfter(e.to_string(), delay)
                } else {
                    Terminal::Failed
                }
            }
            TaskOutcome::Removed => {
                log::warn!(target: LOGGER, reason = e.to_string().as_str(); "task removed: {e}");
                Terminal::Removed
            }
            // Only `TaskError::defer` and its siblings make these, always with a suspension
            // (taken as `Outcome::Suspended` above).
            TaskOutcome::Deferred | TaskOutcome::AwaitingInput | TaskOutcome::Rescheduled => {
                failed(e.to_string())
            }
        },
        Outcome::Suspended(e, rendered_map_index) => match e.suspension() {
            Some(suspend) => suspended(suspend, rendered_map_index),
            None => failed(e.to_string()),
        },
        Outcome::Panicked(message) => {
            log::error!(target: LOGGER, error = message.as_str(); "task failed: it panicked: {message}");
            failed(format!("panicked: {message}"))
        }
        Outcome::Abandoned(sig) => {
            log::error!(target: LOGGER, signal = sig;
                "task failed: it did not stop within {:.1} s of {sig}", TERM_GRACE.as_secs_f64());
            failed(format!("terminated by {sig}"))
        }
    }
}

/// The terminal state of a suspended task, logged.
fn suspended(suspend: &Suspend, rendered_map_index: Option<String>) -> Terminal {
    match suspend {
        Suspend::Defer(d) => {
            log::info!(target: LOGGER, trigger = d.trigger.classpath(), next_method = d.method.as_str();
                "task deferred to {}; it resumes in {}", d.trigger.classpath(), d.method);
            Terminal::Deferred(Box::new(DeferTask {
                classpath: d.trigger.classpath().to_owned(),
                trigger_kwargs: d.trigger.kwargs().clone(),
                trigger_timeout: d.timeout.map(iso_duration),
                next_method: d.method.clone(),
                next_kwargs: d.kwargs.clone(),
                rendered_map_index,
            }))
        }
        Suspend::AwaitInput {
            method,
            kwargs,
            timeout,
        } => {
            log::info!(target: LOGGER, next_method = method.as_str();
                "task awaiting input; it resumes in {method}");
            Terminal::AwaitingInput(Box::new(AwaitInputTask {
                timeout: timeout.map(iso_duration),
                next_method: method.clone(),
                next_kwargs: kwargs.clone(),
                rendered_map_index,
            }))
        }
        Suspend::Reschedule(at) => {
            let at = format_time(*at);
            log::info!(target: LOGGER, reschedule_date = at.as_str();
                "task rescheduled: it runs again at {at}");
            Terminal::Rescheduled(at)
        }
    }
}

/// The terminal message for `terminal`, ended now; a success carries what the task produced.
pub(crate) fn terminal_message(terminal: &Terminal, produced: Outlets) -> ToSupervisor {
    let mut message = terminal.message(super::messages::now());
    if let ToSupervisor::SucceedTask(m) = &mut message {
        (m.task_outlets, m.outlet_events, m.rendered_map_index) = produced;
    }
    message
}
